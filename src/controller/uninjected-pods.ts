// Un-injected pods: pods annotated `dapr.io/enabled: "true"` that the injector never injected,
// because the webhook was not called (its configuration missing or excluding the pod, or a
// failurePolicy of Ignore while the injector was down). The injector labels every pod it
// injects, so the pod's metadata alone tells: the controller watches it metadata-only. Pure.
//
// Limits of what metadata can say: a pod that carries its own daprd container (written by hand)
// is skipped by the injector without the label, so it is counted too; the optional deletion
// reads the whole pod first and never deletes such a pod.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import { setCondition } from "../apis/conditions.ts";
import type { Condition, ResourceStatus } from "../apis/types.ts";
import { annotations } from "../sidecar/annotations.ts";
import { SIDECAR_INJECTED_LABEL } from "../sidecar/status.ts";
import type { PodFinding } from "./pod-findings.ts";
import { LAST_APPLIED } from "../shared/metadata-protobuf.ts";

export const SIDECAR_MISSING_REASON = "SidecarMissing";
export const SIDECARS_INJECTED_CONDITION = "SidecarsInjected";

/**
 * Why the pod went without its sidecar, as far as the controller knows; a closed set (metric label).
 *   excluded-namespace  its namespace is one the webhook configuration never sends (the control
 *                       plane's own, kube-system, --webhook-excluded-namespaces)
 *   webhook-not-called  otherwise: the cause is not recorded on the pod (the API server notes a
 *                       webhook that failed open only in its audit log)
 */
export type UninjectedReason = "excluded-namespace" | "webhook-not-called";
export const UNINJECTED_REASONS: readonly UninjectedReason[] = ["excluded-namespace", "webhook-not-called"];

export interface UninjectedPod extends PodFinding {
  uid: string;
  reason: UninjectedReason;
  /** A controlling owner would recreate the pod if it were deleted. */
  owned: boolean;
  message: string;
}

/** A pod as the detection reads it: metadata only (PartialObjectMetadata). */
export interface PodMetadata {
  metadata?: V1ObjectMeta;
}

/**
 * What the controller keeps of a pod without the injected label: the fields `uninjectedPod`
 * reads and, for a pod that asks for a sidecar, every annotation (a bare one is an app, whose
 * sidecar config reads them). The informer holds only pods that ask (manager.ts).
 */
export function detectionMetadata<T extends PodMetadata>(pod: T): T {
  const m = pod.metadata ?? {};
  const keep = (from: Record<string, string> | undefined, keys: string[]) => {
    const out: Record<string, string> = {};
    for (const k of keys) if (from?.[k] !== undefined) out[k] = from[k];
    return out;
  };
  const asks = m.annotations?.[annotations.enabled.key] !== undefined;
  return {
    ...pod,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
      ...(m.ownerReferences ? { ownerReferences: m.ownerReferences.filter((o) => o.controller) } : {}),
      labels: keep(m.labels, [SIDECAR_INJECTED_LABEL]),
      annotations: asks
        ? withoutLastApplied(m.annotations ?? {})
        : keep(m.annotations, [annotations.enabled.key, annotations.appId.key]),
    },
  };
}

function withoutLastApplied(a: Record<string, string>): Record<string, string> {
  if (a[LAST_APPLIED] === undefined) return a;
  const { [LAST_APPLIED]: _lastApplied, ...rest } = a;
  return rest;
}

/**
 * The app a pod asking for a sidecar belongs to: its app-id annotation, else its name (the
 * injector's default). Undefined for a pod that does not ask (no enabled annotation); pods
 * being deleted still answer, so that their app is looked at once more when they go.
 */
export function appIdAskedFor(pod: PodMetadata): string | undefined {
  const a = pod.metadata?.annotations;
  if (a?.[annotations.enabled.key] === undefined) return undefined;
  return a[annotations.appId.key] ?? pod.metadata?.name ?? "";
}

/**
 * Whether the pod should have a sidecar and has none. Pods being deleted do not count.
 * `excludedNamespaces`: namespaces the webhook configuration leaves out by design.
 */
export function uninjectedPod(
  pod: PodMetadata,
  excludedNamespaces: ReadonlySet<string>,
): UninjectedPod | undefined {
  const m = pod.metadata;
  if (!m || m.deletionTimestamp) return undefined;
  if (m.labels?.[SIDECAR_INJECTED_LABEL] !== undefined) return undefined;
  const raw = m.annotations?.[annotations.enabled.key];
  if (raw === undefined) return undefined;
  const enabled = annotations.enabled.parser.parse(raw);
  if (!enabled.ok || !enabled.value) return undefined;
  const namespace = m.namespace ?? "";
  const name = m.name ?? "";
  const appId = appIdAskedFor(pod) ?? name;
  const reason: UninjectedReason = excludedNamespaces.has(namespace)
    ? "excluded-namespace"
    : "webhook-not-called";
  const why =
    reason === "excluded-namespace"
      ? `the webhook never sees namespace ${namespace}; run the app in another namespace`
      : "the injector webhook was not called when it was created (webhook configuration missing or not matching the pod, or the injector down with failurePolicy Ignore); delete the pod so its owner recreates it through the webhook";
  return {
    namespace,
    pod: name,
    appId,
    uid: m.uid ?? "",
    reason,
    owned: (m.ownerReferences ?? []).some((o) => o.controller === true),
    message: `pod ${namespace}/${name} is annotated ${annotations.enabled.key}: "true" but has no daprd sidecar: ${why}`,
  };
}

/**
 * `status` with the un-injected pods of the apps a resource reaches: the count and a
 * SidecarsInjected condition (its transition time moves only when its status flips).
 */
export function withUninjectedPods(
  status: ResourceStatus,
  pods: readonly UninjectedPod[],
  now: Date,
  previous: ResourceStatus | undefined,
): ResourceStatus {
  const names = pods
    .map((p) => p.pod)
    .sort()
    .slice(0, 5);
  const more = pods.length > names.length ? ` and ${pods.length - names.length} more` : "";
  const condition: Omit<Condition, "lastTransitionTime"> =
    pods.length === 0
      ? {
          type: SIDECARS_INJECTED_CONDITION,
          status: "True",
          reason: "SidecarsInjected",
          message: "Every pod of the apps it reaches that asks for a sidecar has one",
        }
      : {
          type: SIDECARS_INJECTED_CONDITION,
          status: "False",
          reason: SIDECAR_MISSING_REASON,
          message: `${pods.length} pod${pods.length === 1 ? " asks" : "s ask"} for a sidecar but ${pods.length === 1 ? "has" : "have"} none (${names.join(", ")}${more}); delete ${pods.length === 1 ? "it" : "them"} so the webhook injects the new ones`,
        };
  const generation = status.observedGeneration;
  const isOurs = (c: Condition) => c.type === SIDECARS_INJECTED_CONDITION;
  return {
    ...status,
    uninjectedPods: pods.length,
    conditions: setCondition(
      [
        ...(status.conditions ?? []).filter((c) => !isOurs(c)),
        ...(previous?.conditions ?? []).filter(isOurs),
      ],
      { ...condition, ...(generation === undefined ? {} : { observedGeneration: generation }) },
      now,
    ),
  };
}

/**
 * A token bucket for deleting pods: at most `perMinute` deletions a minute, bursting to that
 * many. Pure over the times given; `take(now)` answers 0 when a deletion may go ahead, else the
 * milliseconds until one may.
 */
export class DeletionBudget {
  private tokens: number;
  private at: number | undefined;
  private readonly perMinute: number;

  constructor(perMinute: number) {
    this.perMinute = perMinute;
    this.tokens = perMinute;
  }

  take(now: number): number {
    const refillMs = 60_000 / this.perMinute;
    if (this.at !== undefined)
      this.tokens = Math.min(this.perMinute, this.tokens + (now - this.at) / refillMs);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    // Rounded up, after the float noise of the refill is rounded off.
    return Math.ceil(Math.round((1 - this.tokens) * refillMs * 1000) / 1000);
  }
}
