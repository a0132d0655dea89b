// The scaling table of the controller benchmark: the same cold start with more unrelated pods,
// and with more apps, each in a run of its own (a fresh controller on a cluster holding only that
// load). The marginal cost per pod and per app is what tells whether the controller's cost follows
// the apps or the cluster.
import { runControllerBench, type ControllerBenchOptions, type ControllerBenchResult } from "./controller.ts";
import { formatNumber, formatTable } from "./stats.ts";

export interface ScalingPoint {
  apps: number;
  unrelatedPods: number;
  settledSeconds: number;
  cpuSeconds: number;
  rssSettledMiB: number;
  rssPeakMiB: number;
  appReconcilesPerApp: number;
  statusReconcilesPerResource: number;
}

export interface MarginalCost {
  what: "unrelated pod" | "app";
  from: number;
  to: number;
  /** Settled RSS per unit. */
  kib: number;
  /** CPU until settled per unit. */
  cpuMs: number;
}

export interface ScalingResult {
  points: ScalingPoint[];
  marginal: MarginalCost[];
}

export function scalingPoint(r: ControllerBenchResult): ScalingPoint {
  const perKey = r.cold.reconcilesPerKey;
  return {
    apps: r.shape.appsTotal,
    unrelatedPods: r.shape.unrelatedPods,
    settledSeconds: r.cold.settledSeconds,
    cpuSeconds: r.cold.cpuSecondsSettled ?? NaN,
    rssSettledMiB: r.cold.rssSettledMiB ?? NaN,
    rssPeakMiB: r.cold.rssPeakMiB ?? NaN,
    appReconcilesPerApp: Math.max(perKey["sidecar-config"] ?? 0, perKey["app-service"] ?? 0),
    statusReconcilesPerResource: perKey.status ?? NaN,
  };
}

/**
 * Cost per added unit between the first point of an axis and each later one: per unrelated pod
 * among the points with the fewest apps, per app among the points without unrelated pods.
 */
export function marginalCosts(points: ScalingPoint[]): MarginalCost[] {
  const out: MarginalCost[] = [];
  const fewestApps = Math.min(...points.map((p) => p.apps));
  const axis = (what: MarginalCost["what"], along: ScalingPoint[], x: (p: ScalingPoint) => number) => {
    const sorted = [...along].sort((a, b) => x(a) - x(b));
    const base = sorted[0];
    for (const p of sorted.slice(1)) {
      const dx = x(p) - x(base!);
      if (dx <= 0) continue;
      out.push({
        what,
        from: x(base!),
        to: x(p),
        kib: ((p.rssSettledMiB - base!.rssSettledMiB) * 1024) / dx,
        cpuMs: ((p.cpuSeconds - base!.cpuSeconds) * 1000) / dx,
      });
    }
  };
  axis(
    "unrelated pod",
    points.filter((p) => p.apps === fewestApps),
    (p) => p.unrelatedPods,
  );
  axis(
    "app",
    points.filter((p) => p.unrelatedPods === 0),
    (p) => p.apps,
  );
  return out;
}

/**
 * Runs the cold start once per size: `pods` unrelated pods with the base load's apps, and
 * `apps` apps (base apps per namespace, so more namespaces) without unrelated pods.
 */
export async function runControllerScaling(
  base: ControllerBenchOptions,
  axes: { pods: number[]; apps: number[] },
): Promise<ScalingResult> {
  const baseApps = base.namespaces * base.apps;
  const runs = [
    ...axes.pods.map((pods) => ({ apps: baseApps, pods })),
    ...axes.apps.map((apps) => ({ apps, pods: 0 })),
  ].filter((r, i, all) => all.findIndex((o) => o.apps === r.apps && o.pods === r.pods) === i);
  const points: ScalingPoint[] = [];
  for (const { apps, pods } of runs) {
    const namespaces = Math.max(1, Math.round(apps / base.apps));
    base.progress(`scaling: ${namespaces * base.apps} apps, ${pods} unrelated pods`);
    const r = await runControllerBench({
      ...base,
      namespaces,
      unrelatedPods: pods,
      coldOnly: true,
      profile: false,
      heapSnapshot: false,
    });
    points.push(scalingPoint(r));
  }
  return { points, marginal: marginalCosts(points) };
}

export function scalingReport(r: ScalingResult): string {
  const f = formatNumber;
  return [
    formatTable(
      "Controller scaling: cold start until settled, one run per row",
      [
        "apps",
        "unrelated pods",
        "settle s",
        "CPU s",
        "RSS settled MiB",
        "RSS peak MiB",
        "app rec./app",
        "status rec./res.",
      ],
      r.points.map((p) => [
        p.apps,
        p.unrelatedPods,
        f(p.settledSeconds),
        f(p.cpuSeconds),
        f(p.rssSettledMiB),
        f(p.rssPeakMiB),
        f(p.appReconcilesPerApp),
        f(p.statusReconcilesPerResource),
      ]),
    ),
    formatTable(
      "Controller scaling: marginal cost (settled RSS and CPU until settled)",
      ["per", "between", "KiB", "ms CPU"],
      r.marginal.map((m) => [m.what, `${m.from} and ${m.to}`, f(m.kib), f(m.cpuMs)]),
    ),
  ].join("\n\n");
}
