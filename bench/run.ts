// `npm run bench [-- <injector|controller>...] [flags]`: runs the benchmarks, prints a table per
// benchmark and writes every number to bench/results/<timestamp>.json (logs and CPU profiles go
// to bench/results/<timestamp>/). `--smoke` runs each one tiny, to prove it still works.
import { load } from "js-yaml";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { outriggerVersion } from "../src/shared/version.ts";
import { outriggerCli } from "./build.ts";
import { controllerReport, runControllerBench, type ControllerBenchOptions } from "./controller.ts";
import { runControllerScaling, scalingReport } from "./controller-scaling.ts";
import { injectorReport, runInjectorBench, type InjectorBenchOptions } from "./injector.ts";
import { repoRoot } from "./processes.ts";
import { loadAverage } from "./stats.ts";

const BENCHMARKS = ["injector", "controller"] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const flags = {
  smoke: {
    type: "boolean",
    description: "Run each benchmark tiny (seconds): proves it works, measures nothing",
  },
  out: { type: "string", default: join(repoRoot, "bench/results"), description: "Directory of the results" },
  source: {
    type: "boolean",
    description: "Run Outrigger from src/*.ts instead of a compiled build (starts quicker, uses more memory)",
  },
  outrigger: {
    type: "string",
    default: repoRoot,
    description: "Checkout whose Outrigger is measured (to compare a change against this one)",
  },
  // injector
  concurrency: {
    type: "string",
    default: "1,4,16,64",
    description: "Injector: closed-loop concurrency levels",
  },
  duration: { type: "string", default: "10", description: "Injector: measured seconds per run" },
  warmup: { type: "string", default: "2", description: "Injector: warm-up seconds before each run" },
  rounds: {
    type: "string",
    default: "1",
    description: "Injector: rounds per level (best throughput, median p99 kept: filters other load)",
  },
  "log-level": { type: "string", default: "info", description: "Injector: --log-level of the injector" },
  "cpu-reviews": {
    type: "string",
    default: "20000",
    description: "Injector: reviews per CPU-per-review run (server CPU time / reviews)",
  },
  profile: {
    type: "boolean",
    description:
      "Profile with node --cpu-prof: both injector servers in an extra run; the controller throughout",
  },
  // controller
  kubeconfig: {
    type: "string",
    description: "Controller: use this cluster (the controller watches all namespaces in it)",
  },
  "keep-cluster": { type: "boolean", description: "Controller: leave the dedicated bench cluster running" },
  namespaces: { type: "string", default: "50", description: "Controller: namespaces" },
  apps: { type: "string", default: "10", description: "Controller: apps (Deployments) per namespace" },
  components: { type: "string", default: "20", description: "Controller: Components per namespace" },
  updates: { type: "string", default: "100", description: "Controller: Component updates to time" },
  "unrelated-pods": {
    type: "string",
    default: "0",
    description: "Controller: pods without Dapr, in namespaces of their own, in the main run",
  },
  scale: {
    type: "boolean",
    default: true,
    description: "Controller: the scaling table (one cold start per size; --no-scale skips it)",
  },
  "scale-pods": {
    type: "string",
    default: "0,5000,20000",
    description: "Controller: unrelated pods per scaling run (with the main load's apps)",
  },
  "scale-apps": {
    type: "string",
    default: "500,1000,2000",
    description: "Controller: apps per scaling run (--apps per namespace, no unrelated pods)",
  },
  "controller-node-options": {
    type: "string",
    description:
      "Controller: node flags, space-separated (default: the chart's controller.nodeOptions, as deployed)",
  },
  "heap-snapshot": { type: "boolean", description: "Controller: heap snapshot of the controller at the end" },
  "controller-concurrency": { type: "string", default: "4", description: "Controller: its --concurrency" },
  help: { type: "boolean", short: "h", description: "Show this help" },
} as const;

/** The controller's NODE_OPTIONS in the Helm chart: the benchmark measures the controller as deployed. */
function chartControllerNodeOptions(): string {
  const values = load(readFileSync(join(repoRoot, "deploy/helm/outrigger/values.yaml"), "utf8")) as {
    controller?: { nodeOptions?: unknown };
  };
  const nodeOptions = values.controller?.nodeOptions;
  return typeof nodeOptions === "string" ? nodeOptions : "";
}

function usage(): string {
  const lines = ["Usage: npm run bench -- [injector] [controller] [flags]", "", "Flags:"];
  for (const [name, f] of Object.entries(flags)) {
    const dflt = "default" in f ? ` (default: ${f.default})` : "";
    lines.push(`  --${name}${f.type === "string" ? " <value>" : ""}`.padEnd(32) + f.description + dflt);
  }
  return lines.join("\n");
}

function count(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} ${JSON.stringify(raw)}: want a whole number, 0 or more`);
  return n;
}

const counts = (name: string, raw: string) =>
  raw
    .split(",")
    .filter((c) => c.trim() !== "")
    .map((c) => count(name, c.trim()));

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name} ${JSON.stringify(raw)}: want a positive integer`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: flags,
    allowPositionals: true,
    allowNegative: true,
    strict: true,
  });
  if (values.help) {
    console.log(usage());
    return 0;
  }
  const unknown = positionals.filter((p) => !BENCHMARKS.includes(p as Benchmark));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(", ")}; want ${BENCHMARKS.join(" or ")}\n\n${usage()}`);
    return 2;
  }
  const selected = positionals.length > 0 ? (positionals as Benchmark[]) : [...BENCHMARKS];
  const smoke = values.smoke === true;
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const outDir = join(values.out, stamp);
  mkdirSync(outDir, { recursive: true });
  const progress = (line: string) => console.error(line);

  const results: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    outrigger: outriggerVersion,
    node: process.version,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
    loadAverageAtStart: loadAverage(),
    smoke,
  };
  const reports: string[] = [];
  if (!values.source) progress("compiling Outrigger (as the image runs it: node dist/cli.js)");
  const cli = await outriggerCli(values.source === true, values.outrigger);
  results.outriggerEntryPoint = cli;

  if (selected.includes("injector")) {
    const opts: InjectorBenchOptions = smoke
      ? {
          concurrency: [1, 4],
          rounds: 1,
          warmupMs: 200,
          durationMs: 500,
          cpuReviews: 200,
          logLevel: values["log-level"],
          cli,
          profile: false,
          outDir,
          progress,
        }
      : {
          concurrency: values.concurrency.split(",").map((c) => positiveInt("concurrency", c.trim())),
          rounds: positiveInt("rounds", values.rounds),
          warmupMs: Number(values.warmup) * 1000,
          durationMs: positiveInt("duration", values.duration) * 1000,
          cpuReviews: positiveInt("cpu-reviews", values["cpu-reviews"]),
          logLevel: values["log-level"],
          cli,
          profile: values.profile === true,
          outDir,
          progress,
        };
    const r = await runInjectorBench(opts);
    results.injector = r;
    reports.push(injectorReport(r));
  }
  if (selected.includes("controller")) {
    const opts: ControllerBenchOptions = {
      namespaces: smoke ? 1 : positiveInt("namespaces", values.namespaces),
      apps: smoke ? 2 : positiveInt("apps", values.apps),
      components: smoke ? 3 : positiveInt("components", values.components),
      unrelatedPods: smoke ? 0 : count("unrelated-pods", values["unrelated-pods"]),
      updates: smoke ? 3 : positiveInt("updates", values.updates),
      controllerConcurrency: positiveInt("controller-concurrency", values["controller-concurrency"]),
      cli,
      ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      keepCluster: values["keep-cluster"] === true,
      heapSnapshot: values["heap-snapshot"] === true,
      profile: values.profile === true,
      nodeOptions: (values["controller-node-options"] ?? chartControllerNodeOptions())
        .split(" ")
        .filter((o) => o !== ""),
      outDir,
      progress,
    };
    const r = await runControllerBench(opts);
    results.controller = r;
    reports.push(controllerReport(r));
    if (values.scale) {
      const axes = smoke
        ? { pods: [0, 20], apps: [2, 4] }
        : {
            pods: counts("scale-pods", values["scale-pods"]),
            apps: counts("scale-apps", values["scale-apps"]),
          };
      const scaling = await runControllerScaling(opts, axes);
      results.controllerScaling = scaling;
      reports.push(scalingReport(scaling));
    }
  }

  results.loadAverageAtEnd = loadAverage();
  const file = join(values.out, `${stamp}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  console.log(reports.join("\n\n"));
  console.log(`\nresults: ${file}\nlogs and profiles: ${outDir}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  },
);
