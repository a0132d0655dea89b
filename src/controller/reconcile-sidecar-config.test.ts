import type { KubernetesObject, V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import type { Component } from "../apis/types.ts";
import { MANAGED_BY_LABEL } from "../sidecar/config-secret.ts";
import { AppResults, type ResourceRef } from "./app-results.ts";
import { appsIn, cachesOf } from "./caches.ts";
import { fakeWriter, silentLog } from "./reconcile.testing.ts";
import { reconcileSidecarConfig, renderSidecarConfig } from "./reconcile-sidecar-config.ts";
import { renderMemo } from "./render-memo.ts";
import { cachedConfigSecret } from "./sidecar-config.ts";

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
  // What the API server holds: the whole Secrets (the cache may hold sidecar configs as digests).
  const server = new Map<string, V1Secret>();
  const reads: string[] = [];
  const io = {
    caches,
    results,
    writer,
    events,
    memo: renderMemo(),
    readSecret: async (namespace: string, name: string) => {
      reads.push(`${namespace}/${name}`);
      return server.get(`${namespace}/${name}`);
    },
    onResultsChanged: (c: ResourceRef[]) => changed.push(...c),
    now: () => new Date("2026-12-01T12:00:00.000Z"),
  };
  return { io, caches, results, api, events, changed, server, reads };
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

  it("caches a sidecar config as digests, and reads the whole Secret only for a last good version", async () => {
    const secretRef = (key: string) => [{ name: "password", secretKeyRef: { name: "redis", key } }];
    const store: Component = {
      ...component("store"),
      spec: { ...component("store").spec!, metadata: secretRef("pw") },
    };
    const redis: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "redis", namespace: NS, uid: "r" },
      data: { pw: "c2VjcmV0" },
    };
    const t = setUp([pod("orders-1"), store, redis as KubernetesObject]);
    const upsert = (o: KubernetesObject) =>
      (t.caches.secrets as unknown as { upsert(o: V1Secret): void }).upsert(o);
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    const written = t.api.writes()[0]?.body as V1Secret;
    const whole = { ...written, metadata: { ...written.metadata, resourceVersion: "101", uid: "u1" } };
    t.server.set(`${NS}/${written.metadata?.name}`, whole);
    const cached = cachedConfigSecret(whole);
    expect(cached.data).to.equal(undefined);
    expect(Object.keys(cached.dataDigests ?? {}).sort()).to.deep.equal(Object.keys(whole.data ?? {}).sort());
    upsert(cached);
    t.io.writer.observe({ kind: "Secret", namespace: NS, name: written.metadata?.name ?? "" }, "101");

    // Unchanged: the digests say so, nothing is read or written.
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    expect([t.api.writes().length, t.reads.length]).to.deep.equal([1, 0]);

    // The Secret's key goes: the Component breaks, its last good version comes from the whole Secret.
    upsert({ ...redis, metadata: { ...redis.metadata, resourceVersion: "102" }, data: {} } as V1Secret);
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    expect(t.reads).to.deep.equal([`${NS}/orders-dapr-sidecar`]);
    expect(t.api.writes()).to.have.length(1); // the same config: the last good Component is served
    expect(t.results.get(`${NS}/orders`)?.components).to.deep.include({
      name: "store",
      generation: 1,
      reason: "KeyNotFound",
      problems: [{ reason: "KeyNotFound", item: "password", secret: "redis", key: "pw" }],
      served: "lastGood",
    });

    // An edit by hand of the data is repaired: the digests differ.
    upsert({ ...redis, metadata: { ...redis.metadata, resourceVersion: "103" } } as V1Secret);
    upsert(cachedConfigSecret({ ...whole, data: { ...whole.data, "components.yaml": "ZWRpdGVk" } }));
    await reconcileSidecarConfig(`${NS}/orders`, t.io, silentLog);
    const update = t.api.writes().at(-1);
    expect(`${update?.method} ${update?.path}`).to.equal(
      `PUT /api/v1/namespaces/${NS}/secrets/orders-dapr-sidecar`,
    );
    expect((update?.body as V1Secret).data).to.deep.equal(whole.data);
    expect(update?.body).to.not.have.property("dataDigests");
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
