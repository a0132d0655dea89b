import type { KubernetesObject, V1Pod } from "@kubernetes/client-node";
import { expect } from "chai";
import { appsIn, cachesOf } from "./caches.ts";
import type { ObjectCache } from "./runtime/cache.ts";
import { detectionMetadata, type PodMetadata } from "./uninjected-pods.ts";

const bare = (name: string, annotations: Record<string, string>, labels: Record<string, string> = {}) =>
  ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "shop", uid: name, annotations, labels },
    status: { phase: "Running" },
  }) as V1Pod;

describe("appsIn", () => {
  it("counts injected pods and, from the metadata-only pods, those that ask for a sidecar", () => {
    const c = cachesOf([
      bare(
        "injected",
        { "dapr.io/enabled": "true", "dapr.io/app-id": "orders" },
        {
          "dapr.io/sidecar-injected": "true",
          "dapr.io/app-id": "orders",
        },
      ),
    ]);
    const metadataOnly = c.podMetadata as ObjectCache<PodMetadata & KubernetesObject>;
    // As the informer keeps them: no status; the webhook was down for "missed".
    for (const p of [
      bare("missed", {
        "dapr.io/enabled": "true",
        "dapr.io/app-id": "payments",
        "dapr.io/config": "tracing",
      }),
      bare("unrelated", {}, { app: "web" }),
    ]) {
      const { status: _status, ...metadata } = p;
      metadataOnly.upsert(detectionMetadata(metadata));
    }
    const { apps } = appsIn(c, "shop");
    expect(apps.map((a) => [a.appId, a.configName, a.sources.map((s) => s.name)])).to.deep.equal([
      ["orders", undefined, ["injected"]],
      ["payments", "tracing", ["missed"]],
    ]);
  });
});
