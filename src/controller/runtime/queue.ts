// A keyed work queue in the manner of client-go's workqueue, for level-triggered reconcilers:
//   - a key waiting in the queue is held once, however often it is added;
//   - a key runs on at most one worker at a time; added while running, it runs once more after;
//   - at most `concurrency` keys run at once;
//   - a failed key is retried after a capped exponential backoff of its own, reset by a success;
//     a TerminalError, or an API error that retrying cannot fix (400/422), is not retried;
//   - shutdown stops new adds, cancels pending retries and waits for the work to finish.
import type { Logger } from "pino";
import { classifyApiError } from "../../shared/api-errors.ts";
import { backoffDelayMs, type BackoffPolicy } from "../../shared/backoff.ts";
import { realClock, type Clock, type TimerHandle } from "./clock.ts";
import type { RuntimeMetrics } from "./metrics.ts";

/** What a run asks for besides success: run the key again after a while (e.g. to re-check). */
export type ProcessResult = void | { requeueAfterMs: number };

/** signal aborts when the queue is shut down without draining. */
export type ProcessFunc = (key: string, signal: AbortSignal) => Promise<ProcessResult>;

/** Thrown by a process function for a failure that retrying cannot fix. It is logged, not retried. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalError";
  }
}

export interface WorkQueueOptions {
  /** Metric label and log field, e.g. "components". */
  name: string;
  process: ProcessFunc;
  log: Logger;
  metrics?: RuntimeMetrics;
  /** Keys processed at once (default 1). */
  concurrency?: number;
  /** Per-key retry delays. Default 100 ms doubling to 60 s. */
  backoff?: BackoffPolicy;
  clock?: Clock;
  random?: () => number;
}

export const DEFAULT_QUEUE_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 60_000 };

export class WorkQueue {
  private readonly opts: WorkQueueOptions;
  private readonly clock: Clock;
  private readonly concurrency: number;
  private readonly waiting: string[] = [];
  private readonly waitingSet = new Set<string>();
  private readonly enqueuedAt = new Map<string, number>();
  private readonly running = new Set<string>();
  private readonly addedWhileRunning = new Set<string>();
  private readonly failureCounts = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: TimerHandle }>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly abort = new AbortController();
  private started = false;
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
  }

  /** Begins processing. Keys added before are kept and run now. */
  start(): void {
    if (this.started || this.shuttingDown) return;
    this.started = true;
    this.pump();
  }

  /** Queues key to run as soon as a worker is free. A pending delayed run of it is dropped. */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.cancelDelayed(key);
    this.enqueue(key);
  }

  /** Queues key after delayMs. An earlier pending delayed run of the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.enqueue(key);
    }, delayMs);
    this.delayed.set(key, { at, timer });
  }

  /** Forgets the key's failures and drops its pending retry (e.g. the object was deleted). */
  forget(key: string): void {
    this.failureCounts.delete(key);
    this.cancelDelayed(key);
  }

  /** Consecutive failures of key since its last success. */
  failures(key: string): number {
    return this.failureCounts.get(key) ?? 0;
  }

  /** Keys waiting to run (not counting running keys or pending delayed runs). */
  len(): number {
    return this.waiting.length;
  }

  /** Keys with a delayed run (retry or addAfter) pending. */
  delayedKeys(): string[] {
    return [...this.delayed.keys()];
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Resolves when nothing waits and nothing runs (pending delayed runs do not count). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops the queue. New adds and pending retries are dropped. With drain (the default) the
   * keys already waiting still run; without it only the running ones finish, and their signal
   * is aborted. Resolves when no key is running.
   */
  async shutdown(opts: { drain?: boolean } = {}): Promise<void> {
    const drain = opts.drain ?? true;
    this.shuttingDown = true;
    for (const key of [...this.delayed.keys()]) this.cancelDelayed(key);
    if (!drain || !this.started) {
      this.waiting.length = 0;
      this.waitingSet.clear();
      this.enqueuedAt.clear();
      this.addedWhileRunning.clear();
      this.opts.metrics?.queueDepth.set({ queue: this.opts.name }, 0);
    }
    if (!drain) this.abort.abort(new Error(`queue ${this.opts.name} shut down`));
    this.notifyIdle();
    await this.idle();
  }

  private enqueue(key: string): void {
    const { metrics, name } = this.opts;
    if (this.running.has(key)) {
      if (!this.addedWhileRunning.has(key)) metrics?.queueAdds.inc({ queue: name });
      this.addedWhileRunning.add(key);
      return;
    }
    if (this.waitingSet.has(key)) return;
    this.waiting.push(key);
    this.waitingSet.add(key);
    this.enqueuedAt.set(key, this.clock.now());
    metrics?.queueAdds.inc({ queue: name });
    metrics?.queueDepth.set({ queue: name }, this.waiting.length);
    this.pump();
  }

  private cancelDelayed(key: string): void {
    this.delayed.get(key)?.timer.cancel();
    this.delayed.delete(key);
  }

  private pump(): void {
    if (!this.started) return;
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const key = this.waiting.shift()!;
      this.waitingSet.delete(key);
      this.opts.metrics?.queueDepth.set({ queue: this.opts.name }, this.waiting.length);
      void this.runOne(key);
    }
  }

  private async runOne(key: string): Promise<void> {
    const { metrics, name } = this.opts;
    this.running.add(key);
    metrics?.queueInFlight.set({ queue: name }, this.running.size);
    const startedAt = this.clock.now();
    metrics?.queueWaitSeconds.observe(
      { queue: name },
      (startedAt - (this.enqueuedAt.get(key) ?? startedAt)) / 1000,
    );
    this.enqueuedAt.delete(key);
    try {
      const result = await Promise.resolve().then(() => this.opts.process(key, this.abort.signal));
      this.failureCounts.delete(key);
      if (result && result.requeueAfterMs > 0) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      this.onFailure(key, err);
    } finally {
      metrics?.queueWorkSeconds.observe({ queue: name }, (this.clock.now() - startedAt) / 1000);
      this.running.delete(key);
      metrics?.queueInFlight.set({ queue: name }, this.running.size);
      if (this.addedWhileRunning.delete(key)) {
        // It changed while we worked on it: run it once more, now, even while draining.
        this.cancelDelayed(key);
        this.enqueue(key);
      }
      this.pump();
      this.notifyIdle();
    }
  }

  private onFailure(key: string, err: unknown): void {
    const { metrics, name, log } = this.opts;
    const classified = classifyApiError(err);
    if (err instanceof TerminalError || classified.terminal) {
      this.failureCounts.delete(key);
      metrics?.queueFailures.inc({ queue: name, outcome: "terminal" });
      log.error({ queue: name, key, err: classified.message }, "processing failed, not retrying");
      return;
    }
    const failures = (this.failureCounts.get(key) ?? 0) + 1;
    this.failureCounts.set(key, failures);
    metrics?.queueFailures.inc({ queue: name, outcome: "retry" });
    if (this.shuttingDown) return;
    const delayMs = Math.max(
      backoffDelayMs(this.opts.backoff ?? DEFAULT_QUEUE_BACKOFF, failures - 1, this.opts.random),
      classified.retryAfterMs ?? 0,
    );
    metrics?.queueRetries.inc({ queue: name });
    log.warn(
      { queue: name, key, failures, retryInMs: delayMs, err: classified.message },
      "processing failed, retrying",
    );
    this.addAfter(key, delayMs);
  }

  private isIdle(): boolean {
    return this.running.size === 0 && (this.waiting.length === 0 || !this.started);
  }

  private notifyIdle(): void {
    if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
