// The user-facing commands against the local cluster: `outrigger controller` refusing to start
// without its Lease namespace, `outrigger inject --from-cluster`, and `outrigger explain` on an
// injected, a skipped and a denied pod. Each prints what the command printed.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { CoreV1Api } from "@kubernetes/client-node";
import { expect } from "chai";
import { localInjectorArgs } from "../../hack/local-injector.ts";
import { cluster, repoRoot } from "./harness/cluster.ts";
import { STATIC_TRUST_ANCHORS_FILE, startOutrigger, type OutriggerProcess } from "./harness/outrigger.ts";
import { eventually, freePort, kubectl } from "./harness/util.ts";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `node src/cli.ts <args>` against the test cluster, with `input` on stdin. */
export function outrigger(args: string[], input = "", timeoutMs = 120_000): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${repoRoot}src/cli.ts`, ...args], {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: cluster().kubeconfigPath },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`outrigger ${args.join(" ")} did not exit within ${timeoutMs} ms:\n${stdout}${stderr}`),
      );
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(input);
  });
}

function show(title: string, r: CliRun): void {
  process.stderr.write(`----- ${title} (exit ${r.code}, ${r.ms} ms) -----\n${r.stdout}${r.stderr}\n`);
}

describe("outrigger controller without its Lease namespace", function () {
  it("refuses to start, naming the flag, instead of campaigning forever", async function () {
    const r = await outrigger([
      "controller",
      "--ops-address",
      "127.0.0.1:0",
      "--leader-election-namespace",
      "no-such-namespace-for-the-lease",
      "--log-format",
      "json",
    ]);
    show("outrigger controller --leader-election-namespace no-such-namespace-for-the-lease", r);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include(
      'the leader-election namespace "no-such-namespace-for-the-lease" does not exist: create it (kubectl create namespace no-such-namespace-for-the-lease) or name another with --leader-election-namespace',
    );
  });
});

describe("outrigger explain and inject --from-cluster against the cluster", function () {
  const ns = `explain-${process.pid}`;
  // A namespace the webhook does not select: pods are created there as if the webhook were down.
  const unwatched = `explain-unwatched-${process.pid}`;
  const system = `explain-system-${process.pid}`;
  const webhookConfig = `outrigger-injector-${system}`;
  const procs: OutriggerProcess[] = [];
  const core = () => cluster().kc.makeApiClient(CoreV1Api);

  before(async function () {
    this.timeout(240_000);
    for (const name of [ns, unwatched, system])
      await core().createNamespace({ body: { metadata: { name } } });
    const [port, opsPort, controllerOps] = [await freePort(), await freePort(), await freePort()];
    procs.push(
      startOutrigger(
        "injector",
        localInjectorArgs(
          { namespace: system, port, opsPort },
          "--webhook-config-name",
          webhookConfig,
          "--webhook-namespace-selector",
          `kubernetes.io/metadata.name=${ns}`,
          "--trust-anchors-file",
          STATIC_TRUST_ANCHORS_FILE,
        ),
      ),
      startOutrigger("controller", [
        "--watch-namespace",
        ns,
        "--leader-election-namespace",
        ns,
        "--ops-address",
        `127.0.0.1:${controllerOps}`,
      ]),
    );
    await eventually(
      async () => {
        for (const p of [opsPort, controllerOps])
          expect((await fetch(`http://127.0.0.1:${p}/readyz`)).status, `readyz on ${p}`).to.equal(200);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
  });

  after(async function () {
    this.timeout(150_000);
    for (const p of procs) {
      if (this.currentTest?.state === "failed") process.stderr.write(`----- ${p.name} -----\n${p.logs()}\n`);
      await p.stop();
    }
    await eventually(
      () => kubectl(["delete", "mutatingwebhookconfiguration", webhookConfig, "--ignore-not-found"]),
      { timeoutMs: 120_000, intervalMs: 2000 },
    );
    for (const name of [ns, unwatched, system])
      await core()
        .deleteNamespace({ name })
        .catch(() => undefined);
  });

  const deployment = (name: string, annotations: Record<string, string>) =>
    JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name },
      spec: {
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name }, annotations },
          spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
        },
      },
    });
  const pod = (name: string, annotations: Record<string, string>) =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, annotations },
      spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
    });

  it("explains an injected, a skipped and a denied pod, and what an app receives", async function () {
    this.timeout(300_000);
    await kubectl(["apply", "-f", "-"], {
      namespace: ns,
      input: [
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: statestore}\nspec: {type: state.in-memory, version: v1, metadata: []}",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: pubsub}\nspec: {type: pubsub.in-memory, version: v1, metadata: []}\nscopes: [orders]",
      ].join("\n---\n"),
    });
    await kubectl(["apply", "-f", "-"], {
      namespace: ns,
      input: deployment("cart", { "dapr.io/enabled": "true", "dapr.io/app-id": "cart" }),
    });
    await kubectl(["apply", "-f", "-"], { namespace: ns, input: pod("plain", {}) });
    const bad = { "dapr.io/enabled": "true", "dapr.io/app-id": "broken", "dapr.io/app-port": "eighty" };
    // The webhook denies the pod; the same pod where the webhook does not look is created bare.
    const denied = await kubectl(["apply", "-f", "-"], {
      namespace: ns,
      input: pod("broken", bad),
      allowFail: true,
    });
    expect(denied.code).to.not.equal(0);
    process.stderr.write(`----- kubectl apply (the webhook's answer) -----\n${denied.stderr}\n`);
    await kubectl(["apply", "-f", "-"], { namespace: unwatched, input: pod("broken", bad) });

    let cartPod = "";
    await eventually(
      async () => {
        const pods = (await core().listNamespacedPod({ namespace: ns, labelSelector: "app=cart" })).items;
        expect(pods[0]?.spec?.initContainers?.map((c) => c.name)).to.include("daprd");
        cartPod = pods[0]?.metadata?.name ?? "";
        await core().readNamespacedSecret({ namespace: ns, name: "cart-dapr-sidecar" });
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );

    const injected = await outrigger(["explain", `pod/${cartPod}`, "-n", ns]);
    show(`outrigger explain pod/${cartPod} -n ${ns}`, injected);
    expect(injected.code).to.equal(0);
    expect(injected.stdout).to.include("injected: app-id cart, daprd ghcr.io/dapr/daprd:1.18.3");
    expect(injected.stdout).to.include("current: the injector would inject the same sidecar now");

    const skipped = await outrigger(["explain", "pod/plain", "-n", ns]);
    show(`outrigger explain pod/plain -n ${ns}`, skipped);
    expect(skipped.stdout).to.include("not injected: it has no dapr.io/enabled annotation");
    expect(skipped.stdout).to.include("decision now: skip (not-enabled)");

    const explainedDenial = await outrigger(["explain", "pod/broken", "-n", unwatched]);
    show(`outrigger explain pod/broken -n ${unwatched}`, explainedDenial);
    const message = 'dapr.io/app-port: "eighty" is not a port number (1-65535)';
    expect(denied.stderr, "the webhook's denial").to.include(message);
    expect(explainedDenial.stdout).to.include(`the injector denies this pod: ${message}`);
    expect(explainedDenial.stdout).to.include("✗ dapr.io/app-port");

    const neverCreated = await outrigger(["explain", "pod/broken", "-n", ns]);
    show(`outrigger explain pod/broken -n ${ns}`, neverCreated);
    expect(neverCreated.code).to.equal(1);
    expect(neverCreated.stdout).to.include("A pod the webhook denied was never created");

    await eventually(
      async () => {
        const app = await outrigger(["explain", "app/cart", "-n", ns]);
        expect(app.stdout).to.include(
          "✓ Component statestore: no scopes: every app of the namespace (Ready; in its sidecar config)",
        );
        expect(app.stdout).to.include("✗ Component pubsub: scopes [orders] do not include cart");
        expect(app.stdout).to.include("Secret cart-dapr-sidecar: written by Outrigger");
        expect(app.stdout).to.include(`${cartPod}: daprd ghcr.io/dapr/daprd:1.18.3, injected by Outrigger`);
        show(`outrigger explain app/cart -n ${ns}`, app);
      },
      { timeoutMs: 60_000, intervalMs: 2000 },
    );
  });

  it("inject --from-cluster takes the sidecar defaults of the injector Deployment, and its trust bundle", async function () {
    const input = deployment("cart", { "dapr.io/enabled": "true", "dapr.io/app-id": "cart" });
    const cmd = ["inject", "--from-cluster", "--injector-namespace", system, "-f", "-"];
    await kubectl(["apply", "-f", "-"], {
      namespace: system,
      input: JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "outrigger-injector" },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: "injector" } },
          template: {
            metadata: { labels: { app: "injector" } },
            spec: {
              containers: [
                {
                  name: "injector",
                  image: "ghcr.io/example/outrigger:0",
                  args: [
                    "injector",
                    "--sidecar-image=registry.example/daprd:1.18.3-custom",
                    "--native-sidecar=false",
                  ],
                  // As the chart mounts Sentry's trust bundle (mTLS is on by default).
                  volumeMounts: [
                    { name: "trust-bundle", mountPath: "/var/run/secrets/outrigger.dev/trust-bundle" },
                  ],
                },
              ],
              volumes: [
                { name: "trust-bundle", configMap: { name: "outrigger-trust-bundle", optional: true } },
              ],
            },
          },
        },
      }),
    });
    // Sentry has not published its bundle yet: nothing is written, and the message names the ConfigMap.
    const early = await outrigger(cmd, input);
    show(`outrigger inject --from-cluster --injector-namespace ${system} -f - (no bundle yet)`, early);
    expect(early.code).to.equal(2);
    expect(early.stdout).to.equal("");
    expect(early.stderr).to.include(`ConfigMap ${system}/outrigger-trust-bundle`);
    const anchors = readFileSync(STATIC_TRUST_ANCHORS_FILE, "utf8");
    await kubectl(
      ["create", "configmap", "outrigger-trust-bundle", `--from-file=ca.crt=${STATIC_TRUST_ANCHORS_FILE}`],
      {
        namespace: system,
      },
    );
    const r = await outrigger(cmd, input);
    show(`outrigger inject --from-cluster --injector-namespace ${system} -f -`, r);
    expect(r.code).to.equal(0);
    const daprd = (
      JSON.parse(r.stdout) as {
        spec: {
          template: {
            spec: {
              containers: Array<{
                name: string;
                args?: string[];
                env?: Array<{ name: string; value?: string }>;
              }>;
            };
          };
        };
      }
    ).spec.template.spec.containers.find((c) => c.name === "daprd");
    expect(daprd?.args).to.include("--enable-mtls");
    expect(daprd?.env?.find((e) => e.name === "DAPR_TRUST_ANCHORS")?.value).to.equal(anchors);
    // JSON in, JSON out. --native-sidecar=false: daprd among the containers, not an init container.
    const spec = (JSON.parse(r.stdout) as { spec: { template: { spec: Record<string, unknown> } } }).spec
      .template.spec as { containers: Array<{ name: string; image: string }>; initContainers?: unknown };
    expect(spec.containers.find((c) => c.name === "daprd")?.image).to.equal(
      "registry.example/daprd:1.18.3-custom",
    );
    expect(spec.initContainers).to.equal(undefined);
    expect(r.stderr).to.equal("Deployment cart: injected (app-id cart)\n");
  });
});
