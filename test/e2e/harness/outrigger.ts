// Outrigger processes started by specs: `node src/cli.ts <command>` against the test cluster.
// Their logs are kept so that a failing spec can print them.
import { spawn, type ChildProcess } from "node:child_process";
import { cluster, repoRoot } from "./cluster.ts";

export interface OutriggerProcess {
  name: string;
  pid: number;
  logs(): string;
  /** Sends the signal and resolves with the exit code once the process has ended. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  kill9(): Promise<void>;
  exited: Promise<number | null>;
}

const running = new Set<OutriggerProcess>();
const MAX_LOG = 2_000_000;

export function startOutrigger(
  command: "controller" | "injector" | "sentry",
  args: string[],
  env: Record<string, string> = {},
): OutriggerProcess {
  const child: ChildProcess = spawn(process.execPath, [`${repoRoot}src/cli.ts`, command, ...args], {
    cwd: repoRoot,
    env: { ...process.env, KUBECONFIG: cluster().kubeconfigPath, LOG_LEVEL: "debug", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`could not start outrigger ${command}`);
  let logs = "";
  const append = (d: Buffer) => {
    logs += d.toString();
    if (logs.length > MAX_LOG) logs = logs.slice(-MAX_LOG / 2);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const proc: OutriggerProcess = {
    name: `${command}[${child.pid}]`,
    pid: child.pid,
    logs: () => logs,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      running.delete(proc);
      return code;
    },
    async kill9() {
      await proc.stop("SIGKILL");
    },
  };
  running.add(proc);
  return proc;
}

/** Processes still running, for failure dumps. */
export function runningOutriggerProcesses(): OutriggerProcess[] {
  return [...running];
}

/** Stops whatever a spec left running, so the suite can exit. */
export async function stopAllOutrigger(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop("SIGKILL")));
}

/**
 * The injector's --trust-anchors-file for specs in which no daprd runs (kwok runs no containers):
 * mTLS is on by default, and the injector admits Dapr pods only with a trust bundle. A fixed root
 * (the injector's golden one) is enough there: nothing verifies against it. The specs that run
 * the real daprd run a real `outrigger sentry` (daprd-env.ts).
 */
export const STATIC_TRUST_ANCHORS_FILE = `${repoRoot}src/injector/testdata/mtls-trust-anchors.pem`;
