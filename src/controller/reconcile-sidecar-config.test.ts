import type { KubernetesObject, V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import type { Component } from "../apis/types.ts";
import { MANAGED_BY_LABEL } from "../sidecar/config-secret.ts";
import { AppResults, type ResourceRef } from "./app-results.ts";
import { appsIn, cachesOf } from "./caches.ts";
import { fakeWriter, silentLog } from "./reconcile.testing.ts";
import { reconcileSidecarConfig, renderSidecarConfig } from "./reconcile-sidecar-config.ts";
import { renderMemo } from "./render-memo.ts";

const NS = "shop";
const pod = (name: string, appId = "orders"): KubernetesObject =>
  ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: NS,
      annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": appId },
    },
    spec: { containers: [{ name: "app" }] },
    status: { phase: "Running" },
  }) as KubernetesObject;
const component = (name: string): Component => ({
  apiVersion: "dapr.io/v1alpha1",
  kind: "Component",
  metadata: { name, namespace: NS, generation: 1 },
  spec: { type: "state.in-memory", version: "v1", metadata: [] },
});

function setUp(objects: KubernetesObject[], fail?: Parameters<typeof fakeWriter>[0]) {
  const caches = cachesOf(objects);
  const results = new AppResults();
  const { writer, api, events } = fakeWriter(fail);
  const changed: ResourceRef[] = [];
  const io = {
    caches,
    results,
    writer,
    events,
    memo: renderMemo(),
    onResultsChanged: (c: ResourceRef[]) => changed.push(...c),
    now: () => new Date("2026-12-01T12:00:00.000Z"),
  };
  return { io, caches, results, api, events, changed };
}

describe("sidecar-config reconciler", () => {
  it("creates the app's Secret, records its results and names the resources whose status changed", async () => {
    const t = setUp([pod("orders-1"), component("store")]);
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    const writes = t.api.writes();
    expect(writes.map((w) => `${w.method} ${w.path}`)).to.deep.equal([
      `POST /api/v1/namespaces/${NS}/secrets`,
    ]);
    // The Secret written is the one the pure rendering gives (the golden cases call it too).
    const [app] = appsIn(t.caches, NS).apps;
    const { secret } = renderSidecarConfig(app!, t.caches);
    expect((writes[0]?.body as V1Secret).data).to.deep.equal(secret.data);
    expect(t.results.get(`${NS}/orders`)?.components.map((c) => c.name)).to.deep.equal(["store"]);
    expect(t.changed).to.deep.include({ kind: "Component", namespace: NS, name: "store" });
  });

  it("writes nothing again until the cache has caught up, and nothing when the cache holds it", async () => {
    const t = setUp([pod("orders-1"), component("store")]);
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    expect(t.api.writes()).to.have.length(1);
    // The watch delivers our Secret: the cache holds it now, and it is current.
    const written = t.api.writes()[0]?.body as V1Secret;
    const stored = { ...written, metadata: { ...written.metadata, resourceVersion: "101", uid: "u1" } };
    (t.caches.secrets as unknown as { upsert(o: V1Secret): void }).upsert(stored);
    t.io.writer.observe({ kind: "Secret", namespace: NS, name: written.metadata?.name ?? "" }, "101");
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    expect(t.api.writes()).to.have.length(1);
  });

  it("leaves a Secret that is not ours alone and reports the conflict", async () => {
    const foreign: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "orders-dapr-sidecar",
        namespace: NS,
        labels: { [MANAGED_BY_LABEL]: "someone-else" },
      },
    };
    const t = setUp([pod("orders-1"), foreign as KubernetesObject]);
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    expect(t.api.writes()).to.deep.equal([]);
    expect(t.events.events.map((e) => e.reason)).to.deep.equal(["ConflictingObject"]);
  });

  it("reports AlreadyExists on create as a conflict, not an error", async () => {
    const t = setUp([pod("orders-1")], (req) => (req.method === "POST" ? 409 : undefined));
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    expect(t.events.events.map((e) => e.reason)).to.deep.equal(["ConflictingObject"]);
  });

  it("deletes the Secret of an app that is gone, only by its uid, and forgets its results", async () => {
    const t = setUp([pod("orders-1"), component("store")]);
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    const written = t.api.writes()[0]?.body as V1Secret;
    (t.caches.pods as unknown as { remove(k: string): void }).remove(`${NS}/orders-1`);
    (t.caches.secrets as unknown as { upsert(o: V1Secret): void }).upsert({
      ...written,
      metadata: { ...written.metadata, uid: "u-1" },
    });
    t.changed.length = 0;
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    const last = t.api.writes().at(-1);
    expect(`${last?.method} ${last?.path}`).to.equal(
      `DELETE /api/v1/namespaces/${NS}/secrets/orders-dapr-sidecar`,
    );
    expect(last?.body).to.deep.include({ preconditions: { uid: "u-1" } });
    expect(t.results.get(`${NS}/orders`)).to.equal(undefined);
    expect(t.results.size()).to.equal(0);
    expect(t.changed).to.deep.include({ kind: "Component", namespace: NS, name: "store" });
  });

  it("reports a workload that cannot be an app as an Event", async () => {
    const t = setUp([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: NS },
        spec: {
          selector: { matchLabels: { app: "web" } },
          template: { metadata: { labels: { app: "web" }, annotations: { "dapr.io/enabled": "true" } } },
        },
      } as KubernetesObject,
    ]);
    await reconcileSidecarConfig(`${NS}/web`, t.io, silentLog);
    expect(t.events.events.map((e) => `${e.involved.kind}/${e.involved.name} ${e.reason}`)).to.deep.equal([
      "Deployment/web MissingAppId",
    ]);
  });
});
