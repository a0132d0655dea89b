// A background task that runs again when it asks to (or after `resyncMs` at the latest), and
// after a failure retries with capped exponential backoff. Used by the certificate sources and
// the webhook publisher; nothing here knows what the task does.
import type { Logger } from "../shared/log.ts";

export interface RetryLoopOptions {
  /** Upper bound between two runs. */
  resyncMs: number;
  /** First delay after a failure; doubles per consecutive failure, up to resyncMs. */
  retryMs: number;
  log: Logger;
  now: () => Date;
}

export interface RetryLoop {
  /** Runs now, or joins the run in progress. Never rejects; does nothing once stopped. */
  run(): Promise<void>;
  /** No more runs; resolves when the one in progress (if any) has finished. */
  stop(): Promise<void>;
}

/** `task` returns when it wants to run next (undefined: after resyncMs) or throws to be retried. */
export function retryLoop(task: () => Promise<Date | undefined>, opts: RetryLoopOptions): RetryLoop {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failures = 0;
  let running: Promise<void> | undefined;
  const schedule = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    // A floor, so that a task asking for "now" again and again cannot spin.
    timer = setTimeout(() => void run(), Math.max(ms, 250));
    timer.unref();
  };
  const run = (): Promise<void> => {
    if (stopped) return running ?? Promise.resolve();
    running ??= (async () => {
      try {
        const next = await task();
        failures = 0;
        const wait = next ? next.getTime() - opts.now().getTime() : opts.resyncMs;
        schedule(Math.min(wait, opts.resyncMs));
      } catch (err) {
        failures++;
        const delay = Math.min(opts.retryMs * 2 ** Math.min(failures - 1, 20), opts.resyncMs);
        opts.log.debug({ err: (err as Error).message, failures, retryInMs: delay }, "retrying");
        schedule(delay);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  return {
    run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
