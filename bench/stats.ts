// Numbers and tables for the benchmarks: latency summaries, process CPU and memory from /proc,
// and plain-text tables. Pure except for the /proc readers.
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of ascending values; NaN when there are none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: sorted.length ? sum / sorted.length : NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
  };
}

/** Right-aligned columns under a header and a rule; the first column is left-aligned. */
export function formatTable(title: string, headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? formatNumber(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [title, line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

/** Three significant digits at most, no exponent: 0.123, 4.56, 78.9, 1234. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return "-";
  const abs = Math.abs(n);
  if (abs >= 100 || Number.isInteger(n)) return String(Math.round(n));
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

// Kernel clock ticks per second: 100 on every mainstream Linux build (USER_HZ).
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a process has used, from /proc; undefined where there is no /proc. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU time of the whole machine from /proc/stat, in CPU-seconds: busy (not idle or iowait) and in all. */
export function machineCpuSeconds(): { busy: number; all: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    const all = ticks.reduce((a, b) => a + b, 0);
    return { busy: (all - ticks[3]! - ticks[4]!) / CLOCK_TICKS, all: all / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/**
 * Resident memory of a process in MiB: current (VmRSS) and peak (VmHWM), and the current split
 * into anonymous memory (heaps) and file-backed pages (the node binary, shared libraries).
 */
export function processMemoryMiB(
  pid: number,
): { rss: number; peak: number; anon: number; file: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return {
      rss: kb("VmRSS") / 1024,
      peak: kb("VmHWM") / 1024,
      anon: kb("RssAnon") / 1024,
      file: kb("RssFile") / 1024,
    };
  } catch {
    return undefined;
  }
}

/**
 * Resident memory of a process by kind of mapping, in MiB, from /proc/<pid>/smaps: small
 * anonymous mappings (V8 heap pages are 256 KiB each), larger anonymous ones (malloc arenas,
 * V8 large objects), the brk heap (malloc), the executable and the rest of the files.
 */
export function processMemoryMaps(pid: number): Record<string, number> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, "utf8");
  } catch {
    return undefined;
  }
  const out: Record<string, number> = {};
  let kind = "";
  for (const line of text.split("\n")) {
    const map = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (map) {
      const kib = (parseInt(map[2]!, 16) - parseInt(map[1]!, 16)) / 1024;
      const name = map[3]!.trim();
      if (name === "") kind = kib <= 1024 ? "anon <= 1 MiB" : "anon > 1 MiB";
      else if (name === "[heap]") kind = "brk heap (malloc)";
      else if (/\/node$/.test(name)) kind = "node executable";
      else kind = "other";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] = (out[kind] ?? 0) + Number(rss[1]) / 1024;
  }
  return out;
}

/** The 1-minute load average, rounded; the machine is shared, so every result records it. */
export function loadAverage(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}
