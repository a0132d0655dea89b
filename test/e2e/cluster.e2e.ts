// The foundation specs: the cluster is a real Kubernetes control plane.
import { AppsV1Api, CoreV1Api, VersionApi, Watch, type V1ConfigMap } from "@kubernetes/client-node";
import { expect } from "chai";
import { cluster } from "./harness/cluster.ts";
import { useNamespace } from "./harness/namespace.ts";
import { eventually } from "./harness/util.ts";

describe("the e2e cluster", function () {
  const ns = useNamespace("cluster");

  it("is a real kube-apiserver that reports its version", async function () {
    const version = await cluster().kc.makeApiClient(VersionApi).getCode();
    console.log(`      server version: ${version.gitVersion} (${version.platform}, ${version.goVersion})`);
    expect(version.major).to.equal("1");
    expect(version.gitVersion).to.match(/^v1\.\d+\.\d+/);
    if (cluster().provider === "local") expect(version.gitVersion).to.match(/^v1\.36\./);
  });

  it("delivers a created object to a watch", async function () {
    const seen: string[] = [];
    const watch = new Watch(cluster().kc);
    const req = await watch.watch(
      `/api/v1/namespaces/${ns.name}/configmaps`,
      {},
      (type: string, obj: V1ConfigMap) => seen.push(`${type} ${obj.metadata?.name}`),
      () => undefined,
    );
    try {
      await cluster()
        .kc.makeApiClient(CoreV1Api)
        .createNamespacedConfigMap({
          namespace: ns.name,
          body: { metadata: { name: "watched" }, data: { a: "1" } },
        });
      await eventually(async () => expect(seen).to.include("ADDED watched"), { timeoutMs: 10_000 });
    } finally {
      req.abort();
    }
  });

  it("runs a Deployment's pod on a simulated node", async function () {
    const apps = cluster().kc.makeApiClient(AppsV1Api);
    const core = cluster().kc.makeApiClient(CoreV1Api);
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "web", image: "registry.k8s.io/pause:3.10" }] },
          },
        },
      },
    });
    const pod = await eventually(
      async () => {
        const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=web" });
        const running = pods.items.find((p) => p.status?.phase === "Running");
        expect(running, "a Running pod of the Deployment").to.not.equal(undefined);
        return running!;
      },
      { timeoutMs: 60_000 },
    );
    expect(pod.spec?.nodeName).to.equal(cluster().provider === "local" ? "kwok-node-0" : pod.spec?.nodeName);
    expect(pod.metadata?.ownerReferences?.[0]?.kind).to.equal("ReplicaSet");
  });
});
