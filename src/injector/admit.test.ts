import { expect } from "chai";
import {
  ADMISSION_REASONS,
  admit,
  isPodCreate,
  type AdmissionOutcome,
  type AdmissionRequest,
} from "./admit.ts";
import { applyJsonPatch, type JsonPatchOp } from "./patch.ts";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import { goldenTrustAnchors } from "./golden-settings.testing.ts";

const settings = builtInSidecarDefaults;

function podCreate(object: unknown, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: "uid-1",
    kind: { group: "", version: "v1", kind: "Pod" },
    resource: { group: "", version: "v1", resource: "pods" },
    operation: "CREATE",
    object,
    ...extra,
  };
}

const enabledPod = {
  metadata: { name: "web", annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "web" } },
  spec: { containers: [{ name: "app", image: "busybox" }] },
};

function patchOf(outcome: AdmissionOutcome): JsonPatchOp[] {
  return JSON.parse(Buffer.from(outcome.response.patch ?? "", "base64").toString("utf8")) as JsonPatchOp[];
}

/** Every outcome the shell can get: the invariants its metrics and AdmissionReview rely on. */
function expectWellFormed(outcome: AdmissionOutcome, uid: string) {
  expect(outcome.response.uid).to.equal(uid);
  expect(ADMISSION_REASONS).to.include(outcome.reason);
  expect(["injected", "skipped", "denied"]).to.include(outcome.result);
  expect(outcome.response.allowed).to.equal(outcome.result !== "denied");
  if (outcome.result === "denied") {
    expect(outcome.response.status?.message).to.be.a("string").and.not.equal("");
    expect(outcome.response.status?.code).to.be.within(400, 599);
  }
  expect(outcome.response.patch !== undefined).to.equal(outcome.result === "injected");
  if (outcome.response.patch !== undefined) {
    expect(outcome.response.patchType).to.equal("JSONPatch");
    expect(patchOf(outcome)).to.be.an("array").with.length.greaterThan(0);
  }
  for (const w of outcome.response.warnings ?? []) expect(w).to.be.a("string");
  expect(() => JSON.stringify(outcome)).to.not.throw();
}

describe("admit", () => {
  it("injects an enabled pod with a patch that applies to it", () => {
    const outcome = admit(podCreate(enabledPod), settings, goldenTrustAnchors);
    expectWellFormed(outcome, "uid-1");
    expect(outcome).to.include({ result: "injected", reason: "injected", appId: "web" });
    const applied = applyJsonPatch(enabledPod, patchOf(outcome));
    expect(applied.ok).to.equal(true);
  });

  it("treats dry-run requests exactly like others", () => {
    const normal = admit(podCreate(enabledPod), settings, goldenTrustAnchors);
    const dry = admit(podCreate(enabledPod, { dryRun: true }), settings, goldenTrustAnchors);
    expect(dry).to.deep.equal(normal);
  });

  it("skips anything but a CREATE of pods", () => {
    const notCreate: Array<Partial<AdmissionRequest>> = [
      { operation: "UPDATE" },
      { operation: "DELETE" },
      { operation: "CONNECT" },
      { resource: { group: "", version: "v1", resource: "pods" }, subResource: "ephemeralcontainers" },
      { resource: { group: "", version: "v1", resource: "services" } },
      { resource: { group: "apps", version: "v1", resource: "pods" } },
      { resource: undefined, kind: { group: "", version: "v1", kind: "Service" } },
    ];
    for (const extra of notCreate) {
      const outcome = admit(podCreate(enabledPod, extra), settings, goldenTrustAnchors);
      expect(outcome, JSON.stringify(extra)).to.deep.equal({
        response: { uid: "uid-1", allowed: true },
        result: "skipped",
        reason: "not-pod-create",
      });
    }
    expect(isPodCreate(podCreate(enabledPod, { resource: undefined }))).to.equal(true);
  });

  it("denies with a 400 status whose message names the annotation", () => {
    const bad = structuredClone(enabledPod);
    (bad.metadata.annotations as Record<string, string>)["dapr.io/app-port"] = "http";
    const outcome = admit(podCreate(bad), settings, goldenTrustAnchors);
    expectWellFormed(outcome, "uid-1");
    expect(outcome.response.status).to.deep.equal({
      code: 400,
      message: 'dapr.io/app-port: "http" is not a port number (1-65535)',
      reason: "BadRequest",
    });
    expect(outcome.reason).to.equal("invalid-annotation");
  });

  it("passes warnings on, bounded in number and length", () => {
    const noisy = structuredClone(enabledPod);
    const annotations = noisy.metadata.annotations as Record<string, string>;
    for (let i = 0; i < 30; i++) annotations[`dapr.io/unknown-${"x".repeat(300)}-${i}`] = "1";
    const outcome = admit(podCreate(noisy), settings, goldenTrustAnchors);
    expect(outcome.result).to.equal("injected");
    const warnings = outcome.response.warnings ?? [];
    expect(warnings).to.have.length(21);
    expect(warnings.every((w) => w.length <= 240)).to.equal(true);
    expect(warnings[20]).to.equal("10 more dapr.io annotation warnings left out");
  });

  it("never throws and always answers well-formed, whatever the request holds", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const atoms: unknown[] = [
      null,
      undefined,
      0,
      -1,
      1e308,
      "",
      "x",
      "true",
      "daprd",
      true,
      [],
      {},
      [null],
      { name: 1 },
    ];
    // Cloned, so no two places of one pod share (and cyclically grow) the same object.
    const pick = <T>(xs: readonly T[]): T => structuredClone(xs[Math.floor(random() * xs.length)] as T);
    const paths = [
      ["metadata"],
      ["metadata", "name"],
      ["metadata", "generateName"],
      ["metadata", "labels"],
      ["metadata", "annotations"],
      ["metadata", "annotations", "dapr.io/enabled"],
      ["metadata", "annotations", "dapr.io/app-id"],
      ["metadata", "annotations", "dapr.io/volume-mounts"],
      ["metadata", "annotations", "dapr.io/unix-domain-socket-path"],
      ["spec"],
      ["spec", "containers"],
      ["spec", "containers", "0"],
      ["spec", "containers", "0", "env"],
      ["spec", "containers", "0", "volumeMounts"],
      ["spec", "containers", "0", "name"],
      ["spec", "initContainers"],
      ["spec", "volumes"],
    ];
    const annotationValues = ["true", "TRUE", "no", "v:/v", "/s", "web", "Web", "8080", "x".repeat(70), ""];
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const pod = structuredClone(enabledPod) as Record<string, unknown>;
      (pod.metadata as { annotations: Record<string, string> }).annotations["dapr.io/volume-mounts"] =
        random() < 0.5 ? "v:/v" : "";
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const path = pick(paths);
        let node: unknown = pod;
        for (const key of path.slice(0, -1)) {
          if (node === null || typeof node !== "object") break;
          node = (node as Record<string, unknown>)[key];
        }
        if (node !== null && typeof node === "object") {
          const last = path[path.length - 1] as string;
          (node as Record<string, unknown>)[last] =
            path[1] === "annotations" && random() < 0.7 ? pick(annotationValues) : pick(atoms);
        }
      }
      const request = podCreate(
        random() < 0.05 ? pick(atoms) : pod,
        random() < 0.1 ? { operation: pick(atoms) as string } : {},
      );
      let outcome: AdmissionOutcome | undefined;
      expect(
        () => (outcome = admit(request, settings, goldenTrustAnchors)),
        JSON.stringify(request),
      ).to.not.throw();
      if (outcome) {
        expectWellFormed(outcome, "uid-1");
        seen.add(outcome.reason);
        expect(outcome.reason, JSON.stringify(request)).to.not.equal("internal-error");
        if (outcome.result === "injected") {
          const applied = applyJsonPatch(request.object, patchOf(outcome));
          expect(applied.ok, JSON.stringify(request)).to.equal(true);
        }
      }
    }
    // The mutations reach every branch, not just the first check.
    expect([...seen].sort()).to.include.members([
      "already-injected",
      "injected",
      "invalid-annotation",
      "invalid-object",
      "missing-volume",
      "not-enabled",
      "not-pod-create",
    ]);
  });
});
