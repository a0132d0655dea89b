// A contract test: the controller's stale-sidecar check against pods the real injector admitted, so
// the two processes cannot drift apart. It imports both, which only tests under test/ may.
import type { V1Pod } from "@kubernetes/client-node";
import { expect } from "chai";
import { admit } from "../../src/injector/admit.ts";
import { applyJsonPatch, type JsonPatchOp } from "../../src/injector/patch.ts";
import { builtInSidecarDefaults, type SidecarDefaults } from "../../src/sidecar/defaults.ts";
import { goldenTrustAnchors } from "../../src/injector/golden-settings.testing.ts";
import { SIDECAR_STATUS_ANNOTATION } from "../../src/sidecar/status.ts";
import {
  SIDECARS_CURRENT_CONDITION,
  staleSidecar,
  withStaleSidecars,
} from "../../src/controller/stale-sidecars.ts";
import { injectedSidecarStatus } from "../../src/sidecar/status.ts";

/** A pod as the real injector leaves it under `settings`. */
function injectedUnder(settings: SidecarDefaults, annotations: Record<string, string> = {}): V1Pod {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "orders-1",
      namespace: "shop",
      annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "orders", ...annotations },
    },
    spec: { containers: [{ name: "app", image: "example/app:1" }] },
  };
  const outcome = admit(
    {
      uid: "u1",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      operation: "CREATE",
      namespace: "shop",
      object: pod,
    },
    settings,
    goldenTrustAnchors,
  );
  expect(outcome.result).to.equal("injected");
  const ops = JSON.parse(Buffer.from(outcome.response.patch ?? "", "base64").toString()) as JsonPatchOp[];
  const applied = applyJsonPatch(pod, ops);
  if (!applied.ok) throw new Error(applied.message);
  return { ...(applied.document as V1Pod), status: { phase: "Running" } };
}

describe("stale sidecars", function () {
  const newer: SidecarDefaults = { ...builtInSidecarDefaults, sidecarImage: "ghcr.io/dapr/daprd:9.9.9" };

  it("reads the injector's status annotation", function () {
    const pod = injectedUnder(builtInSidecarDefaults);
    expect(injectedSidecarStatus(pod)?.image).to.equal(builtInSidecarDefaults.sidecarImage);
    expect(
      injectedSidecarStatus({ metadata: { annotations: { [SIDECAR_STATUS_ANNOTATION]: "{not json" } } }),
    ).to.equal(undefined);
    expect(injectedSidecarStatus({ metadata: {} })).to.equal(undefined);
  });

  it("finds nothing stale under the settings the pod was injected with", function () {
    expect(staleSidecar(injectedUnder(builtInSidecarDefaults), builtInSidecarDefaults)).to.equal(undefined);
    const custom = injectedUnder(builtInSidecarDefaults, { "dapr.io/log-level": "debug" });
    expect(staleSidecar(custom, builtInSidecarDefaults)).to.equal(undefined);
  });

  it("reports a new image", function () {
    const s = staleSidecar(injectedUnder(builtInSidecarDefaults), newer);
    expect(s?.reasons).to.deep.equal(["image"]);
    expect(s?.appId).to.equal("orders");
    expect(s?.message).to.contain("shop/orders-1").and.contain("ghcr.io/dapr/daprd:9.9.9");
  });

  it("reports changed settings, but not when the pod's own annotation overrides them", function () {
    const debugDefault: SidecarDefaults = { ...builtInSidecarDefaults, logLevel: "debug" };
    expect(staleSidecar(injectedUnder(builtInSidecarDefaults), debugDefault)?.reasons).to.deep.equal([
      "settings",
    ]);
    const pinned = injectedUnder(builtInSidecarDefaults, { "dapr.io/log-level": "warn" });
    expect(staleSidecar(pinned, debugDefault)).to.equal(undefined);
    // An image pinned by annotation does not go stale when the injector's default image moves.
    const pinnedImage = injectedUnder(builtInSidecarDefaults, {
      "dapr.io/sidecar-image": "example/daprd:1",
    });
    expect(staleSidecar(pinnedImage, newer)).to.equal(undefined);
  });

  it("ignores finished and terminating pods", function () {
    const done = { ...injectedUnder(builtInSidecarDefaults), status: { phase: "Succeeded" } };
    expect(staleSidecar(done, newer)).to.equal(undefined);
    const going = injectedUnder(builtInSidecarDefaults);
    going.metadata!.deletionTimestamp = new Date();
    expect(staleSidecar(going, newer)).to.equal(undefined);
  });

  it("adds the count and a SidecarsCurrent condition whose transition time moves only on a flip", function () {
    const t0 = new Date("2026-01-01T00:00:00Z");
    const t1 = new Date("2026-01-02T00:00:00Z");
    const base = { observedGeneration: 3, appCount: 1, conditions: [] };
    const stale = [staleSidecar(injectedUnder(builtInSidecarDefaults), newer)!];
    const first = withStaleSidecars(base, stale, t0, undefined);
    expect(first.staleSidecars).to.equal(1);
    const cond = first.conditions?.find((c) => c.type === SIDECARS_CURRENT_CONDITION);
    expect(cond?.status).to.equal("False");
    expect(cond?.reason).to.equal("StaleSidecar");
    expect(cond?.message).to.contain("orders-1");
    const again = withStaleSidecars(base, stale, t1, first);
    expect(again.conditions?.[0]?.lastTransitionTime).to.equal("2026-01-01T00:00:00Z");
    const fixed = withStaleSidecars(base, [], t1, again);
    expect(fixed.staleSidecars).to.equal(0);
    expect(fixed.conditions?.[0]?.status).to.equal("True");
    expect(fixed.conditions?.[0]?.lastTransitionTime).to.equal("2026-01-02T00:00:00Z");
  });
});
