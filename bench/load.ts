// HTTPS load generator for AdmissionReviews. It runs in its own process (runLoadInChild forks
// this file), so it never shares an event loop with the server it measures.
//
// Two modes:
//   closed  N connections, each sends its next review as soon as the previous answer is in:
//           the peak throughput at that concurrency;
//   rate    reviews start on a fixed schedule (R per second) whatever the answers do, and each
//           latency is measured from its scheduled start, so a stalled server shows up in the
//           percentiles instead of silently lowering the rate (no coordinated omission);
//   count   after the warm-up, exactly N reviews over C connections: the window is as long as
//           they take, so the server's CPU over it divided by N is its CPU per review.
// Every answer must be HTTP 200; a sample of them is decoded and checked in full.
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import https from "node:https";
import { fileURLToPath } from "node:url";
import { summarize, type LatencySummary } from "./stats.ts";

export interface LoadSpec {
  /** https://host:port/path */
  url: string;
  /** PEM bundle the client trusts. */
  ca: string;
  /** The review's JSON text with the literal `"uid":"<UID>"`; each request gets a fresh uid. */
  reviewTemplate: string;
  mode:
    | { kind: "closed"; concurrency: number }
    | { kind: "rate"; perSecond: number; maxConnections: number }
    | { kind: "count"; concurrency: number; reviews: number };
  warmupMs: number;
  durationMs: number;
  /** What a correct answer holds: a JSON patch (the injector) or just allowed (the reference). */
  expect: "patch" | "allowed";
}

export interface LoadResult {
  /** Answers completed inside the measured window. */
  requests: number;
  /** Completed answers per second inside the window. */
  throughput: number;
  latencyMs: LatencySummary;
  errors: number;
  errorSamples: string[];
  /** Answers decoded and checked in full. */
  verified: number;
  /** CPU the load generator used during the window, in percent of one core. */
  clientCpuPercent: number;
  windowMs: number;
}

/** Messages from the child: window marks (for sampling the server's CPU) and the result. */
export type LoadMessage =
  { type: "window-start" } | { type: "window-end" } | { type: "result"; result: LoadResult };

export const UID_PLACEHOLDER = "<UID>";

/** Splits the review around the uid placeholder, so a request body is three string pieces. */
export function splitTemplate(reviewTemplate: string): [string, string] {
  const marker = JSON.stringify(UID_PLACEHOLDER);
  const at = reviewTemplate.indexOf(marker);
  if (at < 0 || reviewTemplate.indexOf(marker, at + 1) >= 0)
    throw new Error(`the review template must hold ${marker} exactly once`);
  return [reviewTemplate.slice(0, at), reviewTemplate.slice(at + marker.length)];
}

/** Why an answer is wrong, or undefined when it is a correct admission answer for uid. */
export function answerProblem(text: string, uid: string, expect: LoadSpec["expect"]): string | undefined {
  let body: { apiVersion?: unknown; kind?: unknown; response?: Record<string, unknown> };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return `not JSON: ${text.slice(0, 120)}`;
  }
  const r = body.response;
  if (body.apiVersion !== "admission.k8s.io/v1" || body.kind !== "AdmissionReview" || !r)
    return "not an admission.k8s.io/v1 AdmissionReview with a response";
  if (r.uid !== uid) return `uid ${String(r.uid)}, want ${uid}`;
  if (r.allowed !== true) return `not allowed: ${JSON.stringify(r.status ?? null).slice(0, 200)}`;
  if (expect === "patch" && (r.patchType !== "JSONPatch" || typeof r.patch !== "string" || r.patch === ""))
    return "allowed without a JSON patch: the pod was not injected";
  return undefined;
}

// Check every answer early on, then one in VERIFY_EVERY: decoding a few KB of patch per answer
// would cost the client CPU that the server under test needs.
const VERIFY_FIRST = 20;
const VERIFY_EVERY = 50;

export async function runLoad(
  spec: LoadSpec,
  mark: (m: LoadMessage) => void = () => {},
): Promise<LoadResult> {
  const url = new URL(spec.url);
  const [head, tail] = splitTemplate(spec.reviewTemplate);
  const maxSockets = spec.mode.kind === "rate" ? spec.mode.maxConnections : spec.mode.concurrency;
  // Idle sockets close after 4 s, before the server's 5 s keep-alive timeout (Node's default)
  // can close one just as a request goes out on it (ECONNRESET).
  const agent = new https.Agent({ keepAlive: true, maxSockets, ca: spec.ca, timeout: 4000 });
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let verified = 0;
  let sent = 0;

  const start = performance.now();
  // A count run sets its window when the warm-up ends and when the last review is answered.
  let windowStart = spec.mode.kind === "count" ? Infinity : start + spec.warmupMs;
  let windowEnd = spec.mode.kind === "count" ? Infinity : windowStart + spec.durationMs;
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  let inWindow = 0;

  const fail = (message: string) => {
    errors++;
    if (errorSamples.length < 5) errorSamples.push(message);
  };

  /** Sends one review; `scheduled` is when it was meant to start (rate mode) or now. */
  const send = (scheduled: number): Promise<void> =>
    new Promise((resolve) => {
      const uid = randomUUID();
      const body = head + JSON.stringify(uid) + tail;
      const verify = sent++ < VERIFY_FIRST || sent % VERIFY_EVERY === 0;
      const req = https.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const done = performance.now();
            if (res.statusCode !== 200) fail(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`);
            else if (verify) {
              const problem = answerProblem(Buffer.concat(chunks).toString("utf8"), uid, spec.expect);
              if (problem) fail(problem);
              else verified++;
            }
            if (done >= windowStart && done < windowEnd) {
              latencies.push(done - scheduled);
              inWindow++;
            }
            resolve();
          });
          res.on("error", (err) => {
            fail(err.message);
            resolve();
          });
        },
      );
      req.on("error", (err) => {
        fail(err.message);
        resolve();
      });
      req.end(body);
    });

  if (spec.mode.kind === "count") {
    const { concurrency, reviews } = spec.mode;
    const warmUntil = start + spec.warmupMs;
    const warm = async () => {
      while (performance.now() < warmUntil) await send(performance.now());
    };
    await Promise.all(Array.from({ length: concurrency }, warm));
    cpuAtStart = process.cpuUsage();
    mark({ type: "window-start" });
    windowStart = performance.now();
    let left = reviews;
    const loop = async () => {
      while (left-- > 0) await send(performance.now());
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    const cpu = process.cpuUsage(cpuAtStart);
    mark({ type: "window-end" });
    windowEnd = performance.now();
    agent.destroy();
    const windowMs = windowEnd - windowStart;
    return {
      requests: inWindow,
      throughput: (inWindow * 1000) / windowMs,
      latencyMs: summarize(latencies),
      errors,
      errorSamples,
      verified,
      clientCpuPercent: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
      windowMs,
    };
  }

  const windowMarks = setTimeout(() => {
    cpuAtStart = process.cpuUsage();
    mark({ type: "window-start" });
  }, spec.warmupMs);
  const endMark = new Promise<NodeJS.CpuUsage>((resolve) =>
    setTimeout(() => {
      const used = process.cpuUsage(cpuAtStart);
      mark({ type: "window-end" });
      resolve(used);
    }, spec.warmupMs + spec.durationMs),
  );

  if (spec.mode.kind === "closed") {
    const loop = async () => {
      while (performance.now() < windowEnd) await send(performance.now());
    };
    await Promise.all(Array.from({ length: spec.mode.concurrency }, loop));
  } else {
    const intervalMs = 1000 / spec.mode.perSecond;
    const inFlight = new Set<Promise<void>>();
    let next = start;
    await new Promise<void>((resolve) => {
      // Timers fire at best every millisecond: each tick starts every review that is due.
      const tick = () => {
        const now = performance.now();
        while (next <= now && next < windowEnd) {
          const p = send(next);
          inFlight.add(p);
          void p.then(() => inFlight.delete(p));
          next += intervalMs;
        }
        if (next >= windowEnd) resolve();
        else setTimeout(tick, Math.max(0, Math.min(1, next - performance.now())));
      };
      tick();
    });
    await Promise.all(inFlight);
  }
  const cpu = await endMark;
  clearTimeout(windowMarks);
  agent.destroy();
  return {
    requests: inWindow,
    throughput: (inWindow * 1000) / spec.durationMs,
    latencyMs: summarize(latencies),
    errors,
    errorSamples,
    verified,
    clientCpuPercent: ((cpu.user + cpu.system) / 1000 / spec.durationMs) * 100,
    windowMs: spec.durationMs,
  };
}

/**
 * Runs the load in a child process. onMark hears the window marks as they happen, so the caller
 * can sample the server's CPU over exactly the measured window.
 */
export function runLoadInChild(
  spec: LoadSpec,
  onMark: (m: LoadMessage) => void = () => {},
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: LoadResult | undefined;
    child.on("message", (m: LoadMessage) => {
      if (m.type === "result") result = m.result;
      else onMark(m);
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (result) resolve(result);
      else reject(new Error(`the load generator exited with ${code} and no result`));
    });
    child.send(spec);
  });
}

if (import.meta.main) {
  process.once("message", (spec: LoadSpec) => {
    runLoad(spec, (m) => process.send?.(m)).then(
      (result) =>
        process.send?.({ type: "result", result } satisfies LoadMessage, () => process.disconnect()),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
