// Controller benchmark on a real cluster: the load of controller-load.ts, then the real
// `outrigger controller` process (its own process, so its RSS is its own) started cold.
//
//   cold         controller start -> every app's sidecar config Secret holds all its Components;
//   propagation  one Component updated at a time -> the new value is in every app in its scope
//                (watched on the Secrets, from just before the update request);
//   burst        one Component in every namespace updated at once;
//   writes       API writes per change, from the controller's outrigger_controller_writes_total;
//   memory       VmRSS / VmHWM (peak) of the controller process.
import type { KubernetesObject, V1Deployment, V1Secret } from "@kubernetes/client-node";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";
import { pino } from "pino";
import { parseSidecarFile } from "../src/controller/sidecar-config.ts";
import { createInformer } from "../src/controller/runtime/informer.ts";
import { createKubeHttp, type KubeHttp } from "../src/shared/kube-http.ts";
import { resourcePath, resources } from "../src/controller/runtime/resource.ts";
import { loadApiEndpoint } from "../src/shared/kubeconfig.ts";
import {
  APP_ID_LABEL,
  COMPONENTS_KEY,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from "../src/sidecar/config-secret.ts";
import { benchCluster } from "./cluster.ts";
import { summarizeProfile, type CpuProfile, type ProfileSummary } from "./profile.ts";
import { summarizeHeapSnapshot, type HeapSnapshot, type HeapSummary } from "./heap.ts";
import {
  BENCH_RUN_LABEL,
  appId,
  appsInScope,
  benchComponent,
  benchConfiguration,
  benchDeployment,
  benchNamespace,
  benchSecret,
  componentMetadata,
  componentName,
  componentsOfApp,
  namespaceName,
  revision,
  unrelatedPod,
  type LoadShape,
} from "./controller-load.ts";
import { freePort, httpGet, sleep, startNode, type NodeProcess } from "./processes.ts";
import {
  formatNumber,
  formatTable,
  loadAverage,
  machineCpuSeconds,
  processCpuSeconds,
  processMemoryMaps,
  processMemoryMiB,
  summarize,
  type LatencySummary,
} from "./stats.ts";

export interface ControllerBenchOptions extends LoadShape {
  /** Pods that have nothing to do with Dapr, created before the controller starts (other namespaces). */
  unrelatedPods: number;
  /** Only the cold start (the scaling table): no updates, no burst. */
  coldOnly?: boolean;
  /** Component updates timed one after the other. */
  updates: number;
  controllerConcurrency: number;
  /** The Outrigger entry point to run (compiled dist/cli.js, or src/cli.ts). */
  cli: string;
  kubeconfig?: string;
  keepCluster: boolean;
  /** Take a heap snapshot of the controller at the end and summarize it. */
  heapSnapshot: boolean;
  /** Extra node flags for the controller process (e.g. V8 heap sizing). */
  nodeOptions: string[];
  /** Run the controller under --cpu-prof and summarize the cold start and the burst. */
  profile: boolean;
  outDir: string;
  progress: (line: string) => void;
}

/** API writes by "resource/verb", e.g. "secrets/update". */
export type Writes = Record<string, number>;

export interface ControllerBenchResult {
  cluster: "dedicated" | "given";
  shape: LoadShape & {
    appsTotal: number;
    componentsTotal: number;
    unrelatedPods: number;
    watchNamespace?: string;
  };
  controllerConcurrency: number;
  controllerNodeOptions: string[];
  setupSeconds: number;
  cold: {
    readySeconds: number | undefined;
    firstConfigSeconds: number;
    convergedSeconds: number;
    /** Until the last write or reconcile of the start-up (status included), seen after 2 s of quiet. */
    settledSeconds: number;
    /** The controller's own CPU (user + system) until every config was rendered. */
    cpuSeconds: number | undefined;
    /** Its CPU until settled (read once the 2 s of quiet were seen: an idle controller adds ~0). */
    cpuSecondsSettled: number | undefined;
    /**
     * The dedicated cluster's components' CPU until settled (kube-apiserver, etcd, ...), and the
     * whole machine's busy CPU-seconds until every config was rendered, of `cores` x that time:
     * what the settle time is made of when the controller is not the one busy.
     */
    clusterCpuSeconds?: Record<string, number>;
    machineBusyUntilConverged?: { busyCpuSeconds: number; cores: number; seconds: number };
    /** VmRSS once settled, and the peak (VmHWM) until then. */
    rssSettledMiB: number | undefined;
    rssPeakMiB: number | undefined;
    /** Reconciles by controller until settled, per app (app controllers) or per resource (status). */
    reconcilesPerKey: Record<string, number>;
    writes: Writes;
    idealWrites: Writes;
    redundantWrites: number;
  };
  /** Absent in a cold-only run. */
  propagation?: {
    updates: number;
    /** Per update: time until the last app in scope had the new value. */
    toEveryAppMs: LatencySummary;
    /** Per app and update: time until that app had it. */
    perAppMs: LatencySummary;
    appsPerUpdate: LatencySummary;
    secretWrites: number;
    appsAffected: number;
    statusWrites: number;
    otherWrites: Writes;
    redundantWrites: number;
    /** Secret changes seen for apps outside the updated Component's scope. */
    outOfScopeSecretChanges: number;
  };
  burst?: {
    components: number;
    appsAffected: number;
    convergedMs: number;
    writes: Writes;
    redundantWrites: number;
  };
  reconcileErrors: number;
  /** Reconciles by "controller/result" in each phase. */
  reconciles: { cold: Writes; updates?: Writes; burst?: Writes };
  memoryMiB: {
    afterCold: number | undefined;
    end: number | undefined;
    peak: number | undefined;
    /** Highest VmRSS sampled (every 200 ms) in each phase. */
    phasePeak: { cold: number; updates?: number; burst?: number };
    /** VmRSS at the end by kind of mapping (processMemoryMaps). */
    endByMapping?: Record<string, number>;
    /** VmRSS at the end, split into anonymous and file-backed pages. */
    endAnon: number | undefined;
    endFile: number | undefined;
  };
  /** The V8 heap as the controller reports it on /metrics, at the end. */
  heapMiB: { afterCold: HeapMiB; end: HeapMiB };
  heapSnapshot?: HeapSummary & { file: string };
  /** CPU profile of the controller: the cold start (start to converged) and the burst. */
  profiles?: { cold: ProfileSummary; burst?: ProfileSummary; file: string };
  loadAverage: { start: number; end: number };
  targets: Target[];
}

/** One target of issue 16 (docs/performance.md): met when got <= want. */
export interface Target {
  name: string;
  unit: string;
  want: number;
  got: number;
  met: boolean;
}

function target(name: string, unit: string, got: number, want: number): Target {
  return { name, unit, want, got, met: got <= want };
}

// For the cold start of the main load (50 namespaces x 10 apps x 20 Components).
const TARGETS = {
  settleSeconds: 10,
  cpuSeconds: 5,
  appReconcilesPerApp: 1.5,
  rssMiB: 120,
  p99PropagationMs: 2000,
};

/**
 * Reconciles (successes and errors) per key of each controller: per app for the app controllers
 * (sidecar-config, app-service, stale-sidecars), per resource for the status controllers
 * (`status`: all of them over every Component and Configuration).
 */
export function perKey(reconciles: Writes, apps: number, statusKeys: number): Record<string, number> {
  const byController: Record<string, number> = {};
  for (const [k, v] of Object.entries(reconciles)) {
    const controller = k.split("/")[0]!;
    byController[controller] = (byController[controller] ?? 0) + v;
  }
  const out: Record<string, number> = {};
  let status = 0;
  for (const [controller, n] of Object.entries(byController)) {
    if (controller.endsWith("-status")) status += n;
    else out[controller] = apps > 0 ? n / apps : NaN;
  }
  out.status = statusKeys > 0 ? status / statusKeys : NaN;
  return out;
}
const CREATE_CONCURRENCY = 32;
/** How often the cold start's quiet detector scrapes the controller's /metrics. */
const COLD_SCRAPE_MS = 500;
/** Unrelated pods go into namespaces of their own, this many in each. */
const UNRELATED_PODS_PER_NAMESPACE = 500;

/** Runs fn over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Counter values of one metric family from a Prometheus text page, keyed by "label1/label2". */
export function counterValues(text: string, metric: string, labels: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+([0-9.eE+-]+)$/.exec(line);
    if (!m) continue;
    const found = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = labels.map((l) => found[l] ?? "").join("/");
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}

/** One unlabelled gauge from a Prometheus text page. */
export function gaugeValue(text: string, metric: string): number {
  const m = new RegExp(`^${metric}\\s+([0-9.eE+-]+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

export function writesDelta(after: Writes, before: Writes): Writes {
  const out: Writes = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

const total = (w: Writes) => Object.values(w).reduce((a, b) => a + b, 0);

/** Writes beyond the ideal, per kind of write (fewer than ideal is not redundant). */
export function redundantWrites(got: Writes, ideal: Writes): number {
  let extra = 0;
  for (const [k, v] of Object.entries(got)) extra += Math.max(0, v - (ideal[k] ?? 0));
  return extra;
}

class SecretTracker {
  /** App key -> Component names its config must hold. */
  readonly expected = new Map<string, Set<string>>();
  readonly complete = new Set<string>();
  firstAt: number | undefined;
  completeAt: number | undefined;
  private waiting:
    { tokens: Map<string, string>; arrivals: Map<string, number>; done: () => void } | undefined;
  outOfScope = 0;

  onSecret(s: V1Secret): void {
    const ns = s.metadata?.namespace ?? "";
    const id = s.metadata?.labels?.[APP_ID_LABEL] ?? "";
    const key = `${ns}/${id}`;
    const want = this.expected.get(key);
    if (!want) return;
    const now = performance.now();
    this.firstAt ??= now;
    const encoded = s.data?.[COMPONENTS_KEY];
    const text = encoded ? Buffer.from(encoded, "base64").toString("utf8") : "";
    if (!this.complete.has(key)) {
      const names = new Set(
        parseSidecarFile(text).map((d) => (d.metadata as { name?: string } | undefined)?.name ?? ""),
      );
      if ([...want].every((n) => names.has(n))) {
        this.complete.add(key);
        if (this.complete.size === this.expected.size) this.completeAt = now;
      }
    }
    const w = this.waiting;
    if (!w) return;
    const token = w.tokens.get(key);
    if (token === undefined) {
      if (!w.arrivals.has(key)) this.outOfScope++;
      return;
    }
    if (!text.includes(token)) return;
    w.tokens.delete(key);
    w.arrivals.set(key, now);
    if (w.tokens.size === 0) w.done();
  }

  /** Resolves with each app's arrival time once every app holds its token. */
  async waitForTokens(tokens: Map<string, string>, timeoutMs: number): Promise<Map<string, number>> {
    const arrivals = new Map<string, number>();
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.waiting = { tokens: new Map(tokens), arrivals, done: resolve };
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `not propagated within ${timeoutMs} ms to: ${[...this.waiting!.tokens.keys()].slice(0, 5).join(", ")}`,
              ),
            ),
          timeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
    }
    return arrivals;
  }

  stopWaiting(): void {
    this.waiting = undefined;
  }
}

async function until(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function runControllerBench(opts: ControllerBenchOptions): Promise<ControllerBenchResult> {
  const loadStart = loadAverage();
  const shape: LoadShape = { namespaces: opts.namespaces, apps: opts.apps, components: opts.components };
  const cluster = await benchCluster({
    ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
    keep: opts.keepCluster,
    progress: opts.progress,
  });
  const http = createKubeHttp(loadApiEndpoint(cluster.kubeconfigPath));
  const run = Date.now().toString(36);
  const prefix = `bench-${run}`;
  const namespaces = Array.from({ length: shape.namespaces }, (_, i) => namespaceName(prefix, i));
  // One namespace: the controller watches only it, so the benchmark can share a cluster.
  const watchNamespace = shape.namespaces === 1 ? namespaces[0] : undefined;
  const leaseNamespace = watchNamespace ?? `${prefix}-system`;
  // Unrelated pods in namespaces without apps (in the watched one when there is only one).
  const podNamespaces = watchNamespace
    ? [watchNamespace]
    : Array.from(
        { length: Math.ceil(opts.unrelatedPods / UNRELATED_PODS_PER_NAMESPACE) },
        (_, i) => `${prefix}-other-${i}`,
      );
  let controller: NodeProcess | undefined;
  try {
    if (!watchNamespace) await deleteBenchNamespaces(http, opts.progress);
    const setupStart = performance.now();
    await createLoad(
      http,
      shape,
      namespaces,
      watchNamespace ? [] : [leaseNamespace, ...podNamespaces],
      run,
      opts.progress,
    );
    await createUnrelatedPods(http, opts.unrelatedPods, podNamespaces, run, opts.progress);
    const setupSeconds = (performance.now() - setupStart) / 1000;

    const tracker = new SecretTracker();
    for (const ns of namespaces)
      for (let a = 0; a < shape.apps; a++)
        tracker.expected.set(`${ns}/${appId(a)}`, new Set(componentsOfApp(shape, appId(a))));
    const secrets = createInformer<V1Secret>(http, resources.secrets, {
      log: pino({ level: "silent" }),
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      resyncPeriodMs: 0,
      ...(watchNamespace ? { namespace: watchNamespace } : {}),
    });
    secrets.addEventHandler({ onAdd: (s) => tracker.onSecret(s), onUpdate: (_, s) => tracker.onSecret(s) });
    secrets.start();
    await secrets.waitForSync();
    try {
      if (tracker.firstAt !== undefined)
        throw new Error("sidecar configs exist before the controller started");

      // --- Cold start ------------------------------------------------------------------
      const opsPort = await freePort();
      const metricsUrl = `http://127.0.0.1:${opsPort}/metrics`;
      const scrape = async () => {
        // Generous: a controller busy with its start-up answers late, which is not a failure.
        const text = (await httpGet(metricsUrl, 60_000)).body;
        return {
          heap: {
            used: gaugeValue(text, "nodejs_heap_size_used_bytes") / 2 ** 20,
            total: gaugeValue(text, "nodejs_heap_size_total_bytes") / 2 ** 20,
            external: gaugeValue(text, "nodejs_external_memory_bytes") / 2 ** 20,
            spaces: Object.fromEntries(
              Object.entries(counterValues(text, "nodejs_heap_space_size_total_bytes", ["space"])).map(
                ([k, v]) => [k, v / 2 ** 20],
              ),
            ),
          },
          writes: counterValues(text, "outrigger_controller_writes_total", ["resource", "verb"]),
          reconciles: counterValues(text, "outrigger_controller_reconciles_total", ["controller", "result"]),
        };
      };
      opts.progress(
        `controller: starting the controller (${shape.namespaces * shape.apps} apps, ${shape.namespaces * shape.components} Components)`,
      );
      const clusterPids = cluster.componentPids();
      const clusterCpuAt = () =>
        Object.fromEntries(
          Object.entries(clusterPids).map(([name, pid]) => [name, processCpuSeconds(pid) ?? NaN]),
        );
      const clusterCpuStart = clusterCpuAt();
      const machineStart = machineCpuSeconds();
      const t0 = performance.now();
      // performance.now() to the monotonic clock of CPU profiles (microseconds).
      const offsetUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
      const monoUs = (perfMs: number) => perfMs * 1000 + offsetUs;
      controller = startNode({
        script: opts.cli,
        nodeArgs: [
          ...opts.nodeOptions,
          ...(opts.profile
            ? ["--cpu-prof", `--cpu-prof-dir=${join(opts.outDir, "profile-controller")}`]
            : []),
          ...(opts.heapSnapshot ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${opts.outDir}`] : []),
        ],
        args: [
          "controller",
          `--kubeconfig=${cluster.kubeconfigPath}`,
          `--ops-address=127.0.0.1:${opsPort}`,
          `--leader-election-namespace=${leaseNamespace}`,
          `--leader-election-name=outrigger-bench-${run}`,
          `--concurrency=${opts.controllerConcurrency}`,
          "--log-level=info",
          ...(watchNamespace ? [`--watch-namespace=${watchNamespace}`] : []),
        ],
        logFile: join(opts.outDir, "controller.log"),
        env: { NODE_ENV: "production" },
      });
      const proc = controller;
      // Peak RSS per phase, sampled; VmHWM gives the overall peak exactly.
      let phase: "cold" | "updates" | "burst" = "cold";
      const phasePeakMiB = { cold: 0, updates: 0, burst: 0 };
      const sampler = setInterval(() => {
        const rss = processMemoryMiB(proc.pid)?.rss ?? 0;
        phasePeakMiB[phase] = Math.max(phasePeakMiB[phase], rss);
      }, 200);
      let readyAt: number | undefined;
      let exited = false;
      void until("readyz", 300_000, async () => {
        if (exited) return true;
        const ok = await httpGet(`http://127.0.0.1:${opsPort}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) readyAt = performance.now();
        return ok;
      }).catch(() => undefined);
      void proc.exited.then(() => (exited = true));
      await until("every sidecar config to be rendered", 600_000, () => {
        if (exited) throw new Error(`the controller exited:\n${proc.tail()}`);
        return tracker.completeAt !== undefined;
      });
      const convergedSeconds = (tracker.completeAt! - t0) / 1000;
      const cpuSeconds = processCpuSeconds(proc.pid);
      const machineConverged = machineCpuSeconds();
      const afterCold = processMemoryMiB(proc.pid)?.rss;
      const heapAfterCold = (await scrape()).heap;
      opts.progress(
        `  cold: all ${tracker.expected.size} configs rendered ${convergedSeconds.toFixed(2)} s after start`,
      );
      // Scraped every 500 ms, not 100: each scrape costs the controller about 5 ms of CPU (100
      // scrapes of an idle controller took 0.52 CPU-s), which counts in its CPU until settled.
      // The settle time is then the first scrape that saw the final counts: up to 0.5 s late.
      const quiet = await waitForQuiet(scrape, 2000, 300_000, COLD_SCRAPE_MS);
      const settledSeconds = (quiet.at - t0) / 1000;
      const cpuSecondsSettled = processCpuSeconds(proc.pid);
      const clusterCpuSettled = clusterCpuAt();
      const clusterCpuSeconds = Object.fromEntries(
        Object.entries(clusterCpuSettled).map(([name, cpu]) => [name, cpu - clusterCpuStart[name]!]),
      );
      const machineBusyUntilConverged =
        machineStart && machineConverged
          ? {
              busyCpuSeconds: machineConverged.busy - machineStart.busy,
              cores: cpus().length,
              seconds: (machineConverged.all - machineStart.all) / cpus().length,
            }
          : undefined;
      const memorySettled = processMemoryMiB(proc.pid);
      const appsTotal = shape.namespaces * shape.apps;
      const componentsTotal = shape.namespaces * shape.components;
      const idealCold: Writes = {
        "secrets/create": appsTotal,
        "services/create": appsTotal,
        "status/patch": componentsTotal + shape.namespaces, // every Component and Configuration
      };
      const coldReconciles = writesDelta(quiet.metrics.reconciles, {});
      const reconcilesPerKey = perKey(coldReconciles, appsTotal, componentsTotal + shape.namespaces);
      opts.progress(
        `  settled ${settledSeconds.toFixed(2)} s after start, CPU ${s(cpuSecondsSettled)} s, RSS ${s(memorySettled?.rss)} MiB (peak ${s(memorySettled?.peak)})`,
      );

      let before = quiet.metrics;
      const later = opts.coldOnly ? undefined : await updatesAndBurst();
      async function updatesAndBurst() {
        // --- Propagation, one update at a time ---------------------------------------------
        const toEveryApp: number[] = [];
        const perApp: number[] = [];
        const appsPerUpdate: number[] = [];
        let secretWrites = 0;
        let appsAffected = 0;
        let statusWrites = 0;
        let redundant = 0;
        const otherWrites: Writes = {};
        const updatesStart = quiet.metrics;
        opts.progress(`controller: ${opts.updates} Component updates, one at a time`);
        phase = "updates";
        for (let u = 1; u <= opts.updates; u++) {
          const ns = namespaces[u % namespaces.length]!;
          const c = (u * 7) % shape.components;
          const token = revision(u);
          const apps = appsInScope(shape, c).map((a) => `${ns}/${a}`);
          const start = performance.now();
          const arrivals = tracker.waitForTokens(new Map(apps.map((k) => [k, token])), 60_000);
          await patchComponent(http, ns, c, token);
          const times = [...(await arrivals).values()].map((t) => t - start);
          const after = await waitForQuiet(scrape, 500, 60_000);
          tracker.stopWaiting();
          const d = writesDelta(after.metrics.writes, before.writes);
          before = after.metrics;
          toEveryApp.push(Math.max(...times));
          perApp.push(...times);
          appsPerUpdate.push(apps.length);
          appsAffected += apps.length;
          secretWrites += d["secrets/update"] ?? 0;
          statusWrites += d["status/patch"] ?? 0;
          for (const [k, v] of Object.entries(d))
            if (k !== "secrets/update" && k !== "status/patch") otherWrites[k] = (otherWrites[k] ?? 0) + v;
          redundant += redundantWrites(d, { "secrets/update": apps.length, "status/patch": 1 });
        }
        const propagation = {
          updates: opts.updates,
          toEveryAppMs: summarize(toEveryApp),
          perAppMs: summarize(perApp),
          appsPerUpdate: summarize(appsPerUpdate),
          secretWrites,
          appsAffected,
          statusWrites,
          otherWrites,
          redundantWrites: redundant,
          outOfScopeSecretChanges: tracker.outOfScope,
        };
        opts.progress(
          `  propagation: p50 ${propagation.toEveryAppMs.p50.toFixed(0)} ms, p99 ${propagation.toEveryAppMs.p99.toFixed(0)} ms; ${secretWrites} Secret writes for ${appsAffected} app updates`,
        );

        // --- Burst: one Component in every namespace at once -------------------------------
        const c = shape.components > 1 ? 1 : 0;
        const tokens = new Map<string, string>();
        const burstTokens = namespaces.map((ns, i) => {
          const token = revision(opts.updates + 1 + i);
          for (const a of appsInScope(shape, c)) tokens.set(`${ns}/${a}`, token);
          return token;
        });
        phase = "burst";
        const burstStart = performance.now();
        const burstArrivals = tracker.waitForTokens(tokens, 120_000);
        await pool(
          namespaces.map((ns, i) => [ns, burstTokens[i]!] as const),
          CREATE_CONCURRENCY,
          ([ns, token]) => patchComponent(http, ns, c, token),
        );
        const burstTimes = [...(await burstArrivals).values()].map((t) => t - burstStart);
        const burstAfter = await waitForQuiet(scrape, 1000, 120_000);
        tracker.stopWaiting();
        const burstWrites = writesDelta(burstAfter.metrics.writes, before.writes);
        const burst = {
          components: namespaces.length,
          appsAffected: tokens.size,
          convergedMs: Math.max(...burstTimes),
          writes: burstWrites,
          redundantWrites: redundantWrites(burstWrites, {
            "secrets/update": tokens.size,
            "status/patch": namespaces.length,
          }),
        };
        opts.progress(
          `  burst: ${burst.components} Components, ${burst.appsAffected} apps in ${burst.convergedMs.toFixed(0)} ms`,
        );
        // Reconciles per phase: how much work each change caused, whether or not it wrote.
        const reconciles = {
          updates: writesDelta(before.reconciles, updatesStart.reconciles),
          burst: writesDelta(burstAfter.metrics.reconciles, before.reconciles),
        };
        before = burstAfter.metrics;
        return { propagation, burst, burstStart, reconciles };
      }

      const reconcileErrors = Object.entries(before.reconciles)
        .filter(([k]) => k.endsWith("/error"))
        .reduce((a, [, v]) => a + v, 0);
      clearInterval(sampler);
      const memory = processMemoryMiB(proc.pid);
      const maps = processMemoryMaps(proc.pid);
      const heapMiB = (await scrape()).heap;
      const heapSnapshot = opts.heapSnapshot ? await takeHeapSnapshot(proc, opts) : undefined;
      const coldWrites = writesDelta(quiet.metrics.writes, {});
      const coldRedundant = redundantWrites(coldWrites, idealCold);
      const allRedundant =
        coldRedundant + (later ? later.propagation.redundantWrites + later.burst.redundantWrites : 0);
      const appReconcilesPerApp = Math.max(
        reconcilesPerKey["sidecar-config"] ?? 0,
        reconcilesPerKey["app-service"] ?? 0,
      );
      const result: ControllerBenchResult = {
        cluster: cluster.kind,
        shape: {
          ...shape,
          appsTotal,
          componentsTotal,
          unrelatedPods: opts.unrelatedPods,
          ...(watchNamespace ? { watchNamespace } : {}),
        },
        controllerConcurrency: opts.controllerConcurrency,
        controllerNodeOptions: opts.nodeOptions,
        setupSeconds,
        cold: {
          readySeconds: readyAt === undefined ? undefined : (readyAt - t0) / 1000,
          firstConfigSeconds: (tracker.firstAt! - t0) / 1000,
          convergedSeconds,
          settledSeconds,
          cpuSeconds,
          cpuSecondsSettled,
          ...(Object.keys(clusterPids).length ? { clusterCpuSeconds } : {}),
          ...(machineBusyUntilConverged ? { machineBusyUntilConverged } : {}),
          rssSettledMiB: memorySettled?.rss,
          rssPeakMiB: memorySettled?.peak,
          reconcilesPerKey,
          writes: coldWrites,
          idealWrites: idealCold,
          redundantWrites: coldRedundant,
        },
        ...(later ? { propagation: later.propagation, burst: later.burst } : {}),
        reconcileErrors,
        reconciles: { cold: coldReconciles, ...later?.reconciles },
        memoryMiB: {
          afterCold,
          end: memory?.rss,
          peak: memory?.peak,
          phasePeak: phasePeakMiB,
          ...(maps ? { endByMapping: maps } : {}),
          endAnon: memory?.anon,
          endFile: memory?.file,
        },
        heapMiB: { afterCold: heapAfterCold, end: heapMiB },
        ...(heapSnapshot ? { heapSnapshot } : {}),
        loadAverage: { start: loadStart, end: loadAverage() },
        targets: [
          target("settle after start", "s", settledSeconds, TARGETS.settleSeconds),
          target("controller CPU until settled", "s", cpuSecondsSettled ?? NaN, TARGETS.cpuSeconds),
          target("app reconciles per app", "", appReconcilesPerApp, TARGETS.appReconcilesPerApp),
          target("peak RSS until settled", "MiB", memorySettled?.peak ?? NaN, TARGETS.rssMiB),
          target("redundant writes", "", allRedundant, 0),
          ...(later
            ? [
                target(
                  "p99 propagation to every app",
                  "ms",
                  later.propagation.toEveryAppMs.p99,
                  TARGETS.p99PropagationMs,
                ),
              ]
            : []),
        ],
      };
      if (opts.profile) {
        await proc.stop();
        const dir = join(opts.outDir, "profile-controller");
        const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
        if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
        const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
        result.profiles = {
          cold: summarizeProfile(profile, { window: { fromUs: monoUs(t0), toUs: monoUs(quiet.at) } }),
          ...(later
            ? {
                burst: summarizeProfile(profile, {
                  window: {
                    fromUs: monoUs(later.burstStart),
                    toUs: monoUs(later.burstStart + later.burst.convergedMs),
                  },
                }),
              }
            : {}),
          file: join(dir, file),
        };
      }
      return result;
    } finally {
      await secrets.stop();
    }
  } finally {
    await controller?.stop();
    await deleteNamespaces(http, [
      ...namespaces,
      ...(watchNamespace ? [] : [leaseNamespace, ...podNamespaces]),
    ]);
    await cluster.release();
  }
}

/** Signals the controller to write a heap snapshot (--heapsnapshot-signal) and summarizes it. */
async function takeHeapSnapshot(
  proc: NodeProcess,
  opts: ControllerBenchOptions,
): Promise<HeapSummary & { file: string }> {
  const snapshots = () => readdirSync(opts.outDir).filter((f) => f.endsWith(".heapsnapshot"));
  const before = new Set(snapshots());
  proc.signal("SIGUSR2");
  let file: string | undefined;
  let size = -1;
  // Written in one go by the controller's main thread; done when the size stops changing.
  await until(
    "the heap snapshot",
    300_000,
    () => {
      file ??= snapshots().find((f) => !before.has(f));
      if (!file) return false;
      const now = statSync(join(opts.outDir, file)).size;
      const done = now > 0 && now === size;
      size = now;
      return done;
    },
    1000,
  );
  const path = join(opts.outDir, file!);
  opts.progress(`  heap snapshot: ${path} (${(size / 2 ** 20).toFixed(0)} MiB)`);
  return { ...summarizeHeapSnapshot(JSON.parse(readFileSync(path, "utf8")) as HeapSnapshot), file: path };
}

/** Scrapes until the write and reconcile counters have not moved for quietMs. */
interface HeapMiB {
  used: number;
  total: number;
  external: number;
  /** Committed size per V8 space (new_space, old_space, code_space, large_object_space...). */
  spaces: Record<string, number>;
}

interface Scrape {
  writes: Writes;
  reconciles: Writes;
  heap: HeapMiB;
}

async function waitForQuiet(
  scrape: () => Promise<Scrape>,
  quietMs: number,
  timeoutMs: number,
  everyMs = 100,
): Promise<{ at: number; metrics: Scrape }> {
  const deadline = performance.now() + timeoutMs;
  let last = await scrape();
  let lastChange = performance.now();
  for (;;) {
    await sleep(everyMs);
    const now = await scrape();
    if (total(now.writes) !== total(last.writes) || total(now.reconciles) !== total(last.reconciles)) {
      lastChange = performance.now();
      last = now;
    }
    if (performance.now() - lastChange >= quietMs) return { at: lastChange, metrics: last };
    if (performance.now() > deadline)
      throw new Error(`the controller did not go quiet within ${timeoutMs} ms`);
  }
}

async function patchComponent(http: KubeHttp, namespace: string, c: number, rev: string): Promise<void> {
  await http.json({
    method: "PATCH",
    path: resourcePath(resources.components, namespace, componentName(c)),
    contentType: "application/merge-patch+json",
    body: { spec: { metadata: componentMetadata(c, rev) } },
  });
}

async function createLoad(
  http: KubeHttp,
  shape: LoadShape,
  namespaces: string[],
  extraNamespaces: string[],
  run: string,
  progress: (line: string) => void,
): Promise<void> {
  const create = (
    rt: (typeof resources)[keyof typeof resources],
    ns: string | undefined,
    body: KubernetesObject,
  ) => http.json({ method: "POST", path: resourcePath(rt, ns), body }).then(() => undefined);
  await pool([...namespaces, ...extraNamespaces], CREATE_CONCURRENCY, (ns) =>
    create(resources.namespaces, undefined, benchNamespace(ns, run)),
  );
  const objects: Array<() => Promise<void>> = [];
  for (const ns of namespaces) {
    objects.push(() => create(resources.secrets, ns, benchSecret(ns, run)));
    objects.push(() => create(resources.configurations, ns, benchConfiguration(ns, run)));
    for (let c = 0; c < shape.components; c++)
      objects.push(() => create(resources.components, ns, benchComponent(shape, ns, c, run, revision(0))));
  }
  // Deployments last: the ReplicaSets the kube-controller-manager makes for them come next.
  for (const ns of namespaces)
    for (let a = 0; a < shape.apps; a++)
      objects.push(() => create(resources.deployments, ns, benchDeployment(ns, a, run)));
  const started = performance.now();
  await pool(objects, CREATE_CONCURRENCY, (f) => f());
  progress(
    `controller: created ${namespaces.length} namespaces and ${objects.length} objects in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  // The controller should start on a settled cluster: every Deployment has its ReplicaSet and
  // the kube-controller-manager has written its status. Otherwise its status writes, which go
  // on for a minute at its rate limit, would land in the middle of the measurement.
  const want = namespaces.length * shape.apps;
  const one = namespaces.length === 1 ? namespaces[0] : undefined;
  const query = { labelSelector: `${BENCH_RUN_LABEL}=${run}` };
  let lastChange = { version: -1n, at: 0 };
  await until(
    "the Deployments' ReplicaSets and status",
    600_000,
    async () => {
      const [replicaSets, deployments] = await Promise.all([
        http.json<{ items: KubernetesObject[] }>({ path: resourcePath(resources.replicaSets, one), query }),
        http.json<{ items: V1Deployment[] }>({ path: resourcePath(resources.deployments, one), query }),
      ]);
      const settled = deployments.items.filter(
        (d) => (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1),
      );
      // The newest write to any of them; settled once it has not moved for 3 s.
      const version = [...replicaSets.items, ...deployments.items].reduce(
        (max, o) =>
          BigInt(o.metadata?.resourceVersion ?? "0") > max ? BigInt(o.metadata?.resourceVersion ?? "0") : max,
        0n,
      );
      if (version !== lastChange.version) lastChange = { version, at: Date.now() };
      return replicaSets.items.length >= want && settled.length >= want && Date.now() - lastChange.at >= 3000;
    },
    1000,
  );
}

async function createUnrelatedPods(
  http: KubeHttp,
  count: number,
  namespaces: string[],
  run: string,
  progress: (line: string) => void,
): Promise<void> {
  if (count === 0) return;
  const started = performance.now();
  await pool(
    Array.from({ length: count }, (_, i) => i),
    CREATE_CONCURRENCY,
    (i) =>
      http
        .json({
          method: "POST",
          path: resourcePath(resources.pods, namespaces[i % namespaces.length]),
          body: unrelatedPod(namespaces[i % namespaces.length]!, i, run),
        })
        .then(() => undefined),
  );
  progress(
    `controller: created ${count} unrelated pods in ${namespaces.length} namespaces in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** Deletes the namespaces of earlier runs and waits until they are gone. */
async function deleteBenchNamespaces(http: KubeHttp, progress: (line: string) => void): Promise<void> {
  const list = () =>
    http
      .json<{ items: KubernetesObject[] }>({
        path: resourcePath(resources.namespaces),
        query: { labelSelector: BENCH_RUN_LABEL },
      })
      .then((l) => l.items.map((n) => n.metadata?.name ?? ""));
  const old = await list();
  if (old.length === 0) return;
  progress(`controller: deleting ${old.length} namespaces of earlier runs`);
  await deleteNamespaces(http, old);
  await until(
    "the namespaces of earlier runs to be gone",
    600_000,
    async () => (await list()).length === 0,
    1000,
  );
}

async function deleteNamespaces(http: KubeHttp, names: string[]): Promise<void> {
  await pool(names, CREATE_CONCURRENCY, (name) =>
    http.json({ method: "DELETE", path: resourcePath(resources.namespaces, undefined, name) }).then(
      () => undefined,
      () => undefined,
    ),
  );
}

const s = (n: number | undefined) => (n === undefined ? "-" : n.toFixed(2));
const fmtWrites = (w: Writes) =>
  Object.entries(w)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(", ") || "none";

type Propagation = NonNullable<ControllerBenchResult["propagation"]>;
type Burst = NonNullable<ControllerBenchResult["burst"]>;

function updateRows(p: Propagation, b: Burst): string[][] {
  return [
    [
      `update -> every app in scope, p50 / p99 / max (ms), ${p.updates} updates`,
      `${p.toEveryAppMs.p50.toFixed(0)} / ${p.toEveryAppMs.p99.toFixed(0)} / ${p.toEveryAppMs.max.toFixed(0)}`,
    ],
    ["update -> one app, p50 / p99 (ms)", `${p.perAppMs.p50.toFixed(0)} / ${p.perAppMs.p99.toFixed(0)}`],
    ["apps per update, mean", p.appsPerUpdate.mean.toFixed(1)],
    ["Secret writes / apps affected", `${p.secretWrites} / ${p.appsAffected}`],
    ["status writes / updates", `${p.statusWrites} / ${p.updates}`],
    ["other writes during updates", fmtWrites(p.otherWrites)],
    ["Secret changes outside the scope", String(p.outOfScopeSecretChanges)],
    [`burst: ${b.components} Components at once -> ${b.appsAffected} apps (ms)`, b.convergedMs.toFixed(0)],
    ["burst: writes", fmtWrites(b.writes)],
  ];
}

export function controllerReport(r: ControllerBenchResult): string {
  const p = r.propagation;
  const b = r.burst;
  const yes = (b: boolean) => (b ? "yes" : "NO");
  return [
    formatTable(
      `Controller: ${r.shape.namespaces} namespaces x ${r.shape.apps} apps x ${r.shape.components} Components (${r.shape.appsTotal} apps, ${r.shape.componentsTotal} Components, ${r.shape.unrelatedPods} unrelated pods; ${r.cluster} cluster; --concurrency ${r.controllerConcurrency}${r.controllerNodeOptions.length ? `; node ${r.controllerNodeOptions.join(" ")}` : ""}; load average ${r.loadAverage.start} -> ${r.loadAverage.end})`,
      ["measure", "value"],
      [
        ["objects created in (s)", s(r.setupSeconds)],
        ["cold: ready (caches synced) after (s)", s(r.cold.readySeconds)],
        ["cold: first config after (s)", s(r.cold.firstConfigSeconds)],
        ["cold: every config complete after (s)", s(r.cold.convergedSeconds)],
        ["cold: settled (last write or reconcile) after (s)", s(r.cold.settledSeconds)],
        [
          "cold: controller CPU until converged / settled (s)",
          `${s(r.cold.cpuSeconds)} / ${s(r.cold.cpuSecondsSettled)}`,
        ],
        ...(r.cold.clusterCpuSeconds
          ? [
              [
                "cold: cluster CPU until settled (s)",
                Object.entries(r.cold.clusterCpuSeconds)
                  .map(([k, v]) => `${k} ${v.toFixed(2)}`)
                  .join(", "),
              ],
            ]
          : []),
        ...(r.cold.machineBusyUntilConverged
          ? [
              [
                "cold: machine busy until converged (CPU-s of cores x s)",
                `${r.cold.machineBusyUntilConverged.busyCpuSeconds.toFixed(2)} of ${r.cold.machineBusyUntilConverged.cores} x ${r.cold.machineBusyUntilConverged.seconds.toFixed(2)}`,
              ],
            ]
          : []),
        [
          "cold: reconciles per app (app controllers) / per resource (status)",
          Object.entries(r.cold.reconcilesPerKey)
            .map(([k, v]) => `${k} ${v.toFixed(2)}`)
            .join(", "),
        ],
        ["cold: writes", fmtWrites(r.cold.writes)],
        ["cold: ideal writes", fmtWrites(r.cold.idealWrites)],
        [
          "cold: RSS settled / peak until settled (MiB)",
          `${s(r.cold.rssSettledMiB)} / ${s(r.cold.rssPeakMiB)}`,
        ],
        ...(p && b ? updateRows(p, b) : []),
        [
          "reconciles in cold / updates / burst",
          (["cold", "updates", "burst"] as const).map((k) => fmtWrites(r.reconciles[k] ?? {})).join(" | "),
        ],
        ["reconcile errors", String(r.reconcileErrors)],
        [
          "RSS peak sampled in cold / updates / burst (MiB)",
          `${s(r.memoryMiB.phasePeak.cold)} / ${s(r.memoryMiB.phasePeak.updates)} / ${s(r.memoryMiB.phasePeak.burst)}`,
        ],
        [
          "RSS after cold / at end (anon + file) / peak (MiB)",
          `${s(r.memoryMiB.afterCold)} / ${s(r.memoryMiB.end)} (${s(r.memoryMiB.endAnon)} + ${s(r.memoryMiB.endFile)}) / ${s(r.memoryMiB.peak)}`,
        ],
        [
          "RSS at end by mapping (MiB)",
          Object.entries(r.memoryMiB.endByMapping ?? {})
            .sort((a, b) => b[1] - a[1])
            .map(([k, v]) => `${k} ${s(v)}`)
            .join(", "),
        ],
        ...(["afterCold", "end"] as const).map((k) => [
          `V8 heap used / total (new, old, code, large), external ${k === "end" ? "at end" : "after cold"} (MiB)`,
          `${s(r.heapMiB[k].used)} / ${s(r.heapMiB[k].total)} (${["new", "old", "code", "large_object"].map((sp) => s(r.heapMiB[k].spaces[sp])).join(", ")}), ${s(r.heapMiB[k].external)}`,
        ]),
      ],
    ),
    ...(r.profiles
      ? (["cold", "burst"] as const).flatMap((phase) => {
          const p = r.profiles![phase];
          if (!p) return [];
          return [
            formatTable(
              `Controller CPU profile, ${phase === "cold" ? "cold start" : "burst"}: self time by area (${Math.round(p.busyMs)} ms busy, ${Math.round(p.idleMs)} ms idle)`,
              ["area", "ms", "%"],
              p.areas.slice(0, 10).map((a) => [a.area, a.ms, a.percent.toFixed(1)]),
            ),
            formatTable(
              `Controller CPU profile, ${phase === "cold" ? "cold start" : "burst"}: hottest functions`,
              ["function", "area", "%"],
              p.topSelf.slice(0, 10).map((f) => [f.fn, f.area, f.percent.toFixed(1)]),
            ),
            formatTable(
              `Controller CPU profile, ${phase === "cold" ? "cold start" : "burst"}: Outrigger functions by inclusive time`,
              ["function", "%"],
              p.topInclusive.slice(0, 10).map((f) => [f.fn, f.percent.toFixed(1)]),
            ),
          ];
        })
      : []),
    ...(r.heapSnapshot
      ? [
          formatTable(
            `Controller heap snapshot: ${r.heapSnapshot.totalMiB.toFixed(1)} MiB in ${r.heapSnapshot.nodes} objects, largest groups by self size`,
            ["constructor / kind", "count", "MiB", "%"],
            r.heapSnapshot.top.map((g) => [g.name, g.count, g.MiB.toFixed(1), g.percent.toFixed(1)]),
          ),
        ]
      : []),
    formatTable(
      "Controller targets (issue 16; the cold start of this load)",
      ["target", "want", "got", "met"],
      r.targets.map((t) => [
        t.name,
        `<= ${t.want} ${t.unit}`,
        `${formatNumber(t.got)} ${t.unit}`,
        yes(t.met),
      ]),
    ),
  ].join("\n\n");
}
