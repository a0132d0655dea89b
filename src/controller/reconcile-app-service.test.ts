import type { KubernetesObject, V1Service } from "@kubernetes/client-node";
import { expect } from "chai";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../sidecar/config-secret.ts";
import { desiredAppService } from "./app-service.ts";
import { appsIn, cachesOf } from "./caches.ts";
import { reconcileAppService } from "./reconcile-app-service.ts";
import { fakeWriter, silentLog } from "./reconcile.testing.ts";

const NS = "shop";
const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "orders-1",
    namespace: NS,
    annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "orders" },
  },
  spec: { containers: [{ name: "app" }] },
  status: { phase: "Running" },
} as KubernetesObject;

function setUp(objects: KubernetesObject[], fail?: Parameters<typeof fakeWriter>[0]) {
  const caches = cachesOf(objects);
  const f = fakeWriter(fail);
  return { caches, ...f, io: { caches, writer: f.writer } };
}

describe("app-service reconciler", () => {
  it("creates the headless Service the pure rendering gives, once", async () => {
    const t = setUp([pod]);
    await reconcileAppService(`${NS}/orders`, t.io, silentLog);
    await reconcileAppService(`${NS}/orders`, t.io, silentLog);
    const writes = t.api.writes();
    expect(writes.map((w) => `${w.method} ${w.path}`)).to.deep.equal([
      `POST /api/v1/namespaces/${NS}/services`,
    ]);
    expect(writes[0]?.body).to.deep.equal(desiredAppService(appsIn(t.caches, NS).apps[0]!));
  });

  it("changes nothing when the cache holds the desired Service", async () => {
    const desired = desiredAppService(appsIn(cachesOf([pod]), NS).apps[0]!);
    const t = setUp([pod, { ...desired, metadata: { ...desired.metadata, uid: "u" } } as KubernetesObject]);
    await reconcileAppService(`${NS}/orders`, t.io, silentLog);
    expect(t.api.writes()).to.deep.equal([]);
  });

  it("replaces a Service of ours that is not headless (clusterIP cannot change in place)", async () => {
    const desired = desiredAppService(appsIn(cachesOf([pod]), NS).apps[0]!);
    const withIp: V1Service = {
      ...desired,
      metadata: { ...desired.metadata, uid: "u-old" },
      spec: { ...desired.spec, clusterIP: "10.0.0.7" },
    };
    const t = setUp([pod, withIp as KubernetesObject]);
    await reconcileAppService(`${NS}/orders`, t.io, silentLog);
    expect(t.api.writes().map((w) => w.method)).to.deep.equal(["DELETE", "POST"]);
  });

  it("reports a Service of that name that is not ours as a conflict (AlreadyExists)", async () => {
    const t = setUp([pod], (req) => (req.method === "POST" ? 409 : undefined));
    await reconcileAppService(`${NS}/orders`, t.io, silentLog);
    expect(t.events.events.map((e) => `${e.involved.kind}/${e.involved.name} ${e.reason}`)).to.deep.equal([
      "Service/orders-dapr ConflictingObject",
    ]);
  });

  it("deletes the Service of a gone app when it is ours, and never one that is not", async () => {
    const ours = {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "gone-dapr",
        namespace: NS,
        uid: "u",
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      },
    } as KubernetesObject;
    const t = setUp([ours, { ...ours, metadata: { name: "other-dapr", namespace: NS } } as KubernetesObject]);
    await reconcileAppService(`${NS}/gone`, t.io, silentLog);
    await reconcileAppService(`${NS}/other`, t.io, silentLog);
    expect(t.api.writes().map((w) => `${w.method} ${w.path}`)).to.deep.equal([
      `DELETE /api/v1/namespaces/${NS}/services/gone-dapr`,
    ]);
  });
});
