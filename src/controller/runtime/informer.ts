// An informer: keeps an indexed cache of one resource type in step with the API server and tells
// handlers what changed. It lists, then watches from the list's resourceVersion (following
// bookmarks), and never gives up:
//   - a watch the server ends normally is resumed at once from the last resourceVersion;
//   - any other failure resumes it after a capped, jittered backoff;
//   - 410 Gone (HTTP status or ERROR event) means our resourceVersion is too old: relist, and
//     the diff against the cache yields the adds, updates and deletes that the watch missed;
//   - every resyncPeriodMs each cached object is re-delivered as an update, so a handler that
//     dropped something converges anyway.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { classifyApiError } from "../../shared/api-errors.ts";
import { Backoff, type BackoffPolicy } from "../../shared/backoff.ts";
import { ObjectCache, objectKey, type IndexFunc, type ObjectCacheReader } from "./cache.ts";
import { realClock, sleep, type Clock, type TimerHandle } from "./clock.ts";
import type { KubeHttp } from "../../shared/kube-http.ts";
import type { RelistReason, RuntimeMetrics, WatchRestartReason } from "./metrics.ts";
import { resourceName, type ResourceType } from "./resource.ts";
import {
  WatchDecodeError,
  kubeListerWatcher,
  type KubeListerWatcherOptions,
  type ListerWatcher,
  type WatchEvent,
} from "./watch.ts";

export interface EventHandler<T> {
  /** initialList: the object came with the first list (or existed when the handler was added). */
  onAdd?(obj: T, info: { initialList: boolean }): void;
  /** resync: a periodic re-delivery, oldObj === newObj. */
  onUpdate?(oldObj: T, newObj: T, info: { resync: boolean }): void;
  /**
   * finalStateUnknown: the delete was noticed by a relist, so obj is the last state we saw
   * rather than the state at deletion.
   */
  onDelete?(obj: T, info: { finalStateUnknown: boolean }): void;
}

export interface InformerOptions<T> {
  /** Name in metrics and logs, e.g. "components.dapr.io". */
  resource: string;
  listerWatcher: ListerWatcher<T>;
  log: Logger;
  metrics?: RuntimeMetrics;
  /** Secondary indexes beyond the built-in "namespace" one. */
  indexers?: Record<string, IndexFunc<T>>;
  /** Re-deliver every cached object this often; 0 turns it off. Default 10 minutes. */
  resyncPeriodMs?: number;
  /** Delay between failed lists or watches. Default 800 ms doubling to 30 s, jitter 0.5. */
  backoff?: BackoffPolicy;
  /** A watch that delivered events or lasted this long resets the backoff. Default 10 s. */
  healthyWatchMs?: number;
  clock?: Clock;
  random?: () => number;
  /**
   * Which objects the cache holds (default all): a filter the server cannot apply. An object
   * that stops passing it is delivered as deleted; one that starts, as added.
   */
  keep?: (obj: T) => boolean;
}

export const DEFAULT_WATCH_BACKOFF: BackoffPolicy = { baseMs: 800, maxMs: 30_000, jitter: 0.5 };
export const DEFAULT_RESYNC_PERIOD_MS = 10 * 60_000;

export class Informer<T extends KubernetesObject> {
  private readonly opts: InformerOptions<T>;
  private readonly store: ObjectCache<T>;
  private readonly handlers = new Set<EventHandler<T>>();
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private resourceVersion = "";
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  private resyncTimer: TimerHandle | undefined;

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.store = new ObjectCache<T>(opts.indexers);
    this.clock = opts.clock ?? realClock;
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_WATCH_BACKOFF, opts.random);
  }

  /** The cache. Read-only for users: the informer alone writes it. */
  get cache(): ObjectCacheReader<T> {
    return this.store;
  }

  /** Adds an index; allowed before or after start (existing objects are indexed at once). */
  addIndex(name: string, fn: IndexFunc<T>): void {
    this.store.addIndex(name, fn);
  }

  /**
   * Registers a handler and returns its removal. A handler added after the first list gets an
   * add for every cached object first, so it never misses what was already there.
   */
  addEventHandler(handler: EventHandler<T>): () => void {
    this.handlers.add(handler);
    if (this.synced)
      for (const obj of this.store.list())
        this.call(handler, "onAdd", () => handler.onAdd?.(obj, { initialList: true }));
    return () => void this.handlers.delete(handler);
  }

  /** True once the first list is in the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list is in the cache; rejects if signal aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  /** The resourceVersion the next watch starts from ("" before the first list or after a 410). */
  lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Starts listing and watching in the background. Idempotent. */
  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  /** Stops the watch and resync; the cache keeps its content. */
  async stop(): Promise<void> {
    this.abort?.abort(new Error("informer stopped"));
    this.resyncTimer?.cancel();
    await this.running;
    this.running = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { resource, listerWatcher, log, metrics } = this.opts;
    const healthyMs = this.opts.healthyWatchMs ?? 10_000;
    let relistReason: RelistReason = "initial";
    let goneInARow = 0;
    while (!signal.aborted) {
      if (!this.resourceVersion) {
        try {
          metrics?.relists.inc({ resource, reason: relistReason });
          const list = await listerWatcher.list(signal);
          this.applyList(list.items);
          this.resourceVersion = list.resourceVersion;
          log.info(
            {
              resource,
              reason: relistReason,
              objects: list.items.length,
              resourceVersion: list.resourceVersion,
            },
            "listed",
          );
        } catch (err) {
          if (signal.aborted) break;
          metrics?.listErrors.inc({ resource });
          const delayMs = this.backoff.next();
          log.warn({ resource, err: errorSummary(err), retryInMs: delayMs }, "list failed");
          await sleep(this.clock, delayMs, signal).catch(() => {});
          continue;
        }
      }

      const startedAt = this.clock.now();
      let events = 0;
      let reason: WatchRestartReason;
      let error: unknown;
      try {
        await listerWatcher.watch(
          this.resourceVersion,
          (event) => {
            events++;
            this.applyEvent(event);
          },
          signal,
        );
        reason = "closed";
      } catch (err) {
        if (signal.aborted) break;
        error = err;
        reason = restartReasonOf(err);
      }
      if (signal.aborted) break;
      metrics?.watchRestarts.inc({ resource, reason });
      const healthy = events > 0 || this.clock.now() - startedAt >= healthyMs;
      if (healthy) this.backoff.reset();

      let delayMs = 0;
      if (reason === "expired") {
        // Relist at once; only a 410 straight after a relist hints at a loop worth slowing down.
        this.resourceVersion = "";
        relistReason = "expired";
        if (goneInARow++ > 0) delayMs = this.backoff.next();
        log.info({ resource, retryInMs: delayMs }, "watch expired (410 Gone), relisting");
      } else {
        goneInARow = 0;
        // After a healthy watch, resume at once (a normal close, or a one-off failure); a watch
        // that fails or closes straight away backs off so we never spin against the server.
        if (!healthy) delayMs = this.backoff.next();
        if (reason === "closed") log.debug({ resource, events }, "watch closed by server, resuming");
        else
          log.warn(
            { resource, reason, err: errorSummary(error), retryInMs: delayMs },
            "watch failed, restarting",
          );
      }
      if (delayMs > 0) await sleep(this.clock, delayMs, signal).catch(() => {});
    }
  }

  private applyList(listed: T[]): void {
    const keep = this.opts.keep;
    const diff = this.store.replace(keep ? listed.filter(keep) : listed);
    const initialList = !this.synced;
    for (const obj of diff.deleted) this.emitDelete(obj, true);
    for (const obj of diff.added) this.emitAdd(obj, initialList);
    for (const { oldObj, newObj } of diff.updated) this.emitUpdate(oldObj, newObj, false);
    this.opts.metrics?.cachedObjects.set({ resource: this.opts.resource }, this.store.size());
    if (!this.synced) {
      this.synced = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
      this.scheduleResync();
    }
  }

  private applyEvent(event: WatchEvent<T>): void {
    const { resource, metrics } = this.opts;
    metrics?.watchEvents.inc({ resource, type: event.type.toLowerCase() });
    const obj = event.object;
    const rv = obj.metadata?.resourceVersion;
    switch (event.type) {
      case "ADDED":
      case "MODIFIED": {
        const old = this.store.get(objectKey(obj));
        if (old && old.metadata?.resourceVersion === rv && rv) break;
        if (this.opts.keep && !this.opts.keep(obj)) {
          // No longer one the cache holds: to its handlers, it is gone (as last seen).
          if (old && this.store.remove(objectKey(obj))) this.emitDelete(old, false);
          break;
        }
        this.store.upsert(obj);
        if (old) this.emitUpdate(old, obj, false);
        else this.emitAdd(obj, false);
        break;
      }
      case "DELETED":
        if (this.store.remove(objectKey(obj))) this.emitDelete(obj, false);
        break;
      case "BOOKMARK":
        break;
    }
    if (rv) this.resourceVersion = rv;
    metrics?.cachedObjects.set({ resource }, this.store.size());
  }

  private scheduleResync(): void {
    const period = this.opts.resyncPeriodMs ?? DEFAULT_RESYNC_PERIOD_MS;
    if (period <= 0 || this.abort?.signal.aborted) return;
    this.resyncTimer = this.clock.setTimer(() => {
      for (const obj of this.store.list()) this.emitUpdate(obj, obj, true);
      this.scheduleResync();
    }, period);
  }

  private emitAdd(obj: T, initialList: boolean): void {
    for (const h of this.handlers) this.call(h, "onAdd", () => h.onAdd?.(obj, { initialList }));
  }

  private emitUpdate(oldObj: T, newObj: T, resync: boolean): void {
    for (const h of this.handlers) this.call(h, "onUpdate", () => h.onUpdate?.(oldObj, newObj, { resync }));
  }

  private emitDelete(obj: T, finalStateUnknown: boolean): void {
    for (const h of this.handlers) this.call(h, "onDelete", () => h.onDelete?.(obj, { finalStateUnknown }));
  }

  // A throwing handler must not stop delivery to the others, nor the watch.
  private call(_h: EventHandler<T>, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error(
        { resource: this.opts.resource, handler: what, err: errorSummary(err) },
        "event handler threw",
      );
    }
  }
}

/** Options for an informer over the API server; see createInformer. */
export interface KubeInformerOptions<T>
  extends Omit<InformerOptions<T>, "resource" | "listerWatcher">, KubeListerWatcherOptions<T> {
  /** Defaults to resourceName(rt), e.g. "secrets" or "components.dapr.io". */
  resource?: string;
}

/** An informer for any resource type, watched through the runtime's HTTP client. */
export function createInformer<T extends KubernetesObject>(
  http: KubeHttp,
  rt: ResourceType,
  opts: KubeInformerOptions<T>,
): Informer<T> {
  const {
    namespace,
    labelSelector,
    fieldSelector,
    pageSize,
    listTimeoutMs,
    minWatchTimeoutSeconds,
    metadataOnly,
    resource,
    transform,
    ...rest
  } = opts;
  const lwOpts: KubeListerWatcherOptions<T> = {
    namespace,
    labelSelector,
    fieldSelector,
    pageSize,
    listTimeoutMs,
    minWatchTimeoutSeconds,
    metadataOnly,
  };
  if (opts.random) lwOpts.random = opts.random;
  if (transform) lwOpts.transform = transform;
  return new Informer<T>({
    ...rest,
    resource: resource ?? resourceName(rt),
    listerWatcher: kubeListerWatcher<T>(http, rt, lwOpts),
  });
}

/**
 * An event handler that feeds a work queue: each event adds the keys keysOf returns, for the
 * old and the new object of an update (so a change that moves an object from one key to
 * another reaches both). Periodic resyncs add keys too, unless skipResync is set.
 */
export function enqueueHandler<T>(
  queue: { add(key: string): void },
  keysOf: (obj: T) => string[],
  opts: { skipResync?: boolean } = {},
): EventHandler<T> {
  const addAll = (...objs: T[]) => {
    for (const key of new Set(objs.flatMap((o) => keysOf(o)))) queue.add(key);
  };
  return {
    onAdd: (obj) => addAll(obj),
    onUpdate: (oldObj, newObj, { resync }) => {
      if (!(resync && opts.skipResync)) addAll(oldObj, newObj);
    },
    onDelete: (obj) => addAll(obj),
  };
}

/** Resolves when every informer has synced. */
export async function waitForCacheSync(
  informers: Array<{ waitForSync(signal?: AbortSignal): Promise<void> }>,
  signal?: AbortSignal,
): Promise<void> {
  await Promise.all(informers.map((i) => i.waitForSync(signal)));
}

export function restartReasonOf(err: unknown): WatchRestartReason {
  if (err instanceof WatchDecodeError || err instanceof SyntaxError) return "decode";
  const c = classifyApiError(err);
  if (c.kind === "gone") return "expired";
  if (c.kind === "timeout" && c.statusCode === undefined) return "timeout";
  if (c.statusCode !== undefined) return "http-error";
  return "network";
}

function errorSummary(err: unknown): { message: string; kind: string; statusCode?: number } {
  const c = classifyApiError(err);
  return c.statusCode === undefined
    ? { message: c.message, kind: c.kind }
    : { message: c.message, kind: c.kind, statusCode: c.statusCode };
}
