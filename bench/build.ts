// The Outrigger the benchmarks run: compiled JavaScript, as the container image runs it
// (`node dist/cli.js`), not the TypeScript sources. Node's type stripping costs start-up time and
// memory that production never pays. The build goes to a private directory, so a benchmark never
// races a `npm run build` of dist/ by someone else.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./processes.ts";

const run = promisify(execFile);

/**
 * Compiles the src/ of the checkout at `root` like `npm run build` and returns the path of the
 * compiled cli.js.
 */
export async function buildOutrigger(root: string): Promise<string> {
  const buildDir = join(root, ".outrigger/bench-build");
  const outDir = join(buildDir, "dist");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  await run(process.execPath, [
    join(repoRoot, "node_modules/typescript/bin/tsc"),
    "-p",
    join(root, "tsconfig.build.json"),
    "--outDir",
    outDir,
    "--sourceMap",
    "false",
  ]).catch((err: { stdout?: string; message: string }) => {
    // tsc emits even with type errors; only a missing output is fatal.
    if (!existsSync(join(outDir, "cli.js"))) throw new Error(`tsc failed: ${err.stdout ?? err.message}`);
  });
  // The compiled code finds package.json and crds/ next to its dist/, as in the image.
  for (const name of ["package.json", "crds"]) {
    const link = join(buildDir, name);
    if (!existsSync(link)) symlinkSync(join(root, name), link);
  }
  return join(outDir, "cli.js");
}

/**
 * The entry point for a run: the compiled build, or the sources when asked (quicker to start).
 * `root` is the checkout to benchmark: this one, or another to compare a change against it.
 */
export async function outriggerCli(fromSource: boolean, root = repoRoot): Promise<string> {
  return fromSource ? join(root, "src/cli.ts") : buildOutrigger(root);
}
