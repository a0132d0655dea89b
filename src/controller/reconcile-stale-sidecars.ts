// Reconciler of the stale sidecars of one app (key "namespace/appId"): its pods are looked at
// again (its Configuration may have changed since their daprd started), a Warning Event per pod,
// and when the app's set of stale pods changed, the status of what the app uses is computed
// again (its SidecarsCurrent condition and staleSidecars count).
import type { V1Pod } from "@kubernetes/client-node";
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
  /** The app's pods in the cache. */
  podsOf(namespace: string, appId: string): V1Pod[];
}

export async function reconcileStaleSidecars(
  key: string,
  io: StaleSidecarsIO,
  _log: Logger,
): Promise<ReconcileResult> {
  const { namespace = "", name: appId } = splitKey(key);
  for (const pod of io.podsOf(namespace, appId)) io.tracker.observe(pod);
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
