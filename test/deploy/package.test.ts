// The package as users install it: `npm pack` (which builds dist/ first), `npm install -g` of the
// tarball into a throwaway prefix, then the installed `outrigger` binary runs --help and an
// offline inject. Proves the bin, the files list (dist/, crds/, package.json) and the runtime
// dependencies; nothing here reads the checkout.
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { repoRoot } from "./helm.ts";

const run = promisify(execFile);

describe("the npm package", function () {
  // tsc, then an install from the npm cache: over a minute on the busy 2-core machine.
  this.timeout(15 * 60_000);
  const work = mkdtempSync(join(tmpdir(), "outrigger-package-"));
  // The installed bin runs on the `node` of PATH: this Node (the pinned one) first.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` };
  const bin = join(work, "prefix", "bin", "outrigger");

  before(async function () {
    const started = Date.now();
    const { stdout } = await run("npm", ["pack", "--silent", "--pack-destination", work], {
      cwd: repoRoot,
      env,
      maxBuffer: 1 << 24,
    });
    const tarball = join(work, stdout.trim().split("\n").pop() ?? "");
    const packed = Date.now();
    await run(
      "npm",
      [
        "install",
        "--global",
        "--prefix",
        join(work, "prefix"),
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        tarball,
      ],
      { cwd: work, env, maxBuffer: 1 << 24 },
    );
    process.stderr.write(
      `    npm pack ${((packed - started) / 1000).toFixed(1)} s, npm install -g ${((Date.now() - packed) / 1000).toFixed(1)} s\n`,
    );
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it("installs an outrigger binary that prints its commands", async function () {
    const { stdout } = await run(bin, ["--help"], { env, cwd: work });
    expect(stdout).to.include("Usage: outrigger <command> [flags]");
    for (const cmd of ["controller", "injector", "inject", "explain", "version"])
      expect(stdout).to.match(new RegExp(`^  ${cmd} `, "m"));
  });

  it("runs inject offline from the installed package", async function () {
    const file = join(work, "pod.yaml");
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n    dapr.io/enabled: "true"\nspec:\n  containers:\n    - name: app\n      image: nginx\n',
    );
    // mTLS is on by default: the sidecar gets the trust bundle given.
    const anchors = join(work, "ca.crt");
    copyFileSync(join(repoRoot, "src/injector/testdata/mtls-trust-anchors.pem"), anchors);
    const { stdout, stderr } = await run(bin, ["inject", "-f", file, "--trust-anchors-file", anchors], {
      env,
      cwd: work,
    });
    expect(stderr).to.equal("Pod web: injected (app-id web)\n");
    expect(stdout).to.include("- name: daprd").and.include("--enable-mtls");
    const version = await run(bin, ["version"], { env, cwd: work });
    expect(stdout).to.include(`"version":"${version.stdout.trim()}"`);
  });
});
