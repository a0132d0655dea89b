// Injector benchmark: AdmissionReviews per second and latency over HTTPS with keep-alive on
// loopback, for the real `outrigger injector` process and for a minimal Node HTTPS server that
// only parses the review and answers "allowed" (the ceiling for Node on this machine).
//
// Per concurrency level, the injector and the reference run back to back (so a change in the
// machine's load hits both), each with a fresh load-generator process. Then both serve a fixed
// rate of half the injector's peak, for the latency target. With `profile`, a last run of each
// server under `node --cpu-prof` shows what the CPU time goes to.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOOPBACK_HOSTS, rotateCertificates } from "../src/injector/certs.ts";
import { UID_PLACEHOLDER, runLoadInChild, type LoadResult, type LoadSpec } from "./load.ts";
import { freePort, repoRoot, sleep, startNode, waitForReady, type NodeProcess } from "./processes.ts";
import { summarizeProfile, type CpuProfile, type ProfileSummary } from "./profile.ts";
import { formatTable, loadAverage, processCpuSeconds } from "./stats.ts";

export interface InjectorBenchOptions {
  concurrency: number[];
  /** Runs per concurrency level and per server (and of the half-peak rate). */
  rounds: number;
  warmupMs: number;
  durationMs: number;
  /** The injector's --log-level; production runs at info (a line per denial; pods admitted at debug). */
  logLevel: string;
  /** The Outrigger entry point to run (compiled dist/cli.js, or src/cli.ts). */
  cli: string;
  /** Run both servers under --cpu-prof too, and summarize the profiles. */
  profile: boolean;
  /** Reviews of the CPU-per-review run (fixed count, at CPU_CONCURRENCY). */
  cpuReviews: number;
  /** Where logs and profiles go. */
  outDir: string;
  progress: (line: string) => void;
}

export interface ServerRun extends LoadResult {
  /** CPU the server used during the window, in percent of one core. */
  serverCpuPercent: number | undefined;
  /** The server's CPU time during the window per review answered in it, in ms. */
  serverCpuMsPerReview: number | undefined;
  /** The measured window on the monotonic clock, in microseconds (to cut a CPU profile to it). */
  windowUs: { fromUs: number; toUs: number };
}

export interface InjectorBenchResult {
  reviewBytes: number;
  logLevel: string;
  rounds: number;
  levels: Array<{
    concurrency: number;
    /** The best round of each server. */
    injector: ServerRun;
    reference: ServerRun;
    ratio: number;
    roundThroughputs: { injector: number[]; reference: number[] };
  }>;
  peak: { injector: number; reference: number; ratio: number; injectorConcurrency: number };
  halfPeak: {
    perSecond: number;
    /** The round with the median p99 of each server. */
    injector: ServerRun;
    reference: ServerRun;
    roundP99Ms: { injector: number[]; reference: number[] };
  };
  /**
   * The server's CPU time over a fixed number of reviews (after a warm-up), per review: steadier
   * than throughput on a shared machine, since time the server does not get is not counted.
   * The lowest of the rounds of each server.
   */
  cpuPerReview: {
    reviews: number;
    concurrency: number;
    injectorMs: number;
    referenceMs: number;
    ratio: number;
    roundMs: { injector: number[]; reference: number[] };
  };
  profiles?: { injector: ProfileSummary; reference: ProfileSummary; files: string[] };
  loadAverage: { start: number; end: number };
  targets: {
    ratio: { want: number; got: number; met: boolean };
    cpuPerReviewRatio: { want: number; got: number; met: boolean };
    halfPeakP99Ms: { want: number; got: number; met: boolean };
  };
}

const HALF_PEAK_MAX_CONNECTIONS = 64;
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 5;
const TARGET_CPU_RATIO = 1.25;
const CPU_CONCURRENCY = 16;

/** The AdmissionReview the API server would send for the benchmark pod, with a uid placeholder. */
export function benchReviewTemplate(): string {
  const pod = JSON.parse(readFileSync(new URL("./pod.json", import.meta.url), "utf8")) as {
    metadata: { namespace: string };
  };
  const gvk = { group: "", version: "v1", kind: "Pod" };
  const gvr = { group: "", version: "v1", resource: "pods" };
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: UID_PLACEHOLDER,
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      namespace: pod.metadata.namespace,
      operation: "CREATE",
      userInfo: {
        username: "system:serviceaccount:kube-system:replicaset-controller",
        uid: "5b1c0f47-3a0e-4d4f-9f0a-2b8c7d6e5f41",
        groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
    },
  });
}

interface Server {
  name: "injector" | "reference";
  proc: NodeProcess;
  url: string;
  expect: LoadSpec["expect"];
}

interface Tls {
  certFile: string;
  keyFile: string;
  caPem: string;
}

function makeCertificates(dir: string): Tls {
  const { certificates } = rotateCertificates(undefined, new Date(), {
    ...LOOPBACK_HOSTS,
    caCommonName: "outrigger-bench-ca",
    caValidityMs: 24 * 3_600_000,
    servingValidityMs: 3_600_000,
  });
  if (!certificates.serving || !certificates.caBundlePem) throw new Error("no certificates generated");
  const certFile = join(dir, "serving.crt");
  const keyFile = join(dir, "serving.key");
  writeFileSync(certFile, certificates.serving.certPem);
  writeFileSync(keyFile, certificates.serving.keyPem, { mode: 0o600 });
  return { certFile, keyFile, caPem: certificates.caBundlePem };
}

async function startInjector(
  tls: Tls,
  opts: InjectorBenchOptions,
  nodeArgs: string[],
  tag: string,
): Promise<Server> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const proc = startNode({
    script: opts.cli,
    nodeArgs,
    args: [
      "injector",
      `--tls-cert-file=${tls.certFile}`,
      `--tls-key-file=${tls.keyFile}`,
      "--webhook-config-name=", // no webhook configuration to publish: no API server needed
      `--listen-address=127.0.0.1:${port}`,
      `--ops-address=127.0.0.1:${opsPort}`,
      `--log-level=${opts.logLevel}`,
      "--resync-interval=1h",
      // mTLS is on by default, and the injector is ready only with a trust bundle: a fixed root.
      `--trust-anchors-file=${repoRoot}src/injector/testdata/mtls-trust-anchors.pem`,
    ],
    logFile: join(opts.outDir, `injector${tag}.log`),
    env: { NODE_ENV: "production" },
  });
  // An injector that never gets ready is stopped here: nobody else holds it.
  await waitForReady(proc, `http://127.0.0.1:${opsPort}/readyz`, 30_000).catch(async (err: unknown) => {
    await proc.stop();
    throw err;
  });
  return { name: "injector", proc, url: `https://127.0.0.1:${port}/mutate`, expect: "patch" };
}

async function startReference(
  tls: Tls,
  opts: InjectorBenchOptions,
  nodeArgs: string[],
  tag: string,
): Promise<Server> {
  const port = await freePort();
  const logFile = join(opts.outDir, `reference${tag}.log`);
  const proc = startNode({
    script: join(repoRoot, "bench/reference-server.ts"),
    nodeArgs,
    args: [tls.certFile, tls.keyFile, String(port)],
    logFile,
  });
  const deadline = Date.now() + 30_000;
  while (!proc.tail().includes(`listening ${port}`)) {
    if (Date.now() > deadline) throw new Error(`reference server did not start:\n${proc.tail()}`);
    await sleep(50);
  }
  return { name: "reference", proc, url: `https://127.0.0.1:${port}/mutate`, expect: "allowed" };
}

async function measure(
  server: Server,
  tls: Tls,
  template: string,
  mode: LoadSpec["mode"],
  opts: InjectorBenchOptions,
): Promise<ServerRun> {
  let cpuStart: number | undefined;
  let cpuEnd: number | undefined;
  const windowUs = { fromUs: 0, toUs: 0 };
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  const result = await runLoadInChild(
    {
      url: server.url,
      ca: tls.caPem,
      reviewTemplate: template,
      mode,
      warmupMs: opts.warmupMs,
      durationMs: opts.durationMs,
      expect: server.expect,
    },
    (m) => {
      if (m.type === "window-start") {
        cpuStart = processCpuSeconds(server.proc.pid);
        windowUs.fromUs = nowUs();
      } else {
        cpuEnd = processCpuSeconds(server.proc.pid);
        windowUs.toUs = nowUs();
      }
    },
  );
  const serverCpuSeconds = cpuStart !== undefined && cpuEnd !== undefined ? cpuEnd - cpuStart : undefined;
  const serverCpuPercent =
    serverCpuSeconds === undefined ? undefined : (serverCpuSeconds * 1000 * 100) / result.windowMs;
  const serverCpuMsPerReview =
    serverCpuSeconds === undefined || result.requests === 0
      ? undefined
      : (serverCpuSeconds * 1000) / result.requests;
  if (result.errors > 0)
    throw new Error(
      `${server.name}: ${result.errors} failed requests, e.g. ${result.errorSamples.join("; ")}`,
    );
  if (result.verified === 0) throw new Error(`${server.name}: no answer was verified`);
  const what =
    mode.kind === "closed"
      ? `concurrency ${mode.concurrency}`
      : mode.kind === "count"
        ? `${mode.reviews} reviews`
        : `${mode.perSecond}/s`;
  opts.progress(
    `  ${server.name.padEnd(9)} ${what.padEnd(14)} ${Math.round(result.throughput)} reviews/s, p50 ${latencyText(result.latencyMs.p50)}, p99 ${latencyText(result.latencyMs.p99)}, server CPU ${serverCpuPercent?.toFixed(0) ?? "?"}% (${serverCpuMsPerReview?.toFixed(3) ?? "?"} ms/review), client CPU ${result.clientCpuPercent.toFixed(0)}%`,
  );
  return { ...result, serverCpuPercent, serverCpuMsPerReview, windowUs };
}

/** A latency for the progress line; a window in which no review completed has none (NaN, or null once sent between processes). */
function latencyText(ms: number | null): string {
  return typeof ms === "number" && Number.isFinite(ms) ? `${ms.toFixed(2)} ms` : "no sample";
}

export async function runInjectorBench(opts: InjectorBenchOptions): Promise<InjectorBenchResult> {
  mkdirSync(opts.outDir, { recursive: true });
  const tls = makeCertificates(mkdtempSync(join(tmpdir(), "outrigger-bench-")));
  const template = benchReviewTemplate();
  const loadStart = loadAverage();
  opts.progress(`injector: review of ${Buffer.byteLength(template)} bytes, load average ${loadStart}`);

  const injector = await startInjector(tls, opts, [], "");
  const reference = await startReference(tls, opts, [], "");
  const levels: InjectorBenchResult["levels"] = [];
  let halfPeak: InjectorBenchResult["halfPeak"];
  let cpuPerReview: InjectorBenchResult["cpuPerReview"];
  try {
    // Interference from other processes only ever lowers throughput: per level, the best of
    // the rounds is the capacity. The rounds alternate the two servers, so both see the same
    // machine.
    for (const concurrency of opts.concurrency) {
      const mode = { kind: "closed", concurrency } as const;
      const runs = { injector: [] as ServerRun[], reference: [] as ServerRun[] };
      for (let round = 0; round < opts.rounds; round++) {
        runs.injector.push(await measure(injector, tls, template, mode, opts));
        runs.reference.push(await measure(reference, tls, template, mode, opts));
      }
      const inj = bestRun(runs.injector);
      const ref = bestRun(runs.reference);
      levels.push({
        concurrency,
        injector: inj,
        reference: ref,
        ratio: inj.throughput / ref.throughput,
        roundThroughputs: {
          injector: runs.injector.map((r) => r.throughput),
          reference: runs.reference.map((r) => r.throughput),
        },
      });
    }
    const best = levels.reduce((a, b) => (b.injector.throughput > a.injector.throughput ? b : a));
    const perSecond = Math.max(1, Math.floor(best.injector.throughput / 2));
    const mode = { kind: "rate", perSecond, maxConnections: HALF_PEAK_MAX_CONNECTIONS } as const;
    // Latency at a fixed rate: the round with the median p99 of each server.
    const rateRuns = { injector: [] as ServerRun[], reference: [] as ServerRun[] };
    for (let round = 0; round < opts.rounds; round++) {
      rateRuns.injector.push(await measure(injector, tls, template, mode, opts));
      rateRuns.reference.push(await measure(reference, tls, template, mode, opts));
    }
    const countMode = { kind: "count", concurrency: CPU_CONCURRENCY, reviews: opts.cpuReviews } as const;
    const cpuRuns = { injector: [] as number[], reference: [] as number[] };
    for (let round = 0; round < opts.rounds; round++) {
      cpuRuns.injector.push(
        (await measure(injector, tls, template, countMode, opts)).serverCpuMsPerReview ?? NaN,
      );
      cpuRuns.reference.push(
        (await measure(reference, tls, template, countMode, opts)).serverCpuMsPerReview ?? NaN,
      );
    }
    const injectorMs = Math.min(...cpuRuns.injector);
    const referenceMs = Math.min(...cpuRuns.reference);
    cpuPerReview = {
      reviews: opts.cpuReviews,
      concurrency: CPU_CONCURRENCY,
      injectorMs,
      referenceMs,
      ratio: injectorMs / referenceMs,
      roundMs: cpuRuns,
    };
    halfPeak = {
      perSecond,
      injector: medianP99Run(rateRuns.injector),
      reference: medianP99Run(rateRuns.reference),
      roundP99Ms: {
        injector: rateRuns.injector.map((r) => r.latencyMs.p99),
        reference: rateRuns.reference.map((r) => r.latencyMs.p99),
      },
    };
  } finally {
    await Promise.all([injector.proc.stop(), reference.proc.stop()]);
  }

  const peakInjector = levels.reduce((a, b) => (b.injector.throughput > a.injector.throughput ? b : a));
  const peakReference = Math.max(...levels.map((l) => l.reference.throughput));
  const peak = {
    injector: peakInjector.injector.throughput,
    reference: peakReference,
    ratio: peakInjector.injector.throughput / peakReference,
    injectorConcurrency: peakInjector.concurrency,
  };

  let profiles: InjectorBenchResult["profiles"];
  if (opts.profile) profiles = await profileBoth(tls, template, peak.injectorConcurrency, opts);

  return {
    reviewBytes: Buffer.byteLength(template),
    rounds: opts.rounds,
    logLevel: opts.logLevel,
    levels,
    peak,
    halfPeak,
    cpuPerReview,
    ...(profiles ? { profiles } : {}),
    loadAverage: { start: loadStart, end: loadAverage() },
    targets: {
      ratio: { want: TARGET_RATIO, got: peak.ratio, met: peak.ratio >= TARGET_RATIO },
      cpuPerReviewRatio: {
        want: TARGET_CPU_RATIO,
        got: cpuPerReview.ratio,
        met: cpuPerReview.ratio <= TARGET_CPU_RATIO,
      },
      halfPeakP99Ms: {
        want: TARGET_P99_MS,
        got: halfPeak.injector.latencyMs.p99,
        met: halfPeak.injector.latencyMs.p99 < TARGET_P99_MS,
      },
    },
  };
}

const bestRun = (runs: ServerRun[]): ServerRun =>
  runs.reduce((a, b) => (b.throughput > a.throughput ? b : a));

function medianP99Run(runs: ServerRun[]): ServerRun {
  const sorted = [...runs].sort((a, b) => a.latencyMs.p99 - b.latencyMs.p99);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** One closed-loop run of each server under --cpu-prof; the profile is written when it exits. */
async function profileBoth(
  tls: Tls,
  template: string,
  concurrency: number,
  opts: InjectorBenchOptions,
): Promise<NonNullable<InjectorBenchResult["profiles"]>> {
  const out: Partial<Record<Server["name"], ProfileSummary>> = {};
  const files: string[] = [];
  for (const name of ["injector", "reference"] as const) {
    const dir = join(opts.outDir, `profile-${name}`);
    mkdirSync(dir, { recursive: true });
    const nodeArgs = ["--cpu-prof", `--cpu-prof-dir=${dir}`];
    const server =
      name === "injector"
        ? await startInjector(tls, opts, nodeArgs, "-profiled")
        : await startReference(tls, opts, nodeArgs, "-profiled");
    opts.progress(`  profiling ${name} (node --cpu-prof) at concurrency ${concurrency}`);
    let run: ServerRun;
    try {
      run = await measure(server, tls, template, { kind: "closed", concurrency }, opts);
    } finally {
      await server.proc.stop();
    }
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
    files.push(join(dir, file));
    // Only the measured window: start-up (module loading, certificates) is not request work.
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    out[name] = summarizeProfile(profile, { window: run.windowUs });
  }
  return { injector: out.injector!, reference: out.reference!, files };
}

/** Milliseconds for a table; "-" where a window had no sample (NaN, or null once sent between processes). */
const ms = (n: number | null) => (typeof n === "number" && Number.isFinite(n) ? n.toFixed(2) : "-");

/** CPU ms per review for a table: three decimals, "-" where unknown. */
const cpuMs = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? n.toFixed(3) : "-");

export function injectorReport(r: InjectorBenchResult): string {
  const parts = [
    formatTable(
      `Injector vs reference (HTTPS keep-alive, ${r.reviewBytes}-byte review, log level ${r.logLevel}; best of ${r.rounds} round(s); load average ${r.loadAverage.start} -> ${r.loadAverage.end})`,
      [
        "concurrency",
        "injector/s",
        "p50 ms",
        "p99 ms",
        "cpu %",
        "cpu ms/review",
        "reference/s",
        "p50 ms",
        "p99 ms",
        "cpu %",
        "cpu ms/review",
        "ratio",
      ],
      r.levels.map((l) => [
        String(l.concurrency),
        l.injector.throughput,
        ms(l.injector.latencyMs.p50),
        ms(l.injector.latencyMs.p99),
        l.injector.serverCpuPercent ?? NaN,
        cpuMs(l.injector.serverCpuMsPerReview),
        l.reference.throughput,
        ms(l.reference.latencyMs.p50),
        ms(l.reference.latencyMs.p99),
        l.reference.serverCpuPercent ?? NaN,
        cpuMs(l.reference.serverCpuMsPerReview),
        l.ratio.toFixed(2),
      ]),
    ),
    formatTable(
      `Fixed rate at half the injector's peak (${r.halfPeak.perSecond}/s; latency from the scheduled start; round with the median p99 of ${r.rounds}, all: injector ${r.halfPeak.roundP99Ms.injector.map(ms).join("/")} ms, reference ${r.halfPeak.roundP99Ms.reference.map(ms).join("/")} ms)`,
      ["server", "achieved/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "cpu %"],
      (["injector", "reference"] as const).map((n) => [
        n,
        r.halfPeak[n].throughput,
        ms(r.halfPeak[n].latencyMs.p50),
        ms(r.halfPeak[n].latencyMs.p90),
        ms(r.halfPeak[n].latencyMs.p99),
        ms(r.halfPeak[n].latencyMs.max),
        r.halfPeak[n].serverCpuPercent ?? NaN,
      ]),
    ),
    formatTable(
      `CPU per review: the server's CPU time over ${r.cpuPerReview.reviews} reviews at concurrency ${r.cpuPerReview.concurrency}, after the warm-up (lowest of ${r.rounds} round(s); all: injector ${r.cpuPerReview.roundMs.injector.map(cpuMs).join("/")}, reference ${r.cpuPerReview.roundMs.reference.map(cpuMs).join("/")} ms)`,
      ["server", "cpu ms/review"],
      [
        ["injector", cpuMs(r.cpuPerReview.injectorMs)],
        ["reference (bare Node HTTPS)", cpuMs(r.cpuPerReview.referenceMs)],
        ["injector / reference", r.cpuPerReview.ratio.toFixed(2)],
      ],
    ),
    formatTable(
      "Injector targets",
      ["target", "want", "got", "met"],
      [
        [
          "CPU per review / reference's",
          `<= ${r.targets.cpuPerReviewRatio.want}`,
          r.targets.cpuPerReviewRatio.got.toFixed(2),
          r.targets.cpuPerReviewRatio.met ? "yes" : "NO",
        ],
        [
          "peak throughput / reference peak",
          `>= ${r.targets.ratio.want}`,
          r.targets.ratio.got.toFixed(2),
          r.targets.ratio.met ? "yes" : "NO",
        ],
        [
          "p99 at half the peak rate",
          `< ${r.targets.halfPeakP99Ms.want} ms`,
          `${ms(r.targets.halfPeakP99Ms.got)} ms`,
          r.targets.halfPeakP99Ms.met ? "yes" : "NO",
        ],
      ],
    ),
  ];
  if (r.profiles) {
    for (const name of ["injector", "reference"] as const) {
      const p = r.profiles[name];
      parts.push(
        formatTable(
          `CPU profile of the ${name}: self time by area (${Math.round(p.busyMs)} ms busy, ${Math.round(p.idleMs)} ms idle)`,
          ["area", "ms", "%"],
          p.areas.slice(0, 12).map((a) => [a.area, a.ms, a.percent.toFixed(1)]),
        ),
      );
    }
    const inj = r.profiles.injector;
    parts.push(
      formatTable(
        "Injector: hottest functions (self time)",
        ["function", "area", "%"],
        inj.topSelf.slice(0, 12).map((f) => [f.fn, f.area, f.percent.toFixed(1)]),
      ),
      formatTable(
        "Injector: Outrigger functions by inclusive time",
        ["function", "%"],
        inj.topInclusive.slice(0, 10).map((f) => [f.fn, f.percent.toFixed(1)]),
      ),
    );
  }
  return parts.join("\n\n");
}
