import type { KubernetesObject } from "@kubernetes/client-node";
import { expect } from "chai";
import { AppResults, type ResourceRef } from "./app-results.ts";
import { PodFindings } from "./pod-findings.ts";
import { fakeEvents, fakeHttp, silentLog } from "./reconcile.testing.ts";
import { podDeleter, reconcileUninjectedPods, type DeleteOutcome } from "./reconcile-uninjected-pods.ts";
import { DeletionBudget, uninjectedPod, type PodMetadata, type UninjectedPod } from "./uninjected-pods.ts";

const NS = "shop";

function pod(name: string, owned = true): PodMetadata & KubernetesObject {
  return {
    kind: "PartialObjectMetadata",
    metadata: {
      name,
      namespace: NS,
      uid: `uid-${name}`,
      annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "orders" },
      ...(owned
        ? {
            ownerReferences: [
              { apiVersion: "apps/v1", kind: "ReplicaSet", name: "orders-5d", uid: "rs", controller: true },
            ],
          }
        : {}),
    },
  };
}

function setUp(deletesPerMinute?: number) {
  const findings = new PodFindings<PodMetadata & KubernetesObject, UninjectedPod>((p) =>
    uninjectedPod(p, new Set(["kube-system"])),
  );
  const results = new AppResults();
  results.set(NS, `${NS}/orders`, {
    components: [{ name: "store" } as never],
    configuration: { name: "tracing" } as never,
  });
  const events = fakeEvents();
  const requeued: ResourceRef[] = [];
  const deleted: string[] = [];
  let now = 0;
  const deletion = deletesPerMinute
    ? {
        budget: new DeletionBudget(deletesPerMinute),
        now: () => now,
        deletePod: async (p: UninjectedPod): Promise<DeleteOutcome> => (deleted.push(p.pod), "deleted"),
        onDeleted: () => undefined,
      }
    : undefined;
  return {
    findings,
    events,
    requeued,
    deleted,
    advance: (ms: number) => (now += ms),
    io: {
      findings,
      results,
      events,
      requeueStatus: (r: ResourceRef[]) => requeued.push(...r),
      ...(deletion ? { deletion } : {}),
    },
  };
}

describe("uninjected-pods reconciler", () => {
  it("records a SidecarMissing Event per pod, requeues the status of what the app uses, and clears it when the pod goes", async () => {
    const t = setUp();
    t.findings.observe(pod("orders-1"));
    t.findings.observe(pod("orders-2"));
    const result = await reconcileUninjectedPods(`${NS}/orders`, t.io, silentLog);
    expect(result).to.equal(undefined);
    expect(t.events.events.map((e) => `${e.involved.name} ${e.type} ${e.reason}`)).to.deep.equal([
      "orders-1 Warning SidecarMissing",
      "orders-2 Warning SidecarMissing",
    ]);
    expect(t.requeued).to.deep.equal([
      { kind: "Component", namespace: NS, name: "store" },
      { kind: "Configuration", namespace: NS, name: "tracing" },
    ]);
    // Nothing new: no status work.
    t.requeued.length = 0;
    await reconcileUninjectedPods(`${NS}/orders`, t.io, silentLog);
    expect(t.requeued).to.deep.equal([]);
    // Both pods gone: status is computed again, and nothing is remembered for the app.
    t.findings.observe(pod("orders-1"), true);
    t.findings.observe(pod("orders-2"), true);
    await reconcileUninjectedPods(`${NS}/orders`, t.io, silentLog);
    expect(t.requeued).to.have.length(2);
    expect(t.findings.size()).to.equal(0);
    expect(t.findings.remembered()).to.equal(0);
  });

  it("deletes nothing unless deletion is on", async () => {
    const t = setUp();
    t.findings.observe(pod("orders-1"));
    await reconcileUninjectedPods(`${NS}/orders`, t.io, silentLog);
    expect(t.deleted).to.deep.equal([]);
  });

  it("deletes owned pods within the rate limit, and comes back when the budget allows", async () => {
    const t = setUp(2);
    for (const name of ["orders-1", "orders-2", "orders-3"]) t.findings.observe(pod(name));
    t.findings.observe(pod("orders-bare", false));
    const first = await reconcileUninjectedPods(`${NS}/orders`, t.io, silentLog);
    expect(t.deleted).to.deep.equal(["orders-1", "orders-2"]);
    expect(first).to.deep.equal({ requeueAfterMs: 30_000 });
    expect(t.events.events.filter((e) => e.type === "Normal").map((e) => e.message)).to.deep.equal([
      "deleted pod shop/orders-1, which has no daprd sidecar, so that its owner recreates it through the webhook",
      "deleted pod shop/orders-2, which has no daprd sidecar, so that its owner recreates it through the webhook",
    ]);
    t.findings.observe(pod("orders-1"), true);
    t.findings.observe(pod("orders-2"), true);
    t.advance(30_000);
    expect(await reconcileUninjectedPods(`${NS}/orders`, t.io, silentLog)).to.equal(undefined);
    // A pod without a controlling owner would not come back: it is reported, never deleted.
    expect(t.deleted).to.deep.equal(["orders-1", "orders-2", "orders-3"]);
  });
});

describe("podDeleter", () => {
  const found = uninjectedPod(pod("orders-1"), new Set())!;

  it("deletes the pod with a uid precondition after reading it whole", async () => {
    const api = fakeHttp();
    const getOnly = {
      ...api.http,
      json: async <T>(req: Parameters<typeof api.http.json>[0]): Promise<T> => {
        const out = await api.http.json<T>(req);
        return (req.method ?? "GET") === "GET"
          ? ({ metadata: { uid: "uid-orders-1" }, spec: { containers: [{ name: "app" }] } } as T)
          : out;
      },
    };
    expect(await podDeleter(getOnly)(found)).to.equal("deleted");
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      "GET /api/v1/namespaces/shop/pods/orders-1",
      "DELETE /api/v1/namespaces/shop/pods/orders-1",
    ]);
    expect(api.requests[1]?.body).to.deep.include({ preconditions: { uid: "uid-orders-1" } });
  });

  it("leaves a pod alone that carries its own daprd, or that is another pod by now", async () => {
    const answer = (body: unknown) => ({
      json: async <T>(): Promise<T> => body as T,
      chunks: async <T>(): Promise<T> => {
        throw new Error("no streams here");
      },
    });
    const withDaprd = { metadata: { uid: "uid-orders-1" }, spec: { containers: [{ name: "daprd" }] } };
    expect(await podDeleter(answer(withDaprd))(found)).to.equal("has-sidecar");
    expect(await podDeleter(answer({ metadata: { uid: "new" }, spec: { containers: [] } }))(found)).to.equal(
      "gone",
    );
    expect(await podDeleter(fakeHttp(() => 404).http)(found)).to.equal("gone");
  });
});
