// `npm start` end to end: against the test cluster it applies the CRDs, runs the controller
// and the injector, registers the webhook, and on Ctrl-C removes the registration again.
import { spawn } from "node:child_process";
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { expect } from "chai";
import { sidecarConfigSecretName } from "../../src/sidecar/config-secret.ts";
import { cluster, repoRoot } from "./harness/cluster.ts";
import { useNamespace } from "./harness/namespace.ts";
import { eventually } from "./harness/util.ts";

describe("npm start", function () {
  const ns = useNamespace("start");

  it("runs Outrigger on the cluster: an annotated Deployment gets its sidecar and its config", async function () {
    let logs = "";
    const child = spawn(process.execPath, [`${repoRoot}hack/start.ts`], {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: cluster().kubeconfigPath, OUTRIGGER_NAMESPACE: `${ns.name}-system` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => (logs += d.toString()));
    child.stderr.on("data", (d: Buffer) => (logs += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const kc = cluster().kc;
    try {
      await eventually(
        async () => {
          const hook = await kc
            .makeApiClient(AdmissionregistrationV1Api)
            .readMutatingWebhookConfiguration({ name: "outrigger-injector" });
          expect(hook.webhooks?.[0]?.clientConfig.caBundle, "webhook registered with a CA").to.be.a("string");
        },
        { timeoutMs: 60_000 },
      );
      await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        group: "dapr.io",
        version: "v1alpha1",
        namespace: ns.name,
        plural: "components",
        body: {
          apiVersion: "dapr.io/v1alpha1",
          kind: "Component",
          metadata: { name: "statestore" },
          spec: {
            type: "state.redis",
            version: "v1",
            metadata: [{ name: "redisHost", value: "redis:6379" }],
          },
        },
      });
      await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
        namespace: ns.name,
        body: {
          metadata: { name: "web" },
          spec: {
            selector: { matchLabels: { app: "web" } },
            template: {
              metadata: {
                labels: { app: "web" },
                annotations: {
                  "dapr.io/enabled": "true",
                  "dapr.io/app-id": "web",
                  "dapr.io/app-port": "8080",
                },
              },
              spec: { containers: [{ name: "web", image: "registry.k8s.io/pause:3.10" }] },
            },
          },
        },
      });
      const core = kc.makeApiClient(CoreV1Api);
      await eventually(
        async () => {
          const pods = (await core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=web" })).items;
          expect(
            pods[0]?.spec?.initContainers?.map((c) => c.name),
            "injected sidecar",
          ).to.include("daprd");
          const secret = await core.readNamespacedSecret({
            namespace: ns.name,
            name: sidecarConfigSecretName("web"),
          });
          expect(Buffer.from(secret.data?.["components.yaml"] ?? "", "base64").toString()).to.contain(
            "statestore",
          );
        },
        { timeoutMs: 60_000 },
      );
    } catch (err) {
      process.stderr.write(`----- npm start output -----\n${logs.split("\n").slice(-100).join("\n")}\n`);
      throw err;
    } finally {
      child.kill("SIGINT");
      expect(await exited, "npm start exits cleanly on Ctrl-C").to.equal(0);
      await kc
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: `${ns.name}-system` })
        .catch(() => undefined);
    }
    const left = await kc
      .makeApiClient(AdmissionregistrationV1Api)
      .listMutatingWebhookConfiguration({ fieldSelector: "metadata.name=outrigger-injector" });
    expect(left.items, "the webhook registration is removed on exit").to.have.length(0);
  });
});
