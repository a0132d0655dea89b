// `npm start` end to end: against the test cluster it applies the CRDs, runs the controller,
// outrigger sentry and the injector (mTLS on, as by default), registers the webhook and the Subscription conversion at the local injector,
// and on Ctrl-C removes the registration and puts the conversion back at crds/' Service.
import { spawn } from "node:child_process";
import { manifestsOfTryItBlock } from "../../hack/lib/try-it.ts";
import { AdmissionregistrationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { expect } from "chai";
import { sidecarConfigSecretName } from "../../src/sidecar/config-secret.ts";
import { cluster, repoRoot } from "./harness/cluster.ts";
import { useNamespace } from "./harness/namespace.ts";
import { eventually, kubectl } from "./harness/util.ts";

interface ClientConfig {
  url?: string;
  service?: { name?: string; namespace?: string; path?: string };
  caBundle?: string;
}
async function conversionClientConfig(): Promise<ClientConfig> {
  const crd = JSON.parse((await kubectl(["get", "crd", "subscriptions.dapr.io", "-o", "json"])).stdout) as {
    spec: { conversion: { webhook: { clientConfig: ClientConfig } } };
  };
  return crd.spec.conversion.webhook.clientConfig;
}

describe("npm start", function () {
  const ns = useNamespace("start");

  it("runs Outrigger on the cluster: an annotated Deployment gets its sidecar and its config", async function () {
    // Two Node processes start, write certificates and register the webhook: on the shared 2-core
    // machine under a load average of 30-50 that alone took over 60 s.
    this.timeout(420_000);
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
        { timeoutMs: 180_000 },
      );
      // The start-up ends with the try-it block; its manifests are what a newcomer applies. (If
      // the processes were not ready within 90 s, the block says so, and is printed all the same.)
      await eventually(
        async () => expect(logs, "the try-it block").to.include("Try it from another shell:"),
        { timeoutMs: 240_000 },
      );
      expect(logs).to.include(`  export KUBECONFIG=${cluster().kubeconfigPath}\n`);
      const manifests = manifestsOfTryItBlock(logs);
      expect(manifests, "manifests in the block").to.be.a("string");
      process.stderr.write(
        `----- npm start's try-it block -----\n${logs.slice(logs.lastIndexOf("\n", logs.indexOf("Try it from another shell:")) + 1)}\n`,
      );
      await kubectl(["apply", "-f", "-"], { namespace: ns.name, input: manifests });
      const core = kc.makeApiClient(CoreV1Api);
      await eventually(
        async () => {
          const pods = (await core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=hello" }))
            .items;
          expect(
            pods[0]?.spec?.initContainers?.map((c) => c.name),
            "injected sidecar",
          ).to.include("daprd");
          // mTLS is on by default: the sidecar asks npm start's outrigger sentry for its identity,
          // trusting the bundle Sentry published.
          const daprd = pods[0]?.spec?.initContainers?.find((c) => c.name === "daprd");
          expect(daprd?.args).to.include("--enable-mtls");
          const sentryNs = `${ns.name}-system`;
          expect(daprd?.args?.[(daprd.args.indexOf("--control-plane-namespace") ?? -2) + 1]).to.equal(
            sentryNs,
          );
          const bundle = await core.readNamespacedConfigMap({
            namespace: sentryNs,
            name: "outrigger-trust-bundle",
          });
          expect(bundle.data?.["ca.crt"]).to.contain("-----BEGIN CERTIFICATE-----");
          expect(daprd?.env?.find((e) => e.name === "DAPR_TRUST_ANCHORS")?.value).to.equal(
            bundle.data?.["ca.crt"],
          );
          const secret = await core.readNamespacedSecret({
            namespace: ns.name,
            name: sidecarConfigSecretName("hello"),
          });
          expect(Buffer.from(secret.data?.["components.yaml"] ?? "", "base64").toString()).to.contain(
            "statestore",
          );
        },
        { timeoutMs: 60_000 },
      );

      // The Subscription conversion reaches the local injector: create as v1alpha1, read as v2alpha1.
      const cc = await eventually(
        async () => {
          const c = await conversionClientConfig();
          expect(c.url, "conversion at the local injector").to.match(/^https:\/\/127\.0\.0\.1:\d+\/convert$/);
          expect(c.service).to.equal(undefined);
          expect(c.caBundle, "the injector's CA in the CRD").to.be.a("string");
          return c;
        },
        { timeoutMs: 60_000 },
      );
      await eventually(
        () =>
          kubectl(["apply", "-f", "-"], {
            namespace: ns.name,
            input: JSON.stringify({
              apiVersion: "dapr.io/v1alpha1",
              kind: "Subscription",
              metadata: { name: "orders" },
              spec: { pubsubname: "pubsub", topic: "orders", route: "/orders" },
            }),
          }),
        { timeoutMs: 30_000, intervalMs: 1000 },
      );
      const asV2 = JSON.parse(
        (
          await kubectl(["get", "subscriptions.v2alpha1.dapr.io", "orders", "-o", "json"], {
            namespace: ns.name,
          })
        ).stdout,
      ) as { apiVersion: string; spec: Record<string, unknown> };
      console.log(
        `      conversion at ${cc.url}: created as v1alpha1, read as v2alpha1: ${JSON.stringify(asV2.spec)}`,
      );
      expect(asV2.apiVersion).to.equal("dapr.io/v2alpha1");
      expect(asV2.spec).to.deep.equal({
        pubsubname: "pubsub",
        topic: "orders",
        routes: { default: "/orders" },
      });
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
    const restored = await conversionClientConfig();
    expect(restored.url, "no conversion at the stopped injector").to.equal(undefined);
    expect(restored.service).to.include({ name: "outrigger-injector", path: "/convert" });
  });
});
