// Small helpers for e2e specs: kubectl against the test cluster, and retrying assertions.
import { spawn } from "node:child_process";
import { cluster } from "./cluster.ts";

export { freePort } from "../../../hack/lib/free-port.ts";

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  input?: string;
  namespace?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFail?: boolean;
}

export function kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const full = [
    "--kubeconfig",
    cluster().kubeconfigPath,
    ...(opts.namespace ? ["-n", opts.namespace] : []),
    ...args,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("kubectl", full, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const result = { code: code ?? -1, stdout, stderr };
      if (result.code !== 0 && !opts.allowFail) {
        reject(new Error(`kubectl ${args.join(" ")} exited ${result.code}: ${stderr.trim()}`));
      } else resolve(result);
    });
    child.stdin.end(opts.input ?? "");
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Retries `fn` until it resolves, or rethrows its last error after the timeout. */
export async function eventually<T>(
  fn: () => Promise<T>,
  { timeoutMs = 30_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await sleep(intervalMs);
    }
  }
}
