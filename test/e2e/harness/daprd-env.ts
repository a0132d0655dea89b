// What the real-daprd specs share: the daprd binary, a real `outrigger controller` (all
// namespaces), a real `outrigger sentry` (mTLS is on by default, as in the injector) and a real
// `outrigger injector` whose webhook sees only the namespaces labelled for this run, and the
// sidecar runner. `useDaprdEnvironment()` starts them once per describe
// and stops everything in after(), also when a spec failed.
import { CoreV1Api, CustomObjectsApi, type V1Pod } from "@kubernetes/client-node";
import { expect } from "chai";
import { trustBundleFile } from "../../../hack/lib/trust-bundle-file.ts";
import { sidecarConfigSecretName } from "../../../src/sidecar/config-secret.ts";
import { TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from "../../../src/sidecar/identity.ts";
import { cluster } from "./cluster.ts";
import { startOutrigger, type OutriggerProcess } from "./outrigger.ts";
import { SidecarRunner, daprdBinary, type RunOptions, type Sidecar } from "./sidecar-runner.ts";
import { eventually, freePort, kubectl } from "./util.ts";

export const DAPRD_SCOPE_LABEL = "outrigger.dev/daprd-e2e";
export const DAPRD_SCOPE = String(process.pid);
/** Labels for useNamespace(): the injector's webhook selects these namespaces. */
export const DAPRD_NAMESPACE_LABELS = { [DAPRD_SCOPE_LABEL]: DAPRD_SCOPE };

const BUILD_TIMEOUT_MS = 45 * 60 * 1000; // a cold daprd build in CI

export interface DaprdEnvironment {
  readonly runner: SidecarRunner;
  readonly controller: OutriggerProcess;
  readonly injector: OutriggerProcess;
  readonly daprd: string;
  /** With `mtls`: the running `outrigger sentry`, its ports and namespace. */
  readonly sentry: SentryProcess | undefined;
}

export interface SentryProcess {
  process: OutriggerProcess;
  namespace: string;
  grpcPort: number;
  opsPort: number;
  /** The file the injector reads the trust bundle from; the spec keeps it in sync. */
  anchorsFile: string;
  /** Copies the published trust bundle (ConfigMap) to anchorsFile, as the kubelet would. */
  syncAnchors(): Promise<string>;
  stopAnchors(): void;
}

export interface DaprdEnvironmentOptions {
  /**
   * Run `outrigger sentry` and inject with mTLS on (default true, as the injector's default).
   * A spec that sets false says why in a comment.
   */
  mtls?: boolean;
  /** Extra flags of `outrigger sentry`. */
  sentryArgs?: string[];
}

const core = () => cluster().kc.makeApiClient(CoreV1Api);
const custom = () => cluster().kc.makeApiClient(CustomObjectsApi);

let environments = 0;

export function useDaprdEnvironment(opts: DaprdEnvironmentOptions = {}): DaprdEnvironment {
  // Unique per describe: the previous one's system namespace may still be terminating.
  const n = ++environments;
  const system = `daprd-e2e-system-${process.pid}-${n}`;
  const webhookConfig = `outrigger-injector-daprd-e2e-${process.pid}-${n}`;
  let env: DaprdEnvironment | undefined;
  const get = () => {
    if (!env) throw new Error("the daprd environment is not started");
    return env;
  };

  before(async function () {
    this.timeout(BUILD_TIMEOUT_MS + 120_000);
    const started = performance.now();
    const daprd = await daprdBinary();
    console.log(`      daprd: ${daprd} (ready in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    const reaped = await SidecarRunner.reapStale();
    if (reaped > 0) console.log(`      runner: removed ${reaped} network namespaces left by killed runs`);
    await core().createNamespace({ body: { metadata: { name: system } } });
    const [cOps, iPort, iOps] = [await freePort(), await freePort(), await freePort()];
    const sentry = (opts.mtls ?? true) ? await startSentry(system, opts.sentryArgs ?? []) : undefined;
    const controller = startOutrigger("controller", [
      "--leader-election-namespace",
      system,
      "--ops-address",
      `127.0.0.1:${cOps}`,
      "--lease-duration",
      "4",
      // The same sidecar settings as the injector, so running sidecars are not reported stale.
      ...(sentry ? ["--sentry-namespace", system] : ["--mtls=false"]),
    ]);
    const injector = startOutrigger("injector", [
      "--namespace",
      system,
      "--listen-address",
      `127.0.0.1:${iPort}`,
      "--ops-address",
      `127.0.0.1:${iOps}`,
      "--webhook-url",
      `https://127.0.0.1:${iPort}/mutate`,
      "--webhook-config-name",
      webhookConfig,
      "--webhook-namespace-selector",
      `${DAPRD_SCOPE_LABEL}=${DAPRD_SCOPE}`,
      ...(sentry
        ? ["--sentry-namespace", system, "--trust-anchors-file", sentry.anchorsFile]
        : ["--mtls=false"]),
    ]);
    const runner = new SidecarRunner({
      kc: cluster().kc,
      daprd,
      ...(sentry ? { sentryPort: sentry.grpcPort } : {}),
    });
    env = { runner, controller, injector, daprd, sentry };
    await eventually(
      async () => {
        for (const port of [cOps, iOps]) {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          expect(res.status, `readyz on ${port}`).to.equal(200);
        }
        expect(controller.logs(), "the controller leads").to.contain("leading: starting reconcilers");
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    ).catch((err: unknown) => {
      // Not ready: what the two processes said is the only clue.
      for (const [name, p] of [
        ["controller", controller],
        ["injector", injector],
      ] as const)
        console.log(`----- ${name} log (last 40 lines) -----\n${p.logs().split("\n").slice(-40).join("\n")}`);
      throw err;
    });
  });

  after(async function () {
    this.timeout(150_000);
    await env?.runner.stopAll();
    await env?.sentry?.process.stop();
    env?.sentry?.stopAnchors();
    await env?.injector.stop();
    await env?.controller.stop();
    await kubectl(["delete", "mutatingwebhookconfiguration", webhookConfig, "--ignore-not-found"], {
      allowFail: true,
    });
    await core()
      .deleteNamespace({ name: system })
      .catch(() => undefined);
  });

  return {
    get runner() {
      return get().runner;
    },
    get controller() {
      return get().controller;
    },
    get injector() {
      return get().injector;
    },
    get daprd() {
      return get().daprd;
    },
    get sentry() {
      return get().sentry;
    },
  };
}

/** `outrigger sentry` in `namespace`, listening on all addresses (pods reach it at their host end). */
async function startSentry(namespace: string, extraArgs: string[]): Promise<SentryProcess> {
  const [grpcPort, opsPort] = [await freePort(), await freePort()];
  const proc = startOutrigger("sentry", [
    "--namespace",
    namespace,
    "--listen-address",
    `0.0.0.0:${grpcPort}`,
    "--ops-address",
    `127.0.0.1:${opsPort}`,
    ...extraArgs,
  ]);
  await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
      expect(res.status, `sentry readyz; logs:\n${proc.logs().slice(-3000)}`).to.equal(200);
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  const bundle = trustBundleFile({
    read: async () =>
      (await core().readNamespacedConfigMap({ namespace, name: TRUST_BUNDLE_CONFIGMAP })).data?.[
        TRUST_BUNDLE_KEY
      ],
    // Only on syncAnchors(): a spec decides when the injector sees a new bundle (a rotation).
    intervalMs: 0,
  });
  await bundle.sync();
  return {
    process: proc,
    namespace,
    grpcPort,
    opsPort,
    anchorsFile: bundle.file,
    syncAnchors: bundle.sync,
    stopAnchors: bundle.stop,
  };
}

/** Creates a bare Pod annotated for Dapr and returns it as injected by the webhook. */
export async function createDaprPod(
  namespace: string,
  name: string,
  appId: string,
  annotations: Record<string, string> = {},
): Promise<V1Pod> {
  const pod = await core().createNamespacedPod({
    namespace,
    body: {
      metadata: {
        name,
        labels: { app: appId },
        annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": appId, ...annotations },
      },
      spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
    },
  });
  const injected = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some(
    (c) => c.name === "daprd",
  );
  expect(injected, `pod ${namespace}/${name} was injected`).to.equal(true);
  return pod;
}

/** Waits for the controller to write the app's sidecar config. */
export async function waitForSidecarConfig(
  namespace: string,
  appId: string,
  timeoutMs = 30_000,
): Promise<void> {
  await eventually(
    async () => {
      await core().readNamespacedSecret({ namespace, name: sidecarConfigSecretName(appId) });
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** A pod, its config written, its daprd running. */
export async function runDaprPod(
  env: DaprdEnvironment,
  namespace: string,
  appId: string,
  annotations: Record<string, string> = {},
  opts: RunOptions & { podName?: string } = {},
): Promise<Sidecar> {
  const podName = opts.podName ?? appId;
  await createDaprPod(namespace, podName, appId, annotations);
  await waitForSidecarConfig(namespace, appId);
  return env.runner.start(namespace, podName, opts);
}

/** kubectl apply of objects given as values. */
export async function apply(namespace: string, ...objects: object[]): Promise<void> {
  await kubectl(["apply", "-f", "-"], {
    namespace,
    input: objects.map((o) => JSON.stringify(o)).join("\n"),
  });
}

export function componentObject(
  name: string,
  type: string,
  metadata: object[] = [],
  extra: object = {},
): object {
  return {
    apiVersion: "dapr.io/v1alpha1",
    kind: "Component",
    metadata: { name },
    spec: { type, version: "v1", metadata },
    ...extra,
  };
}

export function secretObject(name: string, data: Record<string, string>): object {
  return { apiVersion: "v1", kind: "Secret", metadata: { name }, stringData: data };
}

export async function deleteComponent(namespace: string, name: string): Promise<void> {
  await custom().deleteNamespacedCustomObject({
    group: "dapr.io",
    version: "v1alpha1",
    namespace,
    plural: "components",
    name,
  });
}

/** A dapr.io/v1alpha1 resource as the API server has it now (status included). */
export async function readDaprResource(
  namespace: string,
  plural: string,
  name: string,
): Promise<{ status?: { staleSidecars?: number; conditions?: Array<Record<string, string>> } }> {
  return (await custom().getNamespacedCustomObject({
    group: "dapr.io",
    version: "v1alpha1",
    namespace,
    plural,
    name,
  })) as { status?: { staleSidecars?: number; conditions?: Array<Record<string, string>> } };
}

/** Messages of the Events with `reason` on pod `name`. */
export async function podEventMessages(namespace: string, name: string, reason: string): Promise<string[]> {
  const list = await core().listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name},reason=${reason}`,
  });
  return list.items.map((e) => e.message ?? "");
}

/** A dapr.io/v1alpha1 Configuration object, for apply(). */
export function configurationObject(name: string, spec: object): object {
  return { apiVersion: "dapr.io/v1alpha1", kind: "Configuration", metadata: { name }, spec };
}

/** Waits for the startup probe (polled every 200 ms: only the verdict matters here); fails with daprd's log. */
export async function expectStarted(sidecar: Sidecar): Promise<number> {
  const startup = await sidecar.runProbe("startup", { periodMs: 200 });
  expect(
    startup.ok,
    `startup probe of ${sidecar.podName}: ${startup.last.detail}; daprd log:\n${sidecar.logs().slice(-6000)}`,
  ).to.equal(true);
  return startup.elapsedMs;
}

/** The components daprd reports in its metadata API (name -> type). */
export async function loadedComponents(sidecar: Sidecar): Promise<Map<string, string>> {
  const res = await sidecar.fetchInPod(3500, "/v1.0/metadata");
  expect(res.status, `metadata API: ${res.body}`).to.equal(200);
  const meta = JSON.parse(res.body) as { components?: Array<{ name: string; type: string }> };
  return new Map((meta.components ?? []).map((c) => [c.name, c.type]));
}
