// Reconciler of the stale sidecars of one app (key "namespace/appId"): a Warning Event per pod,
// and when the app's set of stale pods changed, the status of what the app uses is computed
// again (its SidecarsCurrent condition and staleSidecars count).
import type { Logger } from "pino";
import { resourcesOf, type AppResults, type ResourceRef } from "./app-results.ts";
import type { EventSink } from "./event-recorder.ts";
import { splitKey } from "./runtime/cache.ts";
import type { ReconcileResult } from "./runtime/controller.ts";
import type { StaleSidecarTracker } from "./stale-sidecar-tracker.ts";
import { STALE_SIDECAR_REASON } from "./stale-sidecars.ts";

export interface StaleSidecarsIO {
  tracker: StaleSidecarTracker;
  results: AppResults;
  events: EventSink;
  requeueStatus(refs: ResourceRef[]): void;
}

export async function reconcileStaleSidecars(
  key: string,
  io: StaleSidecarsIO,
  _log: Logger,
): Promise<ReconcileResult> {
  const { namespace = "", name: appId } = splitKey(key);
  const stale = io.tracker.staleOf(namespace, new Set([appId]));
  for (const s of stale) {
    await io.events.record(
      { kind: "Pod", apiVersion: "v1", namespace, name: s.pod },
      "Warning",
      STALE_SIDECAR_REASON,
      s.message,
    );
  }
  if (io.tracker.acknowledge(key, stale)) io.requeueStatus(resourcesOf(namespace, io.results.get(key)));
}
