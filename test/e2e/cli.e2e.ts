// The user-facing commands against the local cluster: `outrigger controller` refusing to start
// without its Lease namespace, `outrigger inject --from-cluster`, and `outrigger explain` on an
// injected, a skipped and a denied pod. Each prints what the command printed.
import { spawn } from "node:child_process";
import { expect } from "chai";
import { cluster, repoRoot } from "./harness/cluster.ts";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `node src/cli.ts <args>` against the test cluster, with `input` on stdin. */
export function outrigger(args: string[], input = "", timeoutMs = 60_000): Promise<CliRun> {
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
