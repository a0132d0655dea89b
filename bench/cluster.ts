// The cluster the controller benchmark runs on. By default a dedicated local cluster
// (hack/local-cluster.sh with its own state directory, .outrigger/bench-cluster): the controller
// under test watches every namespace, and on a shared cluster it would write sidecar configs into
// other people's test namespaces, while their objects would skew the numbers. --kubeconfig picks
// an existing cluster instead.
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./processes.ts";

const run = promisify(execFile);
const script = join(repoRoot, "hack/local-cluster.sh");
export const BENCH_CLUSTER_DIR = join(repoRoot, ".outrigger/bench-cluster");

export interface BenchCluster {
  kubeconfigPath: string;
  /** "dedicated" (hack/local-cluster.sh, its own state) or "given" (--kubeconfig). */
  kind: "dedicated" | "given";
  /** Takes the dedicated cluster down if this run brought it up, unless asked to keep it. */
  release(): Promise<void>;
  /** The dedicated cluster's processes by component (none for a given cluster). */
  componentPids(): Record<string, number>;
}

export async function benchCluster(opts: {
  kubeconfig?: string;
  keep: boolean;
  progress: (line: string) => void;
}): Promise<BenchCluster> {
  if (opts.kubeconfig) {
    const kubeconfigPath = opts.kubeconfig;
    await applyCrds(kubeconfigPath);
    return { kubeconfigPath, kind: "given", release: async () => {}, componentPids: () => ({}) };
  }
  // The kube-controller-manager at 10x its default rate: it makes the Deployments' ReplicaSets
  // before the controller under test starts, and at 20 requests/s 2,000 of them took minutes.
  const env = { ...process.env, OUTRIGGER_CLUSTER_DIR: BENCH_CLUSTER_DIR, OUTRIGGER_KCM_API_QPS: "200" };
  opts.progress(
    `controller: starting a dedicated local cluster in ${BENCH_CLUSTER_DIR} (the first run builds Kubernetes)`,
  );
  const { kubeconfigPath, alreadyRunning } = await new Promise<{
    kubeconfigPath: string;
    alreadyRunning: boolean;
  }>((resolve, reject) => {
    const child = spawn(script, ["up"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const m = /^export KUBECONFIG=(.+)$/m.exec(stdout.trim().split("\n").pop() ?? "");
      if (code !== 0 || !m?.[1]) reject(new Error(`local-cluster.sh up exited ${code}:\n${stderr}`));
      else resolve({ kubeconfigPath: m[1], alreadyRunning: stderr.includes("already running") });
    });
  });
  await applyCrds(kubeconfigPath);
  const raised = shareOurCpuPriority(componentPids());
  if (raised.length)
    opts.progress(`controller: cluster components at the benchmark's CPU priority (${raised.join(", ")})`);
  return {
    kubeconfigPath,
    kind: "dedicated",
    componentPids,
    async release() {
      if (alreadyRunning || opts.keep) return;
      opts.progress("controller: taking the dedicated cluster down");
      await run(script, ["down"], { env });
    },
  };
}

/** The dedicated cluster's processes by component, from the pid files hack/local-cluster.sh writes. */
function componentPids(): Record<string, number> {
  const dir = join(BENCH_CLUSTER_DIR, "pids");
  const pids: Record<string, number> = {};
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const pid = Number(readFileSync(join(dir, name), "utf8").trim());
    if (pid > 0) pids[name] = pid;
  }
  return pids;
}

/**
 * Gives the cluster's components the CPU priority of the benchmark's own session. They run in a
 * session of their own (local-cluster.sh starts them with setsid), hence in their own autogroup,
 * which competes with any other session on the machine as an equal: a benchmark raised above
 * other work (an autogroup nice below 0) would otherwise measure an API server that is not.
 * Returns the components raised; none where the kernel has no autogroups or refuses (not root).
 */
function shareOurCpuPriority(pids: Record<string, number>): string[] {
  let nice: number;
  try {
    const m = / nice (-?\d+)/.exec(readFileSync("/proc/self/autogroup", "utf8"));
    if (!m) return [];
    nice = Number(m[1]);
  } catch {
    return [];
  }
  const raised: string[] = [];
  for (const [name, pid] of Object.entries(pids)) {
    try {
      writeFileSync(`/proc/${pid}/autogroup`, String(nice));
      raised.push(`${name} ${nice}`);
    } catch {
      // not ours to change: measured as it is
    }
  }
  return raised;
}

async function applyCrds(kubeconfigPath: string): Promise<void> {
  const kubectl = (args: string[]) => run("kubectl", ["--kubeconfig", kubeconfigPath, ...args]);
  await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
  await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", join(repoRoot, "crds")]);
}
