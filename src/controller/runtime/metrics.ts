// Prometheus metrics of the runtime: watches, work queues and leader election. One set per
// Registry: asking twice with the same registry returns the same metrics, because a registry
// refuses a second metric of the same name.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Why a watch was restarted (closed set). */
export type WatchRestartReason =
  | "closed" // the server ended the watch (normal at its timeout)
  | "expired" // 410 Gone: resourceVersion too old, so a relist follows
  | "http-error" // any other error status, or an ERROR event
  | "network" // connection refused/reset, TLS, DNS
  | "timeout" // our deadline passed without the server closing the watch
  | "decode"; // the stream carried something that is not a watch event

/** Why the informer listed (closed set). */
export type RelistReason = "initial" | "expired";

export interface RuntimeMetrics {
  watchRestarts: Counter<"resource" | "reason">;
  relists: Counter<"resource" | "reason">;
  listErrors: Counter<"resource">;
  watchEvents: Counter<"resource" | "type">;
  cachedObjects: Gauge<"resource">;
  queueDepth: Gauge<"queue">;
  queueAdds: Counter<"queue">;
  queueRetries: Counter<"queue">;
  queueFailures: Counter<"queue" | "outcome">;
  queueWaitSeconds: Histogram<"queue">;
  queueWorkSeconds: Histogram<"queue">;
  queueInFlight: Gauge<"queue">;
  leaderIsLeader: Gauge<"lease">;
  leaderTransitions: Counter<"lease">;
  reconciles: Counter<"controller" | "result">;
  reconcileSeconds: Histogram<"controller">;
}

const byRegistry = new WeakMap<Registry, RuntimeMetrics>();

export function runtimeMetrics(registry: Registry): RuntimeMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  const m: RuntimeMetrics = {
    reconciles: new Counter({
      name: "outrigger_controller_reconciles_total",
      help: "Reconciles by controller and result (success, error).",
      labelNames: ["controller", "result"] as const,
      registers,
    }),
    reconcileSeconds: new Histogram({
      name: "outrigger_controller_reconcile_duration_seconds",
      help: "Time spent in one reconcile, by controller.",
      labelNames: ["controller"] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    watchRestarts: new Counter({
      name: "outrigger_watch_restarts_total",
      help: "Watches restarted, by resource and reason",
      labelNames: ["resource", "reason"],
      registers,
    }),
    relists: new Counter({
      name: "outrigger_watch_relists_total",
      help: "Full lists taken by informers, by resource and reason (initial, expired)",
      labelNames: ["resource", "reason"],
      registers,
    }),
    listErrors: new Counter({
      name: "outrigger_watch_list_errors_total",
      help: "Lists that failed and were retried with backoff",
      labelNames: ["resource"],
      registers,
    }),
    watchEvents: new Counter({
      name: "outrigger_watch_events_total",
      help: "Watch events received, by resource and type",
      labelNames: ["resource", "type"],
      registers,
    }),
    cachedObjects: new Gauge({
      name: "outrigger_informer_cached_objects",
      help: "Objects in an informer's cache",
      labelNames: ["resource"],
      registers,
    }),
    queueDepth: new Gauge({
      name: "outrigger_workqueue_depth",
      help: "Keys waiting in a work queue",
      labelNames: ["queue"],
      registers,
    }),
    queueAdds: new Counter({
      name: "outrigger_workqueue_adds_total",
      help: "Keys added to a work queue (a duplicate of a waiting key is not counted)",
      labelNames: ["queue"],
      registers,
    }),
    queueRetries: new Counter({
      name: "outrigger_workqueue_retries_total",
      help: "Keys scheduled for a retry with backoff after a failure",
      labelNames: ["queue"],
      registers,
    }),
    queueFailures: new Counter({
      name: "outrigger_workqueue_failures_total",
      help: "Failed runs, by outcome (retry, terminal)",
      labelNames: ["queue", "outcome"],
      registers,
    }),
    queueWaitSeconds: new Histogram({
      name: "outrigger_workqueue_queue_duration_seconds",
      help: "How long a key waited in the queue before it ran",
      labelNames: ["queue"],
      buckets: seconds,
      registers,
    }),
    queueWorkSeconds: new Histogram({
      name: "outrigger_workqueue_work_duration_seconds",
      help: "How long processing a key took",
      labelNames: ["queue"],
      buckets: seconds,
      registers,
    }),
    queueInFlight: new Gauge({
      name: "outrigger_workqueue_in_flight",
      help: "Keys being processed now",
      labelNames: ["queue"],
      registers,
    }),
    leaderIsLeader: new Gauge({
      name: "outrigger_leader_election_is_leader",
      help: "1 while this process holds the lease",
      labelNames: ["lease"],
      registers,
    }),
    leaderTransitions: new Counter({
      name: "outrigger_leader_election_transitions_total",
      help: "Times this process started or stopped leading",
      labelNames: ["lease"],
      registers,
    }),
  };
  byRegistry.set(registry, m);
  return m;
}
