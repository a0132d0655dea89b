// Reconciler of the un-injected pods of one app (key "namespace/appId"): a Warning Event
// (SidecarMissing) per pod, the status of what the app uses computed again when its set of
// un-injected pods changed, and, when turned on, the deletion of such pods (rate limited) so
// that their owners recreate them through the webhook, as Dapr's watchdog does.
import type { V1Pod } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isNotFound } from "../shared/api-errors.ts";
import type { KubeHttp } from "../shared/kube-http.ts";
import { SIDECAR_CONTAINER_NAME } from "../sidecar/resolve.ts";
import { resourcesOf, type AppResults, type ResourceRef } from "./app-results.ts";
import type { EventSink } from "./event-recorder.ts";
import type { PodFindings } from "./pod-findings.ts";
import { splitKey } from "./runtime/cache.ts";
import type { ReconcileResult } from "./runtime/controller.ts";
import { resourcePath, resources } from "./runtime/resource.ts";
import {
  SIDECAR_MISSING_REASON,
  type DeletionBudget,
  type PodMetadata,
  type UninjectedPod,
} from "./uninjected-pods.ts";

/** What deleting one pod came to. */
export type DeleteOutcome = "deleted" | "gone" | "has-sidecar";

export interface UninjectedPodsIO {
  findings: PodFindings<PodMetadata & { kind?: string }, UninjectedPod>;
  results: AppResults;
  events: EventSink;
  requeueStatus(refs: ResourceRef[]): void;
  /** Set when --delete-uninjected-pods is on. */
  deletion?: {
    budget: DeletionBudget;
    now(): number;
    deletePod(pod: UninjectedPod): Promise<DeleteOutcome>;
    onDeleted(): void;
  };
}

/** Only pods a controller recreates, and only where the webhook would see the new one. */
export function deletable(p: UninjectedPod): boolean {
  return p.owned && p.reason === "webhook-not-called";
}

export async function reconcileUninjectedPods(
  key: string,
  io: UninjectedPodsIO,
  log: Logger,
): Promise<ReconcileResult> {
  const { namespace = "", name: appId } = splitKey(key);
  const pods = io.findings.of(namespace, new Set([appId]));
  for (const p of pods) {
    const involved = { kind: "Pod", apiVersion: "v1", namespace, name: p.pod };
    await io.events.record(involved, "Warning", SIDECAR_MISSING_REASON, p.message);
  }
  if (io.findings.acknowledge(key, pods)) io.requeueStatus(resourcesOf(namespace, io.results.get(key)));
  const d = io.deletion;
  if (!d) return;
  for (const p of pods.filter(deletable)) {
    const waitMs = d.budget.take(d.now());
    if (waitMs > 0) return { requeueAfterMs: waitMs };
    const outcome = await d.deletePod(p);
    log.info({ pod: p.pod, outcome }, "un-injected pod");
    if (outcome !== "deleted") continue;
    d.onDeleted();
    await io.events.record(
      { kind: "Pod", apiVersion: "v1", namespace, name: p.pod },
      "Normal",
      SIDECAR_MISSING_REASON,
      `deleted pod ${namespace}/${p.pod}, which has no daprd sidecar, so that its owner recreates it through the webhook`,
    );
  }
}

/**
 * Deletes an un-injected pod after reading it whole: a pod that carries its own daprd container
 * is left alone (the injector skips it without labelling it, so it would come back the same).
 * The delete is conditional on the pod's uid, so a pod recreated under the same name is safe.
 */
export function podDeleter(http: KubeHttp): (pod: UninjectedPod) => Promise<DeleteOutcome> {
  return async (p) => {
    const path = resourcePath(resources.pods, p.namespace, p.pod);
    try {
      const pod = await http.json<V1Pod>({ path });
      if (pod.metadata?.uid !== p.uid) return "gone";
      const names = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
      if (names.includes(SIDECAR_CONTAINER_NAME)) return "has-sidecar";
      await http.json({
        method: "DELETE",
        path,
        body: { kind: "DeleteOptions", apiVersion: "v1", preconditions: { uid: p.uid } },
      });
      return "deleted";
    } catch (err) {
      if (isNotFound(err)) return "gone";
      throw err;
    }
  };
}
