// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules and timings:
//   - a Lease that is missing, has no holder, or whose holder has not renewed for its
//     leaseDurationSeconds (measured on our own clock from when we saw the record change, so
//     clock skew between replicas does not matter) may be taken;
//   - writes carry the resourceVersion we read; a 409 means another replica won, so we retry;
//   - the leader renews every retryPeriod and gives up leading once it has not renewed for
//     renewDeadline (< leaseDuration, so it stops before anyone else may start), or as soon as
//     it sees another holder;
//   - release() empties holderIdentity and sets leaseDurationSeconds to 1, so the other replica
//     takes over at its next attempt instead of waiting for the lease to expire.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { classifyApiError } from "../../shared/api-errors.ts";
import { realClock, sleep, type Clock } from "./clock.ts";
import type { KubeHttp } from "../../shared/kube-http.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { resourcePath, resources } from "./resource.ts";

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** Reads and writes one Lease. Errors are thrown as API errors (404 from get becomes undefined). */
export interface LeaseStore {
  get(signal: AbortSignal, timeoutMs: number): Promise<Lease | undefined>;
  create(lease: Lease, signal: AbortSignal, timeoutMs: number): Promise<Lease>;
  /** Replaces the Lease; lease.metadata.resourceVersion makes it fail with 409 if it changed. */
  update(lease: Lease, signal: AbortSignal, timeoutMs: number): Promise<Lease>;
}

export interface LeaseRef {
  namespace: string;
  name: string;
}

export function kubeLeaseStore(http: KubeHttp, ref: LeaseRef): LeaseStore {
  const collection = resourcePath(resources.leases, ref.namespace);
  const one = resourcePath(resources.leases, ref.namespace, ref.name);
  return {
    async get(signal, timeoutMs) {
      try {
        return await http.json<Lease>({ path: one, signal, timeoutMs });
      } catch (err) {
        if (classifyApiError(err).kind === "not-found") return undefined;
        throw err;
      }
    },
    create: (lease, signal, timeoutMs) =>
      http.json<Lease>({ method: "POST", path: collection, body: lease, signal, timeoutMs }),
    update: (lease, signal, timeoutMs) =>
      http.json<Lease>({ method: "PUT", path: one, body: lease, signal, timeoutMs }),
  };
}

/**
 * Whether the Lease's namespace exists, asked without writing: a dry-run create of the Lease
 * (the controller may create Leases; it has no access to Namespaces). A missing namespace is
 * a 404 naming the namespace; AlreadyExists or a created answer mean it exists. Anything
 * else (403, network) is "unknown", and leader election reports it as it retries.
 */
export async function leaseNamespaceState(
  http: KubeHttp,
  ref: LeaseRef,
): Promise<"exists" | "missing" | "unknown"> {
  try {
    await http.json({
      method: "POST",
      path: resourcePath(resources.leases, ref.namespace),
      query: { dryRun: "All" },
      body: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: ref.name } },
      timeoutMs: 10_000,
    });
    return "exists";
  } catch (err) {
    return leaseNamespaceStateOf(err);
  }
}

/** The state leaseNamespaceState reports for a failed dry-run create. */
export function leaseNamespaceStateOf(err: unknown): "exists" | "missing" | "unknown" {
  const c = classifyApiError(err);
  if (c.kind === "already-exists") return "exists";
  const details = (err as { status?: { details?: { kind?: unknown } } }).status?.details;
  if (c.kind === "not-found" && details?.kind === "namespaces") return "missing";
  return "unknown";
}

export interface LeaderElectionOptions {
  lease: LeaseRef;
  /** Unique per process; defaultIdentity() gives hostname plus a random suffix. */
  identity: string;
  store: LeaseStore;
  /** How long a lease is valid after its last renewal (default 15 s). */
  leaseDurationMs?: number;
  /** The leader stops leading if it could not renew for this long (default 10 s). */
  renewDeadlineMs?: number;
  /** Pause between attempts to acquire or renew (default 2 s). */
  retryPeriodMs?: number;
  /** Called when we become leader. signal aborts when we stop leading. */
  onStartedLeading: (signal: AbortSignal) => void;
  /** Called once when we stop leading, whether the lease was lost or released. */
  onStoppedLeading: () => void;
  /** Called when the observed holder changes (including to ourselves, or to "" when released). */
  onNewLeader?: (identity: string) => void;
  log: Logger;
  metrics?: RuntimeMetrics;
  clock?: Clock;
  random?: () => number;
}

type AttemptResult = "acquired" | "held" | "conflict";

/** How run() ended. */
export type LeadershipEnd = "lost" | "released" | "stopped-before-leading";

export function defaultIdentity(): string {
  return `${hostname()}_${randomUUID().slice(0, 8)}`;
}

// Acquire attempts are spread over [retryPeriod, retryPeriod * (1 + JITTER)).
const ACQUIRE_JITTER = 0.2;

export class LeaderElector {
  private readonly opts: LeaderElectionOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  // The last Lease we read or wrote, and when (our clock) its spec last changed.
  private observed: Lease | undefined;
  private observedAt = 0;
  private leading = false;
  private leadingAbort: AbortController | undefined;
  private stopAbort = new AbortController();
  private running: Promise<LeadershipEnd> | undefined;

  constructor(opts: LeaderElectionOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (this.leaseDurationMs <= this.renewDeadlineMs)
      throw new Error("leaseDuration must be greater than renewDeadline");
    if (this.renewDeadlineMs <= this.retryPeriodMs * (1 + ACQUIRE_JITTER)) {
      throw new Error(`renewDeadline must be greater than retryPeriod * ${1 + ACQUIRE_JITTER}`);
    }
    if (!opts.identity) throw new Error("leader election needs an identity");
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder in the last Lease we saw ("" when free, undefined before the first read). */
  observedLeader(): string | undefined {
    return this.observed?.spec?.holderIdentity ?? (this.observed ? "" : undefined);
  }

  /**
   * Campaigns until we lead, then renews until leadership ends. Resolves with how it ended:
   * "lost" (could not renew, or another holder appeared), "released" (release() was called
   * while leading) or "stopped-before-leading". Calling it while it runs returns the same run.
   */
  run(): Promise<LeadershipEnd> {
    if (!this.running) {
      if (this.stopAbort.signal.aborted) this.stopAbort = new AbortController();
      this.running = this.campaign().finally(() => (this.running = undefined));
    }
    return this.running;
  }

  /**
   * Stops campaigning and, if leading, hands the Lease back so another replica can lead at
   * once. Safe to call at any time, and more than once. Resolves after onStoppedLeading ran.
   */
  async release(): Promise<void> {
    this.stopAbort.abort(new Error("leader election stopped"));
    await this.running?.catch(() => {});
  }

  private async campaign(): Promise<LeadershipEnd> {
    const signal = this.stopAbort.signal;
    const { log, lease } = this.opts;
    log.info(
      { lease: `${lease.namespace}/${lease.name}`, identity: this.opts.identity },
      "campaigning for leadership",
    );
    while (!signal.aborted) {
      const attempt = await this.tryAcquireOrRenew(signal, this.renewDeadlineMs).catch((err: unknown) => {
        if (!signal.aborted)
          log.warn({ err: classifyApiError(err).message }, "leader election: acquire attempt failed");
        return "failed" as const;
      });
      if (attempt === "acquired") {
        if (!signal.aborted) return this.lead(signal);
        await this.releaseLease(); // won just as we were told to stop
      }
      await sleep(this.clock, this.nextAcquireDelayMs(), signal).catch(() => {});
    }
    return "stopped-before-leading";
  }

  // Wait a jittered retry period, but never past the moment the observed lease expires: that is
  // when a takeover becomes possible, and arriving there late only adds to the failover time.
  private nextAcquireDelayMs(): number {
    const jittered = this.retryPeriodMs * (1 + ACQUIRE_JITTER * this.random());
    const holder = this.observed?.spec?.holderIdentity;
    if (!holder || holder === this.opts.identity) return jittered;
    const expiresIn = this.observedAt + this.observedDurationMs() - this.clock.now();
    return Math.max(0, Math.min(jittered, expiresIn + 10));
  }

  private async lead(signal: AbortSignal): Promise<LeadershipEnd> {
    const { log, metrics, lease } = this.opts;
    const leaseName = lease.name;
    this.leading = true;
    this.leadingAbort = new AbortController();
    metrics?.leaderIsLeader.set({ lease: leaseName }, 1);
    metrics?.leaderTransitions.inc({ lease: leaseName });
    log.info({ lease: `${lease.namespace}/${lease.name}`, identity: this.opts.identity }, "started leading");
    this.safely("onStartedLeading", () => this.opts.onStartedLeading(this.leadingAbort!.signal));

    let lastRenew = this.clock.now();
    let end: LeadershipEnd = "lost";
    renewing: while (!signal.aborted) {
      await sleep(this.clock, this.retryPeriodMs, signal).catch(() => {});
      for (;;) {
        if (signal.aborted) {
          end = "released";
          break renewing;
        }
        const remaining = lastRenew + this.renewDeadlineMs - this.clock.now();
        if (remaining <= 0) {
          log.error(
            { renewDeadlineMs: this.renewDeadlineMs },
            "could not renew the lease in time, stopping leading",
          );
          break renewing;
        }
        try {
          const attempt = await this.tryAcquireOrRenew(signal, remaining);
          if (attempt === "acquired") {
            lastRenew = this.clock.now();
            break;
          }
          // Someone else holds it: we were too slow. Stop at once rather than at the deadline.
          if (attempt === "held" && !signal.aborted) {
            log.error({ holder: this.observedLeader() }, "lease taken by another holder, stopping leading");
            break renewing;
          }
        } catch (err) {
          if (signal.aborted) continue;
          log.warn({ err: classifyApiError(err).message }, "lease renewal failed, retrying");
        }
        const wait = Math.min(this.retryPeriodMs, lastRenew + this.renewDeadlineMs - this.clock.now());
        if (wait > 0) await sleep(this.clock, wait, signal).catch(() => {});
      }
    }
    if (signal.aborted) end = "released";

    // Stop the work before handing the lease back, so two leaders never overlap.
    this.leadingAbort.abort(new Error(end === "released" ? "leadership released" : "leadership lost"));
    if (end === "released") await this.releaseLease();
    this.leading = false;
    metrics?.leaderIsLeader.set({ lease: leaseName }, 0);
    metrics?.leaderTransitions.inc({ lease: leaseName });
    log.info(
      { lease: `${lease.namespace}/${lease.name}`, identity: this.opts.identity, how: end },
      "stopped leading",
    );
    this.safely("onStoppedLeading", () => this.opts.onStoppedLeading());
    return end;
  }

  /**
   * One attempt: "acquired" when we hold the lease afterwards, "held" when another holder's lease
   * is still valid, "conflict" when a concurrent write beat ours (409). Throws other API errors.
   */
  private async tryAcquireOrRenew(signal: AbortSignal, timeoutMs: number): Promise<AttemptResult> {
    const { store, identity, lease: ref } = this.opts;
    const now = this.clock.now();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    const current = await store.get(signal, timeoutMs);
    if (!current) {
      const fresh: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: ref.name, namespace: ref.namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        this.observe(await store.create(fresh, signal, timeoutMs));
        return "acquired";
      } catch (err) {
        if (classifyApiError(err).statusCode === 409) return "conflict"; // another replica created it first
        throw err;
      }
    }
    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    if (holder && holder !== identity && this.observedAt + this.observedDurationMs() > now) return "held";

    const mine = holder === identity;
    const next: Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      this.observe(await store.update(next, signal, timeoutMs));
      return "acquired";
    } catch (err) {
      if (classifyApiError(err).kind === "conflict") return "conflict"; // the next read tells us who won
      throw err;
    }
  }

  private async releaseLease(): Promise<void> {
    const current = this.observed;
    if (!current || current.spec?.holderIdentity !== this.opts.identity) return;
    const now = this.clock.now();
    const released: Lease = {
      ...current,
      spec: {
        ...current.spec,
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: microTime(now),
        renewTime: microTime(now),
      },
    };
    try {
      // The stop signal is already aborted; this last write gets its own deadline.
      this.observe(
        await this.opts.store.update(released, new AbortController().signal, this.renewDeadlineMs),
      );
      this.opts.log.info(
        { lease: `${current.metadata.namespace}/${current.metadata.name}` },
        "released the lease",
      );
    } catch (err) {
      // 409: someone else wrote it after our last renewal, so it is no longer ours to release.
      this.opts.log.warn(
        { err: classifyApiError(err).message },
        "could not release the lease; it will expire",
      );
    }
  }

  private observe(lease: Lease): void {
    const before = this.observed?.spec;
    const after = lease.spec ?? {};
    const changed =
      !before ||
      before.holderIdentity !== after.holderIdentity ||
      before.renewTime !== after.renewTime ||
      before.acquireTime !== after.acquireTime ||
      before.leaseTransitions !== after.leaseTransitions ||
      before.leaseDurationSeconds !== after.leaseDurationSeconds;
    if (changed) this.observedAt = this.clock.now();
    const holderChanged = !before || (before.holderIdentity ?? "") !== (after.holderIdentity ?? "");
    this.observed = lease;
    if (holderChanged && this.opts.onNewLeader) {
      const holder = after.holderIdentity ?? "";
      this.safely("onNewLeader", () => this.opts.onNewLeader!(holder));
    }
  }

  private observedDurationMs(): number {
    return (this.observed?.spec?.leaseDurationSeconds ?? Math.ceil(this.leaseDurationMs / 1000)) * 1000;
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error(
        { callback: what, err: err instanceof Error ? err.message : String(err) },
        "leader election callback threw",
      );
    }
  }
}

/** A MicroTime as the API server writes it: RFC 3339 with six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
