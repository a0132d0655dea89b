import { expect } from "chai";
import { createHash } from "node:crypto";
import { canonicalJson } from "../shared/canonical-json.ts";
import { resolveSidecar, type ResolvedSidecar } from "./resolve.ts";
import { builtInSidecarDefaults } from "./defaults.ts";
import { hashOfResolvedSidecar } from "./fingerprint.ts";

function settingsOf(annotations: Record<string, string>): ResolvedSidecar {
  const r = resolveSidecar({ "dapr.io/enabled": "true", ...annotations }, "web", builtInSidecarDefaults);
  if (!r.ok) throw new Error(`expected a sidecar, got ${r.reason}`);
  return r.sidecar;
}

/** The definition, without the memo. */
function expectedHash(s: ResolvedSidecar): string {
  const { image: _image, ...rest } = s;
  return createHash("sha256").update(canonicalJson(rest)).digest("hex").slice(0, 16);
}

describe("hashOfResolvedSidecar", () => {
  it("is the SHA-256 of the canonical settings without the image, first and repeated calls alike", () => {
    const s = settingsOf({});
    expect(hashOfResolvedSidecar(s)).to.equal(expectedHash(s));
    expect(hashOfResolvedSidecar(s)).to.equal(expectedHash(s));
    expect(hashOfResolvedSidecar({ ...s, image: "other:1" })).to.equal(expectedHash(s));
  });

  it("does not depend on key order", () => {
    const s = settingsOf({ "dapr.io/app-port": "8080" });
    const reversed = Object.fromEntries(Object.entries(s).reverse()) as unknown as ResolvedSidecar;
    expect(hashOfResolvedSidecar(reversed)).to.equal(hashOfResolvedSidecar(s));
  });

  it("stays right for a thousand different settings, past the memo's bound", () => {
    const all = Array.from({ length: 1000 }, (_, i) => settingsOf({ "dapr.io/app-port": String(1000 + i) }));
    const first = all.map(hashOfResolvedSidecar);
    expect(new Set(first).size).to.equal(1000);
    all.forEach((s, i) => expect(hashOfResolvedSidecar(s), `settings ${i}`).to.equal(expectedHash(s)));
    expect(all.map(hashOfResolvedSidecar)).to.deep.equal(first);
  });
});
