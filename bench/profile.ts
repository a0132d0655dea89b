// What dominates a V8 CPU profile (`node --cpu-prof`): self time by area (TLS, HTTP, express,
// logging, the injector core, GC...) and the hottest functions. Native frames without a script
// (JSON.parse, Buffer ops) are charged to the nearest JavaScript caller's area, since that is
// the code that chose to call them.

export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time that was not idle, in ms. */
  busyMs: number;
  idleMs: number;
  areas: Array<{ area: string; ms: number; percent: number }>;
  /** Functions by self time. */
  topSelf: Array<{ fn: string; area: string; ms: number; percent: number }>;
  /** Outrigger functions (src/) by inclusive time: how much of the work runs under each. */
  topInclusive: Array<{ fn: string; ms: number; percent: number }>;
}

const groups: Array<[string, RegExp]> = [
  [
    "express (routing, body reading)",
    /^(express|router|body-parser|raw-body|iconv-lite|type-is|content-type|mime-types|mime-db|media-typer|on-finished|finalhandler|send|qs|depd|http-errors|statuses|parseurl|encodeurl|escape-html|merge-descriptors|utils-merge|content-disposition|cookie|vary|accepts|negotiator|fresh|range-parser|proxy-addr|forwarded|ipaddr\.js|etag|debug|ms|bytes|unpipe|destroy|ee-first|setprototypeof|inherits|toidentifier|safe-buffer|safer-buffer|call-bound|get-intrinsic|math-intrinsics|side-channel.*|es-.*|function-bind|gopd|has-symbols|hasown|dunder-proto|call-bind-apply-helpers|object-inspect)$/,
  ],
  [
    "pino (logging)",
    /^(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|safe-stable-stringify|atomic-sleep|on-exit-leak-free|real-require|process-warning|@pinojs\/redact)$/,
  ],
  ["prom-client (metrics)", /^(prom-client|tdigest|bintrees)$/],
];

/** The area a script URL belongs to. */
export function areaOf(url: string): string {
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) {
    const pkg = modules[1]!;
    return groups.find(([, re]) => re.test(pkg))?.[0] ?? pkg;
  }
  const own = outriggerFile(url);
  if (own) return `outrigger ${own}`;
  if (url.startsWith("node:")) {
    const mod = url.slice(5);
    if (/worker\/js_transferable/.test(mod)) return "node: structuredClone";
    if (/modules\//.test(mod)) return "node: module loading";
    if (/tls|crypto/.test(mod)) return "node: TLS";
    if (/http/.test(mod)) return "node: HTTP";
    if (/net|stream|buffer|timers|async_hooks|events|process\/task_queues/.test(mod))
      return "node: net/streams/events";
    return "node: other";
  }
  return url === "" ? "native" : url;
}

/** "src/x/y.ts" for Outrigger's own code, from the sources or the compiled build (dist/x/y.js). */
export function outriggerFile(url: string): string | undefined {
  if (url.includes("/node_modules/")) return undefined;
  const m = /\/(src|bench|dist)\/(.+)\.(ts|js)$/.exec(url);
  if (!m) return undefined;
  return m[1] === "dist" ? `src/${m[2]}.ts` : `${m[1]}/${m[2]}.ts`;
}

const SPECIAL: Record<string, string> = {
  "(garbage collector)": "GC",
  "(program)": "V8/native (program)",
  "(idle)": "idle",
  "(root)": "V8/native (program)",
};

/**
 * Summarizes the samples taken inside `window` (microseconds on the profile's clock, which is
 * the monotonic clock of process.hrtime), or all of them.
 */
export function summarizeProfile(
  profile: CpuProfile,
  opts: { top?: number; window?: { fromUs: number; toUs: number } } = {},
): ProfileSummary {
  const top = opts.top ?? 15;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // The area of a node: its own script, or for script-less frames the nearest caller's.
  const areaCache = new Map<number, string>();
  const areaOfNode = (id: number): string => {
    const cached = areaCache.get(id);
    if (cached) return cached;
    const n = byId.get(id)!;
    const special = SPECIAL[n.callFrame.functionName];
    let area: string;
    if (special && n.callFrame.url === "") area = special;
    else if (n.callFrame.url !== "") area = areaOf(n.callFrame.url);
    else {
      const p = parent.get(id);
      area = p === undefined ? "native" : areaOfNode(p);
      if (area === "V8/native (program)") area = "native";
    }
    areaCache.set(id, area);
    return area;
  };
  const label = (id: number) => {
    const f = byId.get(id)!.callFrame;
    // The real file and line: for the compiled build, a line of dist/*.js (no source maps here).
    const file = f.url.replace(/^.*\/(node_modules|src|bench|dist)\//, "$1/");
    const where = f.url ? ` ${file}:${f.lineNumber + 1}` : "";
    return `${f.functionName || "(anonymous)"}${where}`;
  };

  const self = new Map<number, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (opts.window && (at < opts.window.fromUs || at > opts.window.toUs)) return;
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    if (byId.get(id)?.callFrame.functionName === "(idle)") {
      idle += dt;
      return;
    }
    busy += dt;
    self.set(id, (self.get(id) ?? 0) + dt);
    // Inclusive time of Outrigger functions: each distinct function on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (!outriggerFile(byId.get(cur)!.callFrame.url)?.startsWith("src/")) continue;
      const key = label(cur);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  });

  const areas = new Map<string, number>();
  const fns = new Map<string, { area: string; ms: number }>();
  for (const [id, ms] of self) {
    const area = areaOfNode(id);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const key = label(id);
    const f = fns.get(key) ?? { area, ms: 0 };
    f.ms += ms;
    fns.set(key, f);
  }
  const pct = (ms: number) => (busy > 0 ? (ms / busy) * 100 : 0);
  return {
    busyMs: busy,
    idleMs: idle,
    areas: [...areas].map(([area, ms]) => ({ area, ms, percent: pct(ms) })).sort((a, b) => b.ms - a.ms),
    topSelf: [...fns]
      .map(([fn, f]) => ({ fn, area: f.area, ms: f.ms, percent: pct(f.ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
    topInclusive: [...inclusive]
      .map(([fn, ms]) => ({ fn, ms, percent: pct(ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}
