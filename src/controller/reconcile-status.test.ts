import type { KubernetesObject } from "@kubernetes/client-node";
import { expect } from "chai";
import type { Component, Configuration, ResourceStatus } from "../apis/types.ts";
import { AppResults } from "./app-results.ts";
import { cachesOf } from "./caches.ts";
import { fakeWriter, silentLog } from "./reconcile.testing.ts";
import { renderSidecarConfig } from "./reconcile-sidecar-config.ts";
import {
  componentStatusSpec,
  configurationStatusSpec,
  deliveredStatusSpec,
  desiredStatus,
  reconcileStatus,
  type StatusIO,
} from "./reconcile-status.ts";
import { appsIn } from "./caches.ts";
import type { DeliveredResource } from "./delivered-kinds.ts";
import type { StaleSidecar } from "./stale-sidecars.ts";
import type { UninjectedPod } from "./uninjected-pods.ts";

const NS = "shop";
const NOW = new Date("2026-03-01T12:00:00Z");
const pod = (appId: string, config?: string) =>
  ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${appId}-1`,
      namespace: NS,
      annotations: {
        "dapr.io/enabled": "true",
        "dapr.io/app-id": appId,
        ...(config ? { "dapr.io/config": config } : {}),
      },
    },
    spec: { containers: [{ name: "app" }] },
    status: { phase: "Running" },
  }) as KubernetesObject;
const store: Component = {
  apiVersion: "dapr.io/v1alpha1",
  kind: "Component",
  metadata: { name: "store", namespace: NS, generation: 3 },
  spec: { type: "state.in-memory", version: "v1", metadata: [] },
};
const tracing: Configuration = {
  apiVersion: "dapr.io/v1alpha1",
  kind: "Configuration",
  metadata: { name: "tracing", namespace: NS, generation: 1 },
  spec: {},
};

/** Caches and the results the sidecar-config reconciler would have recorded for them. */
function world(objects: KubernetesObject[], stale: StaleSidecar[] = [], uninjected: UninjectedPod[] = []) {
  const caches = cachesOf(objects);
  const results = new AppResults();
  for (const app of appsIn(caches, NS).apps) {
    const { config } = renderSidecarConfig(app, caches);
    results.set(NS, `${NS}/${app.appId}`, {
      components: config.components,
      configuration: config.configuration,
      resources: config.resources,
    });
  }
  const f = fakeWriter();
  const staleOf = (namespace: string, appIds: ReadonlySet<string>) =>
    stale.filter((s) => s.namespace === namespace && appIds.has(s.appId));
  const uninjectedOf = (namespace: string, appIds: ReadonlySet<string>) =>
    uninjected.filter((s) => s.namespace === namespace && appIds.has(s.appId));
  const io = <T extends Component | Configuration | DeliveredResource>(
    cache: StatusIO<T>["cache"],
  ): StatusIO<T> => ({
    cache,
    secrets: caches.secrets,
    results,
    staleOf,
    uninjectedOf,
    writer: f.writer,
    now: () => NOW,
  });
  return { caches, results, staleOf, uninjectedOf, io, ...f };
}

describe("status reconcilers", () => {
  it("patch a Component's status with what the pure desiredStatus gives, once", async () => {
    const w = world([pod("orders"), pod("cart"), store as KubernetesObject]);
    await reconcileStatus(componentStatusSpec, `${NS}/store`, w.io(w.caches.components), silentLog);
    await reconcileStatus(componentStatusSpec, `${NS}/store`, w.io(w.caches.components), silentLog);
    const writes = w.api.writes();
    expect(writes.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      `PATCH /apis/dapr.io/v1alpha1/namespaces/${NS}/components/store/status`,
    ]);
    const expected = desiredStatus(
      componentStatusSpec,
      store,
      w.results.inNamespace(NS),
      { stale: (ids) => w.staleOf(NS, ids), uninjected: (ids) => w.uninjectedOf(NS, ids) },
      NOW,
      () => undefined,
    );
    expect(writes[0]?.body).to.deep.equal({ status: expected });
    expect(expected.appCount).to.equal(2);
    expect(expected.observedGeneration).to.equal(3);
    expect(expected.conditions?.map((c) => `${c.type}=${c.status}`)).to.deep.equal([
      "Ready=True",
      "SidecarsCurrent=True",
      "SidecarsInjected=True",
    ]);
    expect(expected.uninjectedPods).to.equal(0);
  });

  it("write nothing when the status already says it", async () => {
    const w = world([pod("orders"), store as KubernetesObject]);
    const status: ResourceStatus = desiredStatus(
      componentStatusSpec,
      store,
      w.results.inNamespace(NS),
      { stale: () => [], uninjected: () => [] },
      NOW,
      () => undefined,
    );
    const current = world([pod("orders"), { ...store, status } as KubernetesObject]);
    await reconcileStatus(
      componentStatusSpec,
      `${NS}/store`,
      current.io(current.caches.components),
      silentLog,
    );
    expect(current.api.writes()).to.deep.equal([]);
  });

  it("count the stale sidecars of the apps a Configuration reaches", async () => {
    const stale: StaleSidecar[] = [
      { namespace: NS, pod: "orders-1", appId: "orders", reasons: ["image"], message: "stale" },
      { namespace: NS, pod: "cart-1", appId: "cart", reasons: ["image"], message: "stale" },
    ];
    const w = world([pod("orders", "tracing"), pod("cart"), tracing as KubernetesObject], stale);
    await reconcileStatus(
      configurationStatusSpec(false),
      `${NS}/tracing`,
      w.io(w.caches.configurations),
      silentLog,
    );
    const status = (w.api.writes()[0]?.body as { status: ResourceStatus }).status;
    expect(status.staleSidecars).to.equal(1);
    expect(status.conditions?.find((c) => c.type === "SidecarsCurrent")?.status).to.equal("False");
  });

  it("count the un-injected pods of the apps a Component reaches, and clear them when they go", async () => {
    const missing: UninjectedPod = {
      namespace: NS,
      pod: "cart-1",
      appId: "cart",
      uid: "u1",
      reason: "webhook-not-called",
      owned: false,
      message: "no sidecar",
    };
    const scoped = { ...store, scopes: ["cart"] } as KubernetesObject;
    const w = world([pod("orders"), pod("cart"), scoped], [], [missing]);
    await reconcileStatus(componentStatusSpec, `${NS}/store`, w.io(w.caches.components), silentLog);
    const status = (w.api.writes()[0]?.body as { status: ResourceStatus }).status;
    expect(status.uninjectedPods).to.equal(1);
    const injected = status.conditions?.find((c) => c.type === "SidecarsInjected");
    expect(injected).to.include({ status: "False", reason: "SidecarMissing" });
    expect(injected?.message).to.contain("cart-1");
    // The pod is gone: the count drops to 0 and the condition flips back.
    const after = world([pod("orders"), pod("cart"), { ...scoped, status } as KubernetesObject]);
    await reconcileStatus(componentStatusSpec, `${NS}/store`, after.io(after.caches.components), silentLog);
    const cleared = (after.api.writes()[0]?.body as { status: ResourceStatus }).status;
    expect(cleared.uninjectedPods).to.equal(0);
    expect(cleared.conditions?.find((c) => c.type === "SidecarsInjected")?.status).to.equal("True");
  });

  it("report an HTTPEndpoint delivered to the apps in its scopes, without stale-sidecar fields", async () => {
    const endpoint = {
      apiVersion: "dapr.io/v1alpha1",
      kind: "HTTPEndpoint",
      metadata: { name: "billing", namespace: NS, generation: 2 },
      scopes: ["orders"],
      spec: { baseUrl: "http://billing", headers: [{ name: "X", secretKeyRef: { name: "gone", key: "k" } }] },
    } as KubernetesObject;
    const stale: StaleSidecar[] = [
      { namespace: NS, pod: "orders-1", appId: "orders", reasons: ["image"], message: "stale" },
    ];
    const w = world([pod("orders"), pod("cart"), endpoint], stale);
    const spec = deliveredStatusSpec("HTTPEndpoint");
    await reconcileStatus(spec, `${NS}/billing`, w.io(w.caches.httpEndpoints as never), silentLog);
    const writes = w.api.writes();
    expect(writes.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      `PATCH /apis/dapr.io/v1alpha1/namespaces/${NS}/httpendpoints/billing/status`,
    ]);
    const status = (writes[0]?.body as { status: ResourceStatus }).status;
    expect(status.observedGeneration).to.equal(2);
    expect(status.appCount).to.equal(0);
    expect(status.staleSidecars).to.equal(undefined);
    expect(status.uninjectedPods).to.equal(undefined);
    expect(status.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`)).to.deep.equal([
      "Ready=False/SecretNotFound",
    ]);
    expect(status.conditions?.[0]?.message)
      .to.contain('Secret "gone" not found')
      .and.contain("1 app goes without it");
  });

  it("report a Subscription at the version the API server stores (v2alpha1)", async () => {
    const sub = {
      apiVersion: "dapr.io/v2alpha1",
      kind: "Subscription",
      metadata: { name: "orders", namespace: NS, generation: 1 },
      spec: { pubsubname: "pubsub", topic: "orders", routes: { default: "/orders" } },
    } as KubernetesObject;
    const w = world([pod("orders"), pod("cart"), sub]);
    await reconcileStatus(
      deliveredStatusSpec("Subscription"),
      `${NS}/orders`,
      w.io(w.caches.subscriptions as never),
      silentLog,
    );
    const [write] = w.api.writes();
    expect(write?.path).to.equal(`/apis/dapr.io/v2alpha1/namespaces/${NS}/subscriptions/orders/status`);
    const status = (write?.body as { status: ResourceStatus }).status;
    expect(status.appCount).to.equal(2);
    expect(status.conditions?.[0]?.reason).to.equal("Ready");
  });

  it("do nothing for a resource that is gone", async () => {
    const w = world([pod("orders")]);
    await reconcileStatus(componentStatusSpec, `${NS}/store`, w.io(w.caches.components), silentLog);
    expect(w.api.requests).to.deep.equal([]);
  });
});
