import { expect } from "chai";
import { createHash } from "node:crypto";
import { canonicalJson } from "../shared/canonical-json.ts";
import { decide, type SidecarSettings } from "./decide.ts";
import { defaultInjectorSettings } from "./settings.ts";
import { hashOfSidecarSettings } from "./settings-hash.ts";

function settingsOf(annotations: Record<string, string>): SidecarSettings {
  const pod = {
    metadata: { name: "web", annotations: { "dapr.io/enabled": "true", ...annotations } },
    spec: { containers: [{ name: "app" }] },
  };
  const d = decide(pod, defaultInjectorSettings);
  if (d.kind !== "inject") throw new Error(`expected inject, got ${d.kind}`);
  return d.sidecar;
}

/** The definition, without the memo. */
function expectedHash(s: SidecarSettings): string {
  const { image: _image, ...rest } = s;
  return createHash("sha256").update(canonicalJson(rest)).digest("hex").slice(0, 16);
}

describe("hashOfSidecarSettings", () => {
  it("is the SHA-256 of the canonical settings without the image, first and repeated calls alike", () => {
    const s = settingsOf({});
    expect(hashOfSidecarSettings(s)).to.equal(expectedHash(s));
    expect(hashOfSidecarSettings(s)).to.equal(expectedHash(s));
    expect(hashOfSidecarSettings({ ...s, image: "other:1" })).to.equal(expectedHash(s));
  });

  it("does not depend on key order", () => {
    const s = settingsOf({ "dapr.io/app-port": "8080" });
    const reversed = Object.fromEntries(Object.entries(s).reverse()) as unknown as SidecarSettings;
    expect(hashOfSidecarSettings(reversed)).to.equal(hashOfSidecarSettings(s));
  });

  it("stays right for a thousand different settings, past the memo's bound", () => {
    const all = Array.from({ length: 1000 }, (_, i) => settingsOf({ "dapr.io/app-port": String(1000 + i) }));
    const first = all.map(hashOfSidecarSettings);
    expect(new Set(first).size).to.equal(1000);
    all.forEach((s, i) => expect(hashOfSidecarSettings(s), `settings ${i}`).to.equal(expectedHash(s)));
    expect(all.map(hashOfSidecarSettings)).to.deep.equal(first);
  });
});
