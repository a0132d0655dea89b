// `npm start`: runs Outrigger on this machine.
//
// With KUBECONFIG set, it uses that cluster. Otherwise it starts the local control plane
// (hack/local-cluster.sh) and stops it again on exit. Then it applies crds/, starts
// `outrigger controller`, `outrigger sentry` and `outrigger injector`, and registers the webhook
// for the local injector, and points the Subscription CRD's conversion webhook at it (so
// v1alpha1 Subscriptions work). mTLS is on, as by default: the injector reads Sentry's trust
// bundle from a file this script keeps in step with the published ConfigMap (the kubelet's job in
// a cluster). Ctrl-C stops the processes, removes the webhook registration (a webhook that points
// at a stopped process would block every pod), puts the CRD's conversion back as crds/ has it
// and, if it started it, stops the cluster.
import { readFileSync } from "node:fs";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "./lib/free-port.ts";
import { trustBundleFile, type TrustBundleFile } from "./lib/trust-bundle-file.ts";
import { tryItBlock } from "./lib/try-it.ts";
import { createKubeHttp } from "../src/shared/kube-http.ts";
import { loadApiEndpoint } from "../src/shared/kubeconfig.ts";
import { TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from "../src/sidecar/identity.ts";
import { load } from "js-yaml";
import {
  SUBSCRIPTION_CRD,
  conversionClientConfigPatch,
  crdConversionService,
  localInjectorArgs,
} from "./local-injector.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const run = promisify(execFile);
const NAMESPACE = process.env.OUTRIGGER_NAMESPACE ?? "outrigger-system";
const WEBHOOK_CONFIG = "outrigger-injector";

function say(msg: string): void {
  console.error(`start: ${msg}`);
}

/** Whether every component of the local control plane is already running (then it is not ours to stop). */
async function localClusterRunning(): Promise<boolean> {
  const { stdout } = await run(`${root}hack/local-cluster.sh`, ["status"]);
  return !stdout.includes("stopped");
}

async function localClusterUp(): Promise<string> {
  say("KUBECONFIG is not set: starting the local control plane (the first run builds it, see README)");
  const child = spawn(`${root}hack/local-cluster.sh`, ["up"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  const m = /export KUBECONFIG=(.+)\s*$/.exec(out);
  if (code !== 0 || !m?.[1]) throw new Error(`hack/local-cluster.sh up failed (exit ${code})`);
  return m[1].trim();
}

/** Whether every URL answers 200 within `timeoutMs` (polled twice a second, until `cancelled()`). */
async function allReady(urls: string[], timeoutMs: number, cancelled: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const ok = async (url: string) => {
    try {
      return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 200;
    } catch {
      return false;
    }
  };
  while (Date.now() < deadline && !cancelled()) {
    if ((await Promise.all(urls.map(ok))).every(Boolean)) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

function kubectl(kubeconfig: string, args: string[]): Promise<{ stdout: string }> {
  return run("kubectl", ["--kubeconfig", kubeconfig, ...args]);
}

/** Points the Subscription CRD's conversion at a local injector, or back at crds/' Service. */
async function patchConversion(
  kubeconfig: string,
  target: Parameters<typeof conversionClientConfigPatch>[0],
): Promise<void> {
  await kubectl(kubeconfig, [
    "patch",
    "crd",
    SUBSCRIPTION_CRD,
    "--type=merge",
    "-p",
    conversionClientConfigPatch(target),
  ]);
}

function startProcess(name: string, args: string[], kubeconfig: string): ChildProcess {
  const child = spawn(process.execPath, [`${root}src/cli.ts`, ...args], {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    stdio: ["ignore", "inherit", "inherit"],
  });
  say(`started outrigger ${name} (pid ${child.pid})`);
  return child;
}

async function main(): Promise<number> {
  const startedCluster = !process.env.KUBECONFIG && !(await localClusterRunning());
  const kubeconfig = process.env.KUBECONFIG ?? (await localClusterUp());
  const children: ChildProcess[] = [];
  let stopping = false;
  let readyz: string[];
  let conversionPointed = false;
  let bundle: TrustBundleFile | undefined;
  const crdService = crdConversionService(load(readFileSync(`${root}crds/${SUBSCRIPTION_CRD}.yaml`, "utf8")));

  const shutdown = async (code: number): Promise<number> => {
    if (stopping) return code;
    stopping = true;
    say("stopping");
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
          }),
      ),
    );
    bundle?.stop();
    // A conversion webhook at a stopped process fails every v1alpha1 request: back to crds/' Service.
    if (conversionPointed)
      await patchConversion(kubeconfig, { service: crdService }).catch((err: Error) =>
        say(`could not restore the Subscription CRD's conversion webhook: ${err.message}`),
      );
    // The injector removes its registration on exit; this is the safety net if it could not.
    await kubectl(kubeconfig, [
      "delete",
      "mutatingwebhookconfigurations",
      "--field-selector",
      `metadata.name=${WEBHOOK_CONFIG}`,
      "-l",
      "app.kubernetes.io/managed-by=outrigger",
    ]).catch((err: Error) => say(`could not remove the webhook registration: ${err.message}`));
    if (startedCluster && process.env.OUTRIGGER_KEEP_CLUSTER !== "1") {
      await run(`${root}hack/local-cluster.sh`, ["down"]).catch((err: Error) => say(err.message));
    }
    return code;
  };

  try {
    // A run that was killed left the CRD pointing at its injector: put the Service back first,
    // or applying crds/ would leave both url and service.
    await patchConversion(kubeconfig, { service: crdService }).catch(() => undefined);
    await kubectl(kubeconfig, ["apply", "--server-side", "--force-conflicts", "-f", `${root}crds/`]);
    await kubectl(kubeconfig, ["wait", "--for=condition=Established", "--timeout=60s", "-f", `${root}crds/`]);
    await kubectl(kubeconfig, ["create", "namespace", NAMESPACE]).catch(() => undefined);

    const [webhookPort, controllerOps, injectorOps, sentryPort, sentryOps] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    // Sentry publishes the bundle when it starts; the injector is ready once it has read it.
    const kube = createKubeHttp(loadApiEndpoint(kubeconfig));
    bundle = trustBundleFile({
      read: async () => {
        const path = `/api/v1/namespaces/${NAMESPACE}/configmaps/${TRUST_BUNDLE_CONFIGMAP}`;
        const cm = await kube
          .json<{ data?: Record<string, string> }>({ path, timeoutMs: 10_000 })
          .catch(() => undefined);
        return cm?.data?.[TRUST_BUNDLE_KEY];
      },
      intervalMs: 2000,
      onError: (err) => say(`could not copy the trust bundle: ${err.message}`),
    });
    // Controller and injector: the same sidecar settings (Sentry in this namespace), so the
    // controller does not report the injected sidecars as stale.
    const sidecarArgs = ["--sentry-namespace", NAMESPACE];
    // The injector writes its CA into the CRD's caBundle once it runs (src/injector/crd-conversion.ts).
    await patchConversion(kubeconfig, { port: webhookPort });
    conversionPointed = true;
    say(`Subscription conversion webhook: https://127.0.0.1:${webhookPort}/convert`);
    children.push(
      startProcess(
        "controller",
        [
          "controller",
          "--ops-address",
          `127.0.0.1:${controllerOps}`,
          "--leader-election-namespace",
          NAMESPACE,
          ...sidecarArgs,
        ],
        kubeconfig,
      ),
      startProcess(
        "sentry",
        [
          "sentry",
          "--namespace",
          NAMESPACE,
          "--listen-address",
          `127.0.0.1:${sentryPort}`,
          "--ops-address",
          `127.0.0.1:${sentryOps}`,
        ],
        kubeconfig,
      ),
      startProcess(
        "injector",
        [
          "injector",
          ...localInjectorArgs(
            { namespace: NAMESPACE, port: webhookPort, opsPort: injectorOps },
            ...sidecarArgs,
            "--trust-anchors-file",
            bundle.file,
          ),
        ],
        kubeconfig,
      ),
    );
    readyz = [
      `http://127.0.0.1:${controllerOps}/readyz`,
      `http://127.0.0.1:${sentryOps}/readyz`,
      `http://127.0.0.1:${injectorOps}/readyz`,
    ];
    say(`controller: ${readyz[0]}, sentry: ${readyz[1]}, injector: ${readyz[2]}`);
  } catch (err) {
    say((err as Error).message);
    return shutdown(1);
  }

  const done = new Promise<number>((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void shutdown(0).then(resolve));
    for (const c of children) {
      c.once("exit", (code, signal) => {
        if (stopping) return;
        say(`a process exited unexpectedly (code ${code}, signal ${signal})`);
        void shutdown(1).then(resolve);
      });
    }
  });
  // The block ends start-up: printed once every process is ready, so the sample works at once.
  const ready = await allReady(readyz, 90_000, () => stopping);
  if (!stopping) process.stderr.write(tryItBlock(kubeconfig, ready));
  return done;
}

process.exitCode = await main();
