import { expect } from "chai";
import { pino } from "pino";
import { Registry } from "prom-client";
import { KubeApiError } from "../../shared/api-errors.ts";
import { FakeClock, flushPromises } from "./fake-clock.testing.ts";
import { runtimeMetrics } from "./metrics.ts";
import { TerminalError, WorkQueue, type ProcessFunc, type ProcessResult } from "./queue.ts";

const log = pino({ level: "silent" });

interface Deferred {
  resolve(r?: ProcessResult): void;
  reject(err: unknown): void;
}

/** A process function whose runs the test finishes by hand. */
function controlled() {
  const started: string[] = [];
  const pending = new Map<string, Deferred[]>();
  let active = 0;
  let maxActive = 0;
  const activeKeys = new Set<string>();
  let overlapped = false;
  const process: ProcessFunc = (key) => {
    started.push(key);
    if (activeKeys.has(key)) overlapped = true;
    activeKeys.add(key);
    maxActive = Math.max(maxActive, ++active);
    return new Promise<ProcessResult>((resolve, reject) => {
      const done = () => {
        active--;
        activeKeys.delete(key);
      };
      const d: Deferred = {
        resolve: (r) => (done(), resolve(r)),
        reject: (e) => (done(), reject(e)),
      };
      pending.set(key, [...(pending.get(key) ?? []), d]);
    });
  };
  const take = (key: string): Deferred => {
    const list = pending.get(key) ?? [];
    const d = list.shift();
    if (!d) throw new Error(`${key} is not running`);
    return d;
  };
  return {
    process,
    started,
    finish: async (key: string, r?: ProcessResult) => (take(key).resolve(r), flushPromises()),
    fail: async (key: string, err: unknown = new Error("boom")) => (take(key).reject(err), flushPromises()),
    maxActive: () => maxActive,
    overlapped: () => overlapped,
  };
}

function newQueue(
  p: ProcessFunc,
  opts: { concurrency?: number; clock?: FakeClock; registry?: Registry } = {},
) {
  const clock = opts.clock ?? new FakeClock();
  const registry = opts.registry ?? new Registry();
  const q = new WorkQueue({
    name: "test",
    process: p,
    log,
    clock,
    concurrency: opts.concurrency ?? 1,
    backoff: { baseMs: 100, maxMs: 1_000 },
    metrics: runtimeMetrics(registry),
  });
  return { q, clock, registry };
}

async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = { queue: "test" },
) {
  const metric = await registry.getSingleMetric(name)!.get();
  const match = metric.values.find(
    (v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val) && !("le" in v.labels),
  );
  return match?.value;
}

describe("WorkQueue", () => {
  it("holds a waiting key once however often it is added", async () => {
    const c = controlled();
    const { q, registry } = newQueue(c.process);
    q.add("a");
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.len()).to.equal(2);
    expect(await metricValue(registry, "outrigger_workqueue_depth")).to.equal(2);
    expect(await metricValue(registry, "outrigger_workqueue_adds_total")).to.equal(2);
    q.start();
    await flushPromises();
    await c.finish("a");
    await c.finish("b");
    await q.idle();
    expect(c.started).to.deep.equal(["a", "b"]);
    expect(await metricValue(registry, "outrigger_workqueue_depth")).to.equal(0);
  });

  it("does not process before start()", async () => {
    const c = controlled();
    const { q } = newQueue(c.process);
    q.add("a");
    await flushPromises();
    expect(c.started).to.deep.equal([]);
    q.start();
    await flushPromises();
    expect(c.started).to.deep.equal(["a"]);
  });

  it("runs a key added while it runs exactly once more, after the current run", async () => {
    const c = controlled();
    const { q } = newQueue(c.process, { concurrency: 4 });
    q.start();
    q.add("a");
    await flushPromises();
    q.add("a");
    q.add("a");
    q.add("a");
    await flushPromises();
    expect(c.started).to.deep.equal(["a"]); // serial per key, even with free workers
    await c.finish("a");
    expect(c.started).to.deep.equal(["a", "a"]);
    await c.finish("a");
    await q.idle();
    expect(c.started).to.deep.equal(["a", "a"]);
    expect(c.overlapped()).to.equal(false);
  });

  it("caps concurrency", async () => {
    const c = controlled();
    const { q, registry } = newQueue(c.process, { concurrency: 2 });
    q.start();
    for (const k of ["a", "b", "c", "d", "e"]) q.add(k);
    await flushPromises();
    expect(c.started).to.deep.equal(["a", "b"]);
    expect(await metricValue(registry, "outrigger_workqueue_in_flight")).to.equal(2);
    await c.finish("b");
    expect(c.started).to.deep.equal(["a", "b", "c"]);
    await c.finish("a");
    await c.finish("c");
    await c.finish("d");
    await c.finish("e");
    await q.idle();
    expect(c.maxActive()).to.equal(2);
    expect(c.started).to.deep.equal(["a", "b", "c", "d", "e"]);
  });

  it("retries a failing key with capped exponential backoff and resets it on success", async () => {
    const c = controlled();
    const { q, clock, registry } = newQueue(c.process);
    q.start();
    q.add("a");
    await flushPromises();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      await c.fail("a");
      delays.push(clock.pendingDelays()[0]!);
      await clock.advance(delays[i]!);
    }
    expect(delays).to.deep.equal([100, 200, 400, 800, 1_000, 1_000]);
    expect(q.failures("a")).to.equal(6);
    expect(await metricValue(registry, "outrigger_workqueue_retries_total")).to.equal(6);

    await c.finish("a");
    expect(q.failures("a")).to.equal(0);
    q.add("a");
    await flushPromises();
    await c.fail("a");
    expect(clock.pendingDelays()).to.deep.equal([100]);
  });

  it("does not retry before the backoff has passed", async () => {
    const c = controlled();
    const { q, clock } = newQueue(c.process);
    q.start();
    q.add("a");
    await flushPromises();
    await c.fail("a");
    await clock.advance(99);
    expect(c.started).to.deep.equal(["a"]);
    await clock.advance(1);
    expect(c.started).to.deep.equal(["a", "a"]);
  });

  it("waits at least as long as the server's Retry-After", async () => {
    const c = controlled();
    const { q, clock } = newQueue(c.process);
    q.start();
    q.add("a");
    await flushPromises();
    await c.fail("a", new KubeApiError(429, { reason: "TooManyRequests" }, 5_000));
    expect(clock.pendingDelays()).to.deep.equal([5_000]);
  });

  it("does not retry terminal errors", async () => {
    const c = controlled();
    const { q, clock, registry } = newQueue(c.process);
    q.start();
    q.add("a");
    await flushPromises();
    await c.fail("a", new TerminalError("bad spec"));
    q.add("b");
    await flushPromises();
    await c.fail("b", new KubeApiError(422, { reason: "Invalid" }));
    expect(clock.pendingTimers()).to.equal(0);
    expect(q.failures("a")).to.equal(0);
    expect(
      await metricValue(registry, "outrigger_workqueue_failures_total", {
        queue: "test",
        outcome: "terminal",
      }),
    ).to.equal(2);
  });

  it("forget() drops the failure count and the pending retry", async () => {
    const c = controlled();
    const { q, clock } = newQueue(c.process);
    q.start();
    q.add("a");
    await flushPromises();
    await c.fail("a");
    expect(q.delayedKeys()).to.deep.equal(["a"]);
    q.forget("a");
    expect(q.failures("a")).to.equal(0);
    expect(q.delayedKeys()).to.deep.equal([]);
    await clock.advance(10_000);
    expect(c.started).to.deep.equal(["a"]);
  });

  it("an explicit add runs a key in backoff now, without a second run later", async () => {
    const c = controlled();
    const { q, clock } = newQueue(c.process);
    q.start();
    q.add("a");
    await flushPromises();
    await c.fail("a");
    q.add("a");
    await flushPromises();
    expect(c.started).to.deep.equal(["a", "a"]);
    await c.finish("a");
    await clock.advance(10_000);
    expect(c.started).to.deep.equal(["a", "a"]);
  });

  it("requeues after requeueAfterMs, and addAfter keeps the earliest time", async () => {
    const c = controlled();
    const { q, clock } = newQueue(c.process);
    q.start();
    q.add("a");
    await flushPromises();
    await c.finish("a", { requeueAfterMs: 5_000 });
    expect(clock.pendingDelays()).to.deep.equal([5_000]);
    q.addAfter("a", 9_000);
    expect(clock.pendingDelays()).to.deep.equal([5_000]);
    q.addAfter("a", 2_000);
    expect(clock.pendingDelays()).to.deep.equal([2_000]);
    await clock.advance(2_000);
    expect(c.started).to.deep.equal(["a", "a"]);
  });

  it("observes wait and work durations", async () => {
    const c = controlled();
    const { q, clock, registry } = newQueue(c.process);
    q.add("a");
    await clock.advance(3_000);
    q.start();
    await flushPromises();
    await clock.advance(250);
    await c.finish("a");
    const wait = await registry.getSingleMetric("outrigger_workqueue_queue_duration_seconds")!.get();
    const work = await registry.getSingleMetric("outrigger_workqueue_work_duration_seconds")!.get();
    const sum = (m: typeof wait) =>
      m.values.find((v) => (v as { metricName?: string }).metricName?.endsWith("_sum"))?.value;
    expect(sum(wait)).to.equal(3);
    expect(sum(work)).to.equal(0.25);
  });

  it("shutdown drains waiting keys, drops retries and ignores new adds", async () => {
    const c = controlled();
    const { q, clock } = newQueue(c.process);
    q.start();
    q.add("a");
    q.add("b");
    await flushPromises();
    await c.fail("a");
    q.add("c"); // waits behind b, which runs now
    await flushPromises();
    expect(q.delayedKeys()).to.deep.equal(["a"]);
    let done = false;
    const shut = q.shutdown().then(() => (done = true));
    q.add("d");
    await flushPromises();
    expect(done).to.equal(false);
    await c.finish("b");
    expect(done).to.equal(false);
    await c.finish("c");
    await shut;
    await clock.advance(10_000);
    expect(c.started).to.deep.equal(["a", "b", "c"]);
    expect(q.isShuttingDown()).to.equal(true);
  });

  it("shutdown without drain drops waiting keys and aborts running ones", async () => {
    let signal: AbortSignal | undefined;
    const started: string[] = [];
    const { q } = newQueue(
      (key, s) => {
        started.push(key);
        signal = s;
        return new Promise((_, reject) => s.addEventListener("abort", () => reject(s.reason)));
      },
      { concurrency: 1 },
    );
    q.start();
    q.add("a");
    q.add("b");
    await flushPromises();
    await q.shutdown({ drain: false });
    expect(signal?.aborted).to.equal(true);
    expect(started).to.deep.equal(["a"]);
    expect(q.len()).to.equal(0);
  });

  it("survives a process function that throws synchronously", async () => {
    const { q, clock } = newQueue(() => {
      throw new Error("sync");
    });
    q.start();
    q.add("a");
    await flushPromises();
    expect(q.failures("a")).to.equal(1);
    expect(clock.pendingDelays()).to.deep.equal([100]);
  });
});
