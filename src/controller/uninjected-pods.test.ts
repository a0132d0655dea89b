import { expect } from "chai";
import {
  DeletionBudget,
  appIdAskedFor,
  detectionMetadata,
  uninjectedPod,
  withUninjectedPods,
  type PodMetadata,
} from "./uninjected-pods.ts";

const EXCLUDED = new Set(["kube-system", "outrigger-system"]);
const NOW = new Date("2026-03-01T12:00:00Z");

function pod(
  annotations: Record<string, string>,
  labels: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): PodMetadata {
  return {
    metadata: { name: "orders-1", namespace: "shop", uid: "u1", annotations, labels, ...extra },
  };
}

describe("uninjectedPod", () => {
  // | enabled annotation | sidecar-injected label | deleting | found            |
  // |--------------------|------------------------|----------|------------------|
  // | absent, false, bad | any                    | any      | no               |
  // | true               | present                | any      | no               |
  // | true               | absent                 | yes      | no               |
  // | true               | absent                 | no       | yes, with reason |
  const cases: Array<[string, PodMetadata, boolean]> = [
    ["no annotation", pod({}), false],
    ["enabled false", pod({ "dapr.io/enabled": "false" }), false],
    ["enabled not a boolean", pod({ "dapr.io/enabled": "maybe" }), false],
    ["injected", pod({ "dapr.io/enabled": "true" }, { "dapr.io/sidecar-injected": "true" }), false],
    [
      "being deleted",
      pod({ "dapr.io/enabled": "true" }, {}, { deletionTimestamp: new Date(0) as never }),
      false,
    ],
    ["enabled, not injected", pod({ "dapr.io/enabled": "true" }), true],
    ["enabled as 1 (Dapr's truthy forms)", pod({ "dapr.io/enabled": "1" }), true],
  ];
  for (const [name, p, found] of cases)
    it(`${found ? "finds" : "ignores"} a pod: ${name}`, () => {
      expect(uninjectedPod(p, EXCLUDED) !== undefined).to.equal(found);
    });

  it("names the app, the owner and a reason from a closed set", () => {
    const owned = pod(
      { "dapr.io/enabled": "true", "dapr.io/app-id": "orders" },
      {},
      {
        ownerReferences: [
          { kind: "ReplicaSet", name: "orders-5d", uid: "r", apiVersion: "apps/v1", controller: true },
        ],
      },
    );
    expect(uninjectedPod(owned, EXCLUDED)).to.deep.include({
      namespace: "shop",
      pod: "orders-1",
      appId: "orders",
      uid: "u1",
      reason: "webhook-not-called",
      owned: true,
    });
    expect(uninjectedPod(owned, EXCLUDED)?.message).to.match(
      /^pod shop\/orders-1 is annotated dapr.io\/enabled: "true" but has no daprd sidecar: the injector webhook was not called/,
    );
    const bare = { metadata: { ...pod({ "dapr.io/enabled": "true" }).metadata, namespace: "kube-system" } };
    expect(uninjectedPod(bare, EXCLUDED)).to.deep.include({
      appId: "orders-1",
      reason: "excluded-namespace",
      owned: false,
    });
    expect(uninjectedPod(bare, EXCLUDED)?.message).to.contain("the webhook never sees namespace kube-system");
  });

  it("maps a deleted pod to its app still, so that its count is cleared", () => {
    const gone = pod(
      { "dapr.io/enabled": "true", "dapr.io/app-id": "orders" },
      {},
      {
        deletionTimestamp: new Date(0) as never,
      },
    );
    expect(uninjectedPod(gone, EXCLUDED)).to.equal(undefined);
    expect(appIdAskedFor(gone)).to.equal("orders");
    expect(appIdAskedFor(pod({}))).to.equal(undefined);
  });

  it("keeps of the metadata only what it reads, and decides the same from it", () => {
    const full = pod(
      {
        "dapr.io/enabled": "true",
        "dapr.io/app-id": "orders",
        "dapr.io/app-port": "8080",
        "kubectl.kubernetes.io/last-applied-configuration": "{...}",
      },
      { app: "orders", "pod-template-hash": "5d" },
      {
        managedFields: [{ manager: "kube-controller-manager" }],
        ownerReferences: [
          { kind: "ReplicaSet", name: "orders-5d", uid: "r", apiVersion: "apps/v1", controller: true },
          { kind: "Other", name: "x", uid: "o", apiVersion: "v1" },
        ],
      },
    );
    const kept = detectionMetadata(full);
    // A pod that asks for a sidecar keeps its annotations (a bare one is an app), not kubectl's copy.
    expect(Object.keys(kept.metadata?.annotations ?? {})).to.deep.equal([
      "dapr.io/enabled",
      "dapr.io/app-id",
      "dapr.io/app-port",
    ]);
    expect(kept.metadata?.labels).to.deep.equal({});
    expect(kept.metadata?.managedFields).to.equal(undefined);
    expect(kept.metadata?.ownerReferences?.map((o) => o.kind)).to.deep.equal(["ReplicaSet"]);
    expect(uninjectedPod(kept, EXCLUDED)).to.deep.equal(uninjectedPod(full, EXCLUDED));
  });

  it("keeps next to nothing of a pod that does not ask for a sidecar", () => {
    const kept = detectionMetadata(
      pod({ "team.example/owner": "x".repeat(1000) }, { app: "web", tier: "front" }),
    );
    expect(kept.metadata?.annotations).to.deep.equal({});
    expect(kept.metadata?.labels).to.deep.equal({});
    expect(appIdAskedFor(kept)).to.equal(undefined);
  });
});

describe("withUninjectedPods", () => {
  const missing = (name: string) => ({
    namespace: "shop",
    pod: name,
    appId: "orders",
    uid: name,
    reason: "webhook-not-called" as const,
    owned: true,
    message: "m",
  });

  it("counts the pods and sets SidecarsInjected, keeping its transition time while it holds", () => {
    const some = withUninjectedPods(
      { observedGeneration: 2, conditions: [] },
      [missing("b"), missing("a")],
      NOW,
      undefined,
    );
    expect(some.uninjectedPods).to.equal(2);
    expect(some.conditions).to.deep.equal([
      {
        type: "SidecarsInjected",
        status: "False",
        reason: "SidecarMissing",
        message:
          "2 pods ask for a sidecar but have none (a, b); delete them so the webhook injects the new ones",
        observedGeneration: 2,
        lastTransitionTime: "2026-03-01T12:00:00Z",
      },
    ]);
    const later = new Date(NOW.getTime() + 60_000);
    const same = withUninjectedPods({ observedGeneration: 2 }, [missing("a"), missing("b")], later, some);
    expect(same.conditions?.[0]?.lastTransitionTime).to.equal("2026-03-01T12:00:00Z");
    const none = withUninjectedPods({ observedGeneration: 2 }, [], later, some);
    expect(none.uninjectedPods).to.equal(0);
    expect(none.conditions?.[0]).to.include({ status: "True", lastTransitionTime: "2026-03-01T12:01:00Z" });
  });
});

describe("DeletionBudget", () => {
  it("allows a burst of perMinute, then one every 60/perMinute seconds", () => {
    const b = new DeletionBudget(2);
    expect(b.take(0)).to.equal(0);
    expect(b.take(0)).to.equal(0);
    expect(b.take(0)).to.equal(30_000);
    expect(b.take(10_000)).to.equal(20_000);
    expect(b.take(30_000)).to.equal(0);
    expect(b.take(30_000)).to.equal(30_000);
    // Idle for long: the bucket refills to its size, not beyond.
    expect([b.take(600_000), b.take(600_000), b.take(600_000)]).to.deep.equal([0, 0, 30_000]);
  });
});
