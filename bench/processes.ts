// Child processes under test: each is its own `node` process (so its CPU and RSS are its own),
// logging into a file as a container runtime would, stopped with SIGTERM like a pod.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";

export { freePort } from "../hack/lib/free-port.ts";

export const repoRoot = fileURLToPath(new URL("../", import.meta.url));

export interface NodeProcess {
  pid: number;
  logFile: string;
  /** Last lines of the log, for error messages. */
  tail(lines?: number): string;
  /** Sends SIGTERM (then SIGKILL after graceMs) and resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
}

/** Starts `node <nodeArgs> <script> <args>` with stdout and stderr appended to logFile. */
export function startNode(opts: {
  script: string;
  args: string[];
  nodeArgs?: string[];
  logFile: string;
  env?: Record<string, string>;
}): NodeProcess {
  const fd = openSync(opts.logFile, "a");
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.script, ...opts.args], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${opts.script}`);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const tail = (lines = 30) => {
    try {
      return readFileSync(opts.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  };
  return {
    pid: child.pid,
    logFile: opts.logFile,
    tail,
    exited,
    signal: (sig) => void child.kill(sig),
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Plain HTTP GET on loopback; resolves with status and body, rejects on connection errors. */
export function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on("error", reject);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls url until it answers 200; fails early if the process exits. */
export async function waitForReady(proc: NodeProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: number | null | undefined;
  void proc.exited.then((c) => (exitedWith = c));
  for (;;) {
    if (exitedWith !== undefined)
      throw new Error(`process exited (${exitedWith}) before ready:\n${proc.tail()}`);
    const ok = await httpGet(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs} ms:\n${proc.tail()}`);
    await sleep(100);
  }
}
