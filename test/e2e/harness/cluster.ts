// The cluster the e2e suite runs against, chosen by OUTRIGGER_E2E_PROVIDER:
//   local (default)  hack/local-cluster.sh: real etcd, kube-apiserver, controller-manager,
//                    scheduler and kwok on loopback; torn down afterwards if this run started it,
//                    unless OUTRIGGER_E2E_KEEP_CLUSTER=1 or the file .outrigger/keep-cluster exists
//   existing         $KUBECONFIG as it is (nothing started or stopped)
//   kind             like existing; hack/kind-e2e.sh creates the cluster and sets KUBECONFIG
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { Agent, type Dispatcher } from "undici";
import { loadApiEndpoint, type ApiEndpoint } from "../../../src/shared/kubeconfig.ts";

export type Provider = "local" | "existing" | "kind";

export interface Cluster {
  provider: Provider;
  kubeconfigPath: string;
  kc: KubeConfig;
  /** The same kubeconfig, as Outrigger's controller loads it (src/shared/kubeconfig.ts). */
  endpoint: ApiEndpoint;
  /** Whether the suite brought the cluster up, and so takes it down. */
  startedBySuite: boolean;
  /** Stops one control-plane process (local provider only), e.g. "kube-apiserver". */
  stopComponent(name: string): Promise<void>;
  startComponent(name: string): Promise<void>;
}

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const localClusterScript = `${repoRoot}hack/local-cluster.sh`;
const run = promisify(execFile);

let current: Cluster | undefined;

export function cluster(): Cluster {
  if (!current)
    throw new Error("the e2e cluster is not started: run specs with --config test/e2e/.mocharc.json");
  return current;
}

function providerFromEnv(): Provider {
  const p = process.env.OUTRIGGER_E2E_PROVIDER ?? "local";
  if (p !== "local" && p !== "existing" && p !== "kind") {
    throw new Error(`OUTRIGGER_E2E_PROVIDER=${p}: want local, existing or kind`);
  }
  return p;
}

/** Runs `local-cluster.sh up`, streaming its progress (the first run builds Kubernetes). */
function localUp(): Promise<{ kubeconfigPath: string; alreadyRunning: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(localClusterScript, ["up"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let alreadyRunning = false;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      const text = d.toString();
      if (text.includes("already running")) alreadyRunning = true;
      process.stderr.write(text);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const last = stdout.trim().split("\n").pop() ?? "";
      const m = /^export KUBECONFIG=(.+)$/.exec(last);
      if (code !== 0 || !m?.[1]) reject(new Error(`local-cluster.sh up exited ${code}: ${last}`));
      else resolve({ kubeconfigPath: m[1], alreadyRunning });
    });
  });
}

export async function startCluster(): Promise<Cluster> {
  const provider = providerFromEnv();
  let kubeconfigPath: string;
  let startedBySuite = false;
  if (provider === "local") {
    const up = await localUp();
    kubeconfigPath = up.kubeconfigPath;
    // Keep the cluster for the next run when asked to, by env or by a marker file (handy when
    // several runs share one cluster during development).
    const keep =
      process.env.OUTRIGGER_E2E_KEEP_CLUSTER === "1" || existsSync(`${repoRoot}.outrigger/keep-cluster`);
    startedBySuite = !up.alreadyRunning && !keep;
  } else {
    const path = process.env.KUBECONFIG;
    if (!path || !existsSync(path)) throw new Error(`provider ${provider} needs KUBECONFIG set to a file`);
    kubeconfigPath = path;
  }
  const kc = http1KubeConfig(kubeconfigPath);
  const component = async (verb: "stop" | "start", name: string) => {
    if (provider !== "local") throw new Error(`${verb} ${name}: only the local provider controls components`);
    await run(localClusterScript, [verb, name]);
  };
  current = {
    provider,
    kubeconfigPath,
    kc,
    endpoint: loadApiEndpoint(kubeconfigPath),
    startedBySuite,
    stopComponent: (name) => component("stop", name),
    startComponent: (name) => component("start", name),
  };
  return current;
}

/**
 * A KubeConfig whose requests share one HTTP/1.1 agent. client-node 2 gives every request a new
 * undici Agent, and undici 8 negotiates HTTP/2 with the API server. On the cold CI run a watch
 * stream never got its response headers, the abort of client-node's Watch did not reach the
 * HTTP/2 stream, and the spec that started it hung until its timeout, twice. Outrigger's own
 * client (src/shared/kube-http.ts) speaks HTTP/1.1, and so does the suite now.
 */
export function http1KubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  let agent: Agent | undefined;
  type CreateDispatcher = (
    cluster: Parameters<KubeConfig["createDispatcherOptions"]>[0],
    agentOptions: object,
  ) => Dispatcher | undefined;
  const patched = kc as unknown as { createDispatcher: CreateDispatcher };
  const viaProxy = patched.createDispatcher.bind(kc);
  patched.createDispatcher = (cluster, agentOptions) => {
    const opts = kc.createDispatcherOptions(cluster, agentOptions);
    if (opts.type === "proxy" || opts.type === "socks") return viaProxy(cluster, agentOptions);
    agent ??= new Agent({ ...(opts.type === "agent" ? { connect: opts.connect } : {}), allowH2: false });
    return agent;
  };
  return kc;
}

export async function stopCluster(): Promise<void> {
  if (current?.startedBySuite) await run(localClusterScript, ["down"]);
  current = undefined;
}
