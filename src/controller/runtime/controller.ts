// A small controller builder in the manner of controller-runtime's
//   ctrl.NewControllerManagedBy(mgr).For(kind).Watches(kind, mapFn).Complete(r)
// It owns what every controller needs and no reconciler should write again: the work queue of
// the current leadership term, the reconcile metrics and the per-reconcile child logger
// (controller, namespace, name, reconcileID). A reconciler is a function of a key that returns a
// result: nothing (done), { requeueAfterMs } (look again later), or throws (retried with
// backoff; a TerminalError is not retried). Nothing here knows about Dapr.
import { randomUUID } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { BackoffPolicy } from "../../shared/backoff.ts";
import { objectKey, splitKey } from "./cache.ts";
import type { Clock } from "./clock.ts";
import type { Informer } from "./informer.ts";
import { runtimeMetrics, type RuntimeMetrics } from "./metrics.ts";
import { WorkQueue, type ProcessResult } from "./queue.ts";

export type ReconcileResult = ProcessResult;

export interface ReconcileContext {
  /** Child logger with controller, namespace, name and reconcileID. */
  log: Logger;
  /** Aborted when the leadership term ends without draining. */
  signal: AbortSignal;
}

export type ReconcileFunc = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult>;

/** Keys to reconcile when an object of a watched kind changes. */
export type MapFunc<T> = (obj: T) => Iterable<string>;

export interface WatchOptions<T> {
  /** Whether an update is worth mapping at all (default: every update is). */
  updateMatters?: (oldObj: T, newObj: T) => boolean;
  /** Map an update from the old object too: for a map that returns nothing for some contents. */
  mapOldToo?: boolean;
}

export interface ControllerDeps {
  log: Logger;
  registry: Registry;
  /** Keys reconciled at once (default 1). */
  concurrency?: number;
  clock?: Clock;
  backoff?: BackoffPolicy;
}

/** Starts a controller named `name` (its metric label and log field). */
export function newController(name: string, deps: ControllerDeps): ControllerBuilder {
  return new ControllerBuilder(name, deps);
}

export class ControllerBuilder {
  private primary: { informer: Informer<KubernetesObject>; map: MapFunc<KubernetesObject> } | undefined;
  private readonly watched: Array<{
    informer: Informer<KubernetesObject>;
    map: MapFunc<KubernetesObject>;
    opts: WatchOptions<KubernetesObject>;
  }> = [];

  private readonly name: string;
  private readonly deps: ControllerDeps;

  constructor(name: string, deps: ControllerDeps) {
    this.name = name;
    this.deps = deps;
  }

  /** The kind the controller reconciles; by default an object maps to its own "namespace/name". */
  for<T extends KubernetesObject>(
    informer: Informer<T>,
    map: MapFunc<T> = (o) => [objectKey(o)],
    opts: WatchOptions<T> = {},
  ): this {
    this.primary = {
      informer: informer as unknown as Informer<KubernetesObject>,
      map: map as MapFunc<KubernetesObject>,
    };
    return this.watches(informer, map, opts);
  }

  /** Another kind whose changes map to keys of this controller. */
  watches<T extends KubernetesObject>(
    informer: Informer<T>,
    map: MapFunc<T>,
    opts: WatchOptions<T> = {},
  ): this {
    this.watched.push({
      informer: informer as unknown as Informer<KubernetesObject>,
      map: map as MapFunc<KubernetesObject>,
      opts: opts as WatchOptions<KubernetesObject>,
    });
    return this;
  }

  complete(reconcile: ReconcileFunc): Controller {
    const controller = new Controller(this.name, this.deps, reconcile, this.primary);
    for (const { informer, map, opts } of this.watched) {
      const addAll = (obj: KubernetesObject) => {
        for (const key of map(obj)) controller.add(key);
      };
      informer.addEventHandler({
        onAdd: addAll,
        onDelete: addAll,
        onUpdate: (oldObj, newObj) => {
          if (opts.updateMatters && !opts.updateMatters(oldObj, newObj)) return;
          addAll(newObj);
          // An object that moved (a namespace change) also maps from where it was.
          if (opts.mapOldToo || oldObj.metadata?.namespace !== newObj.metadata?.namespace) addAll(oldObj);
        },
      });
    }
    return controller;
  }
}

/** One controller: a queue per leadership term, fed by its watches, drained by its reconciler. */
export class Controller {
  readonly name: string;
  private queue: WorkQueue | undefined;
  private readonly metrics: RuntimeMetrics;
  private readonly deps: ControllerDeps;
  private readonly reconcile: ReconcileFunc;
  private readonly primary:
    { informer: Informer<KubernetesObject>; map: MapFunc<KubernetesObject> } | undefined;
  /** Keys that must wait, this term (see start). */
  private hold: ((key: string) => boolean) | undefined;
  private readonly held = new Set<string>();
  private readonly reconciled = new Set<(key: string) => void>();

  constructor(
    name: string,
    deps: ControllerDeps,
    reconcile: ReconcileFunc,
    primary: { informer: Informer<KubernetesObject>; map: MapFunc<KubernetesObject> } | undefined,
  ) {
    this.name = name;
    this.deps = deps;
    this.reconcile = reconcile;
    this.primary = primary;
    this.metrics = runtimeMetrics(deps.registry);
  }

  /** Queues a key; does nothing while the controller is not running (not leading). */
  add(key: string): void {
    if (!this.queue) return;
    if (this.hold?.(key)) this.held.add(key);
    else this.queue.add(key);
  }

  /** Queues the held keys that may go now; with `all`, nothing is held any more this term. */
  release(all = false): void {
    if (all) this.hold = undefined;
    for (const key of this.held)
      if (!this.hold?.(key)) {
        this.held.delete(key);
        this.queue?.add(key);
      }
  }

  /** Calls `listener` after each reconcile that succeeds; returns its removal. */
  onReconciled(listener: (key: string) => void): () => void {
    this.reconciled.add(listener);
    return () => void this.reconciled.delete(listener);
  }

  isRunning(): boolean {
    return this.queue !== undefined;
  }

  /**
   * Starts a term: a fresh queue, processing at once. Keys for which `hold` answers true wait,
   * each once however often added, until release() finds it answers false.
   */
  start(opts: { hold?: (key: string) => boolean } = {}): void {
    if (this.queue) return;
    this.hold = opts.hold;
    this.held.clear();
    this.queue = new WorkQueue({
      name: this.name,
      log: this.deps.log,
      metrics: this.metrics,
      concurrency: this.deps.concurrency ?? 1,
      ...(this.deps.clock ? { clock: this.deps.clock } : {}),
      ...(this.deps.backoff ? { backoff: this.deps.backoff } : {}),
      process: (key, signal) => this.run(key, signal),
    });
    this.queue.start();
  }

  /** Queues every object of the primary kind, as after a restart. */
  addAll(): void {
    if (!this.primary) return;
    for (const obj of this.primary.informer.cache.list())
      for (const key of this.primary.map(obj)) this.add(key);
  }

  /** Ends the term: with drain, waiting keys still run; without, they are dropped. */
  async stop(opts: { drain: boolean }): Promise<void> {
    const queue = this.queue;
    this.queue = undefined;
    await queue?.shutdown(opts);
  }

  /** Resolves when nothing is waiting or running. */
  async idle(): Promise<void> {
    await this.queue?.idle();
  }

  private async run(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const log = this.deps.log.child({ controller: this.name, namespace, name, reconcileID: randomUUID() });
    const end = this.metrics.reconcileSeconds.startTimer({ controller: this.name });
    try {
      const result = await this.reconcile(key, { log, signal });
      this.metrics.reconciles.inc({ controller: this.name, result: "success" });
      for (const listener of this.reconciled) listener(key);
      return result;
    } catch (err) {
      this.metrics.reconciles.inc({ controller: this.name, result: "error" });
      throw err;
    } finally {
      end();
    }
  }
}
