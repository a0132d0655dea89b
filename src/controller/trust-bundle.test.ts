import type { V1ConfigMap, V1Pod } from "@kubernetes/client-node";
import { expect } from "chai";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import { TRUST_ANCHORS_ANNOTATION, anchorFingerprints } from "../sidecar/trust-anchors.ts";
import { StaleSidecarTracker } from "./stale-sidecar-tracker.ts";
import { staleSidecar } from "./stale-sidecars.ts";
import { currentInjectedPod } from "./stale-sidecars.testing.ts";
import { trimmedPod } from "./trim.ts";
import { trustBundleOf, type TrustBundle } from "./trust-bundle.ts";

/** A PEM block around arbitrary bytes: fingerprints hash the DER, they do not parse it. */
const pem = (bytes: string) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(bytes).toString("base64")}\n-----END CERTIFICATE-----\n`;
const [OLD, NEXT] = [pem("old root"), pem("successor root")];
const fp = (p: string) => anchorFingerprints(p)[0]!;

const bundle = (...roots: string[]): V1ConfigMap => ({
  metadata: { name: "outrigger-trust-bundle", namespace: "outrigger-system" },
  data: { "ca.crt": roots.join("") },
});

/** A current injected pod of app orders, admitted with `anchors` (undefined: no record). */
const pod = (anchors?: string, metadata: Partial<NonNullable<V1Pod["metadata"]>> = {}): V1Pod =>
  currentInjectedPod(
    anchors === undefined ? {} : { [TRUST_ANCHORS_ANNOTATION]: anchors },
    { phase: "Running" },
    metadata,
  );

describe("trust bundle: pods a root rotation leaves behind", () => {
  it("fingerprints each certificate of a bundle in order, once, and reads nothing from a bundle without one", () => {
    expect(anchorFingerprints(OLD + NEXT + OLD)).to.deep.equal([fp(OLD), fp(NEXT)]);
    expect(fp(OLD)).to.match(/^[0-9a-f]{64}$/);
    expect(trustBundleOf(bundle(OLD, NEXT))).to.deep.equal({
      source: "outrigger-system/outrigger-trust-bundle",
      fingerprints: [fp(OLD), fp(NEXT)],
    });
    expect(trustBundleOf(bundle())).to.equal(undefined);
    expect(trustBundleOf(undefined)).to.equal(undefined);
  });

  it("makes a pod stale, reason trust-anchors, when the bundle holds a root its anchors lack", () => {
    const early = pod(fp(OLD));
    const stale = staleSidecar(early, builtInSidecarDefaults, undefined, trustBundleOf(bundle(OLD, NEXT)));
    expect(stale?.reasons).to.deep.equal(["trust-anchors"]);
    expect(stale?.message).to.contain(`lack root sha256:${fp(NEXT).slice(0, 16)} of the trust bundle`);
    expect(stale?.message).to.contain("outrigger-system/outrigger-trust-bundle");
    expect(stale?.message).to.contain("restart its workload");
    // The same pod before the successor was published, and a pod admitted after it: current.
    expect(staleSidecar(early, builtInSidecarDefaults, undefined, trustBundleOf(bundle(OLD)))).to.equal(
      undefined,
    );
    const late = pod(`${fp(OLD)},${fp(NEXT)}`);
    expect(staleSidecar(late, builtInSidecarDefaults, undefined, trustBundleOf(bundle(OLD, NEXT)))).to.equal(
      undefined,
    );
    // Once the old root is retired and gone from the bundle, the late pod stays current.
    expect(staleSidecar(late, builtInSidecarDefaults, undefined, trustBundleOf(bundle(NEXT)))).to.equal(
      undefined,
    );
  });

  it("claims nothing without a record of the pod's anchors, a readable one, or a bundle", () => {
    const b = trustBundleOf(bundle(OLD, NEXT));
    expect(staleSidecar(pod(), builtInSidecarDefaults, undefined, b)).to.equal(undefined);
    expect(staleSidecar(pod("not-a-fingerprint"), builtInSidecarDefaults, undefined, b)).to.equal(undefined);
    expect(staleSidecar(pod(fp(OLD)), builtInSidecarDefaults, undefined, undefined)).to.equal(undefined);
    // Terminating pods do not count, as for every other reason.
    const leaving = pod(fp(OLD), { deletionTimestamp: new Date() });
    expect(staleSidecar(leaving, builtInSidecarDefaults, undefined, b)).to.equal(undefined);
  });

  it("the tracker judges pods against the bundle it is given now, and the record survives trimming", () => {
    let current: TrustBundle | undefined = trustBundleOf(bundle(OLD));
    const tracker = new StaleSidecarTracker(builtInSidecarDefaults, undefined, () => current);
    const early = trimmedPod(pod(fp(OLD)));
    tracker.observe(early);
    expect(tracker.size()).to.equal(0);
    current = trustBundleOf(bundle(OLD, NEXT));
    tracker.observe(early);
    expect(tracker.staleOf("shop", new Set(["orders"])).map((s) => s.reasons)).to.deep.equal([
      ["trust-anchors"],
    ]);
    // Recreated: admitted with both roots.
    tracker.observe(trimmedPod(pod(`${fp(OLD)},${fp(NEXT)}`)));
    expect(tracker.size()).to.equal(0);
  });
});
