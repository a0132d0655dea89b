// `outrigger check` and the controller's un-injected pod detection against a real API server:
// an installation of a local injector (registered for one labelled namespace) and controller,
// checked healthy, then with faults put in one at a time (a webhook configuration without
// caBundle, a missing CRD, a stopped controller). And a pod created while the webhook
// configuration was removed: reported (Event, metric, status) and cleared when it goes.
// Each `check` run's output is printed.
import { spawn } from "node:child_process";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type CoreV1Event,
  type V1Pod,
  type V1MutatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { localInjectorArgs } from "../../hack/local-injector.ts";
import type { ResourceStatus } from "../../src/apis/types.ts";
import { cluster, repoRoot } from "./harness/cluster.ts";
import { dumpNamespace } from "./harness/namespace.ts";
import { STATIC_TRUST_ANCHORS_FILE, startOutrigger, type OutriggerProcess } from "./harness/outrigger.ts";
import { eventually, freePort, kubectl } from "./harness/util.ts";

const RUN = String(process.pid);
const SYSTEM = `check-e2e-system-${RUN}`;
const APPS = `check-e2e-apps-${RUN}`;
const SCOPE_LABEL = "outrigger.dev/check-e2e";
const CONFIG_NAME = `outrigger-injector-check-e2e-${RUN}`;
const UNUSED_CRD = `${repoRoot}crds/workflowaccesspolicies.dapr.io.yaml`;

const core = () => cluster().kc.makeApiClient(CoreV1Api);
const apps = () => cluster().kc.makeApiClient(AppsV1Api);
const custom = () => cluster().kc.makeApiClient(CustomObjectsApi);

interface CheckRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `outrigger check` against this installation, and prints what it printed. */
function check(what: string, ...extra: string[]): Promise<CheckRun> {
  const args = [
    `${repoRoot}src/cli.ts`,
    "check",
    "--namespace",
    SYSTEM,
    "--webhook-config-name",
    CONFIG_NAME,
    "--dry-run-namespace",
    APPS,
    "--app-namespace",
    APPS,
    ...extra,
  ];
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: cluster().kubeconfigPath },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      console.log(
        `\n----- outrigger check ${extra.join(" ")}: ${what} (exit ${code}, ${Date.now() - started} ms) -----\n${stdout}${stderr}`,
      );
      resolve({ code, stdout, stderr });
    });
  });
}

const line = (out: string, text: string) => out.split("\n").find((l) => l.includes(text)) ?? "";

async function componentStatus(name: string): Promise<ResourceStatus | undefined> {
  const c = (await custom().getNamespacedCustomObject({
    group: "dapr.io",
    version: "v1alpha1",
    namespace: APPS,
    plural: "components",
    name,
  })) as { status?: ResourceStatus };
  return c.status;
}

describe("outrigger check and un-injected pods", function () {
  let injector: OutriggerProcess;
  let controller: OutriggerProcess;
  let controllerOps: number;

  async function startController(...extra: string[]): Promise<void> {
    controllerOps = await freePort();
    controller = startOutrigger("controller", [
      "--watch-namespace",
      APPS,
      "--leader-election-namespace",
      SYSTEM,
      "--ops-address",
      `127.0.0.1:${controllerOps}`,
      ...extra,
    ]);
    await eventually(
      async () => {
        const ready = await fetch(`http://127.0.0.1:${controllerOps}/readyz`);
        expect(ready.status, "controller ready").to.equal(200);
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  }

  /** Runs `create` while the webhook configuration is removed, then puts it back as it was. */
  async function withoutWebhook(create: () => Promise<unknown>): Promise<void> {
    const saved = JSON.parse(
      (await kubectl(["get", "mutatingwebhookconfiguration", CONFIG_NAME, "-o", "json"])).stdout,
    ) as V1MutatingWebhookConfiguration;
    await kubectl(["delete", "mutatingwebhookconfiguration", CONFIG_NAME]);
    try {
      await create();
    } finally {
      const { metadata, ...rest } = saved;
      await kubectl(["create", "-f", "-"], {
        input: JSON.stringify({ ...rest, metadata: { name: metadata?.name, labels: metadata?.labels } }),
      });
    }
  }

  before(async function () {
    this.timeout(180_000);
    await core().createNamespace({ body: { metadata: { name: SYSTEM } } });
    await core().createNamespace({
      body: { metadata: { name: APPS, labels: { [SCOPE_LABEL]: RUN, "outrigger.dev/e2e": "true" } } },
    });
    const [port, opsPort] = [await freePort(), await freePort()];
    injector = startOutrigger(
      "injector",
      localInjectorArgs(
        { namespace: SYSTEM, port, opsPort },
        "--webhook-config-name",
        CONFIG_NAME,
        "--webhook-namespace-selector",
        `${SCOPE_LABEL}=${RUN}`,
        "--trust-anchors-file",
        STATIC_TRUST_ANCHORS_FILE,
        // The faults put in below must stay until `check` has seen them.
        "--resync-interval",
        "30m",
      ),
    );
    await startController();
    await eventually(
      async () => {
        expect((await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status, "injector ready").to.equal(200);
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    // An app and a Component, as a user would have them.
    await custom().createNamespacedCustomObject({
      group: "dapr.io",
      version: "v1alpha1",
      namespace: APPS,
      plural: "components",
      body: {
        apiVersion: "dapr.io/v1alpha1",
        kind: "Component",
        metadata: { name: "store" },
        spec: { type: "state.in-memory", version: "v1", metadata: [] },
      },
    });
    await apps().createNamespacedDeployment({
      namespace: APPS,
      body: {
        metadata: { name: "orders" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "orders" } },
          template: {
            metadata: {
              labels: { app: "orders" },
              annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "orders" },
            },
            spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
          },
        },
      },
    });
    await eventually(
      async () => {
        await core().readNamespacedSecret({ namespace: APPS, name: "orders-dapr-sidecar" });
        expect((await componentStatus("store"))?.appCount).to.equal(1);
      },
      { timeoutMs: 60_000 },
    );
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") await dumpNamespace(APPS);
  });

  after(async function () {
    this.timeout(150_000);
    await controller?.stop();
    await injector?.stop();
    await kubectl(["apply", "--server-side", "--force-conflicts", "-f", UNUSED_CRD]);
    await eventually(
      () => kubectl(["delete", "mutatingwebhookconfiguration", CONFIG_NAME, "--ignore-not-found"]),
      { timeoutMs: 120_000, intervalMs: 2000 },
    );
    for (const name of [APPS, SYSTEM])
      await core()
        .deleteNamespace({ name })
        .catch(() => undefined);
  });

  it("passes a healthy installation, as text and as JSON", async function () {
    this.timeout(180_000);
    const run = await eventually(
      async () => {
        const r = await check("healthy");
        expect(r.code, r.stdout).to.equal(0);
        return r;
      },
      { timeoutMs: 30_000, intervalMs: 2000 },
    );
    expect(run.stdout).to.match(/^✓ its caBundle verifies the injector's serving certificate/m);
    expect(run.stdout).to.match(/^✓ a dry-run pod in check-e2e-apps-\d+ gets the daprd sidecar/m);
    expect(run.stdout).to.match(/^✓ the controller has a leader/m);
    expect(run.stdout).to.match(/^✓ every app has its sidecar config \(1 app\)/m);
    expect(run.stdout).to.match(/^✓ every Component is Ready \(1 found\)/m);
    // Not a Deployment here (a local run): a warning, not a failure.
    expect(run.stdout).to.match(/^‼ the controller Deployment is ready/m);
    expect(run.stdout).to.match(/Status check results: \d+ ok, 1 warning, 0 failed/);

    const json = await check("healthy", "-o", "json");
    expect(json.code).to.equal(0);
    const data = JSON.parse(json.stdout) as {
      ok: boolean;
      results: Array<{ status: string; category: string }>;
    };
    expect(data.ok).to.equal(true);
    expect(data.results.filter((r) => r.status === "fail")).to.deep.equal([]);
    expect(new Set(data.results.map((r) => r.category))).to.deep.equal(
      new Set(["crds", "webhook", "controller", "apps", "resources", "pods"]),
    );
    const pre = await check("before an install", "--pre");
    expect(pre.code).to.equal(0);
    expect(pre.stdout).to.match(/^✓ Kubernetes version is >=1\.30\.0-0 \(the API server is v1\.\d+/m);
  });

  it("reports a pod created while the webhook configuration was removed, and clears it when the pod goes", async function () {
    this.timeout(120_000);
    await withoutWebhook(() =>
      core().createNamespacedPod({
        namespace: APPS,
        body: {
          metadata: {
            name: "lonely",
            annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "lonely" },
          },
          spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
        },
      }),
    );
    const pod = await core().readNamespacedPod({ namespace: APPS, name: "lonely" });
    expect(pod.spec?.initContainers ?? []).to.deep.equal([]);
    const started = Date.now();
    const events = async () =>
      (
        await core().listNamespacedEvent({
          namespace: APPS,
          fieldSelector: "involvedObject.name=lonely,reason=SidecarMissing",
        })
      ).items as CoreV1Event[];
    const gauge = async () => {
      const text = await (await fetch(`http://127.0.0.1:${controllerOps}/metrics`)).text();
      return line(text, 'outrigger_uninjected_pods{reason="webhook-not-called"}');
    };
    await eventually(
      async () => {
        const [event] = await events();
        expect(event?.type).to.equal("Warning");
        expect(event?.message).to.contain(
          `pod ${APPS}/lonely is annotated dapr.io/enabled: "true" but has no daprd sidecar`,
        );
        expect(await gauge()).to.equal('outrigger_uninjected_pods{reason="webhook-not-called"} 1');
        const status = await componentStatus("store");
        expect(status?.uninjectedPods).to.equal(1);
        expect(status?.conditions?.find((c) => c.type === "SidecarsInjected")).to.include({
          status: "False",
          reason: "SidecarMissing",
        });
      },
      { timeoutMs: 30_000 },
    );
    console.log(
      `un-injected pod reported (Event, gauge, status) ${Date.now() - started} ms after its creation`,
    );
    const seen = await check("with an un-injected pod");
    expect(seen.code).to.equal(0);
    expect(line(seen.stdout, "every pod that asks for a sidecar has one")).to.match(/^‼/);
    expect(seen.stdout).to.contain(
      `1 do not (the webhook was not called when they were created): ${APPS}/lonely`,
    );

    await core().deleteNamespacedPod({ namespace: APPS, name: "lonely", gracePeriodSeconds: 0 });
    const deleted = Date.now();
    await eventually(
      async () => {
        expect(await gauge()).to.equal('outrigger_uninjected_pods{reason="webhook-not-called"} 0');
        const status = await componentStatus("store");
        expect(status?.uninjectedPods).to.equal(0);
        expect(status?.conditions?.find((c) => c.type === "SidecarsInjected")?.status).to.equal("True");
      },
      { timeoutMs: 30_000 },
    );
    console.log(`cleared ${Date.now() - deleted} ms after the pod was deleted`);
  });

  it("fails on a webhook configuration without caBundle", async function () {
    this.timeout(180_000);
    const bundle = (
      await kubectl([
        "get",
        "mutatingwebhookconfiguration",
        CONFIG_NAME,
        "-o",
        "jsonpath={.webhooks[0].clientConfig.caBundle}",
      ])
    ).stdout;
    expect(bundle).to.not.equal("");
    const patch = (ops: object[]) =>
      kubectl([
        "patch",
        "mutatingwebhookconfiguration",
        CONFIG_NAME,
        "--type=json",
        "-p",
        JSON.stringify(ops),
      ]);
    await patch([{ op: "remove", path: "/webhooks/0/clientConfig/caBundle" }]);
    try {
      const run = await check("webhook without caBundle");
      expect(run.code).to.equal(1);
      expect(line(run.stdout, "its caBundle verifies")).to.match(/^✗/);
      expect(run.stdout).to.contain("no caBundle in webhook sidecar-injector.outrigger.dev");
      // The API server cannot call the injector either: the dry-run pod is refused.
      expect(line(run.stdout, "a dry-run pod in")).to.match(/^✗/);
    } finally {
      await patch([{ op: "add", path: "/webhooks/0/clientConfig/caBundle", value: bundle }]);
    }
  });

  it("fails on a missing CRD", async function () {
    this.timeout(180_000);
    await kubectl(["delete", "-f", UNUSED_CRD, "--wait=true"]);
    try {
      const run = await check("CRD workflowaccesspolicies.dapr.io deleted");
      expect(run.code).to.equal(1);
      expect(line(run.stdout, "CRD workflowaccesspolicies.dapr.io")).to.match(/^✗/);
      expect(run.stdout).to.contain("not installed");
      expect(run.stdout).to.match(/^✓ CRD components\.dapr\.io is Established and matches this version/m);
    } finally {
      await kubectl(["apply", "--server-side", "--force-conflicts", "-f", UNUSED_CRD]);
      await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", UNUSED_CRD]);
    }
  });

  it("with --delete-uninjected-pods, deletes an owned pod without sidecar so that it comes back injected, and leaves a bare one", async function () {
    this.timeout(150_000);
    expect(await controller.stop()).to.equal(0);
    await startController("--delete-uninjected-pods");
    const labels = { app: "late" };
    let first: V1Pod | undefined;
    await withoutWebhook(async () => {
      await apps().createNamespacedDeployment({
        namespace: APPS,
        body: {
          metadata: { name: "late" },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels, annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "late" } },
              spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
            },
          },
        },
      });
      await core().createNamespacedPod({
        namespace: APPS,
        body: {
          metadata: { name: "bare", annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "bare" } },
          spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
        },
      });
      // The ReplicaSet's pod must be created while the webhook is away.
      first = await eventually(async () => {
        const pods = await core().listNamespacedPod({ namespace: APPS, labelSelector: "app=late" });
        expect(pods.items).to.have.length.at.least(1);
        return pods.items[0];
      });
    });
    const started = Date.now();
    expect(first?.spec?.initContainers ?? []).to.deep.equal([]);
    const replaced = await eventually(
      async () => {
        const pods = (await core().listNamespacedPod({ namespace: APPS, labelSelector: "app=late" })).items;
        const fresh = pods.filter(
          (p) => p.metadata?.uid !== first?.metadata?.uid && !p.metadata?.deletionTimestamp,
        );
        expect(fresh).to.have.length(1);
        expect(fresh[0]?.spec?.initContainers?.map((c) => c.name)).to.include("daprd");
        return fresh[0];
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    console.log(
      `un-injected pod ${first?.metadata?.name} replaced by injected ${replaced?.metadata?.name} in ${Date.now() - started} ms`,
    );
    const deletedEvents = (
      await core().listNamespacedEvent({
        namespace: APPS,
        fieldSelector: `involvedObject.name=${first?.metadata?.name},reason=SidecarMissing,type=Normal`,
      })
    ).items;
    expect(deletedEvents.map((e) => e.message)).to.deep.equal([
      `deleted pod ${APPS}/${first?.metadata?.name}, which has no daprd sidecar, so that its owner recreates it through the webhook`,
    ]);
    const metrics = await (await fetch(`http://127.0.0.1:${controllerOps}/metrics`)).text();
    // More than one when the ReplicaSet's next pod was also created before the webhook was back.
    const sample = metrics.split("\n").find((l) => l.startsWith("outrigger_uninjected_pod_deletes_total "));
    const deletes = Number(sample?.split(" ")[1]);
    console.log(`deletions: ${deletes}`);
    expect(deletes).to.be.at.least(1);
    // A pod without an owner would be gone for good: it is reported, not deleted.
    const bare = await core().readNamespacedPod({ namespace: APPS, name: "bare" });
    expect(bare.metadata?.deletionTimestamp).to.equal(undefined);
    expect(line(metrics, 'outrigger_uninjected_pods{reason="webhook-not-called"}')).to.equal(
      'outrigger_uninjected_pods{reason="webhook-not-called"} 1',
    );
  });

  it("fails on a stopped controller", async function () {
    this.timeout(180_000);
    expect(await controller.stop()).to.equal(0);
    const run = await check("controller stopped");
    expect(run.code).to.equal(1);
    expect(line(run.stdout, "the controller has a leader")).to.match(/^✗/);
    expect(run.stdout).to.contain("the Lease has no holder (released)");
  });
});
