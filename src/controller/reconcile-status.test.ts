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
  desiredStatus,
  reconcileStatus,
  type StatusIO,
} from "./reconcile-status.ts";
import { appsIn } from "./caches.ts";
import type { StaleSidecar } from "./stale-sidecars.ts";

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
function world(objects: KubernetesObject[], stale: StaleSidecar[] = []) {
  const caches = cachesOf(objects);
  const results = new AppResults();
  for (const app of appsIn(caches, NS).apps) {
    const { config } = renderSidecarConfig(app, caches);
    results.set(NS, `${NS}/${app.appId}`, {
      components: config.components,
      configuration: config.configuration,
    });
  }
  const f = fakeWriter();
  const staleOf = (namespace: string, appIds: ReadonlySet<string>) =>
    stale.filter((s) => s.namespace === namespace && appIds.has(s.appId));
  const io = <T extends Component | Configuration>(cache: StatusIO<T>["cache"]): StatusIO<T> => ({
    cache,
    secrets: caches.secrets,
    results,
    staleOf,
    writer: f.writer,
    now: () => NOW,
  });
  return { caches, results, staleOf, io, ...f };
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
      (ids) => w.staleOf(NS, ids),
      NOW,
      () => undefined,
    );
    expect(writes[0]?.body).to.deep.equal({ status: expected });
    expect(expected.appCount).to.equal(2);
    expect(expected.observedGeneration).to.equal(3);
    expect(expected.conditions?.map((c) => `${c.type}=${c.status}`)).to.deep.equal([
      "Ready=True",
      "SidecarsCurrent=True",
    ]);
  });

  it("write nothing when the status already says it", async () => {
    const w = world([pod("orders"), store as KubernetesObject]);
    const status: ResourceStatus = desiredStatus(
      componentStatusSpec,
      store,
      w.results.inNamespace(NS),
      () => [],
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
    await reconcileStatus(configurationStatusSpec, `${NS}/tracing`, w.io(w.caches.configurations), silentLog);
    const status = (w.api.writes()[0]?.body as { status: ResourceStatus }).status;
    expect(status.staleSidecars).to.equal(1);
    expect(status.conditions?.find((c) => c.type === "SidecarsCurrent")?.status).to.equal("False");
  });

  it("do nothing for a resource that is gone", async () => {
    const w = world([pod("orders")]);
    await reconcileStatus(componentStatusSpec, `${NS}/store`, w.io(w.caches.components), silentLog);
    expect(w.api.requests).to.deep.equal([]);
  });
});
