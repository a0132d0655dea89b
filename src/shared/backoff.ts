// Capped exponential backoff with jitter, shared by watch restarts, queue retries and leader
// election. The delay math is a pure function; Backoff only counts attempts.

export interface BackoffPolicy {
  /** Delay of the first retry. */
  baseMs: number;
  /** No delay exceeds this. */
  maxMs: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /**
   * Fraction of the delay taken off at random, 0..1 (default 0). With jitter j the delay lies in
   * [d*(1-j), d], so the cap holds and clients that failed together do not retry together.
   */
  jitter?: number;
}

/** Delay before retry number `attempt` (0 = first retry). `random` returns a value in [0, 1). */
export function backoffDelayMs(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const factor = policy.factor ?? 2;
  const jitter = Math.min(Math.max(policy.jitter ?? 0, 0), 1);
  // Exponent clamped so huge attempt counts cannot overflow to Infinity before the cap applies.
  const exp = Math.min(Math.max(attempt, 0), 1000);
  const uncapped = policy.baseMs * Math.pow(factor, exp);
  const capped = Math.min(Number.isFinite(uncapped) ? uncapped : policy.maxMs, policy.maxMs);
  return Math.round(capped * (1 - jitter * random()));
}

/** Counts consecutive failures and hands out the next delay. */
export class Backoff {
  private attempts = 0;
  private readonly policy: BackoffPolicy;
  private readonly random: () => number;

  constructor(policy: BackoffPolicy, random: () => number = Math.random) {
    this.policy = policy;
    this.random = random;
  }

  /** The delay before the next retry; each call counts one more failure. */
  next(): number {
    return backoffDelayMs(this.policy, this.attempts++, this.random);
  }

  reset(): void {
    this.attempts = 0;
  }

  failures(): number {
    return this.attempts;
  }
}
