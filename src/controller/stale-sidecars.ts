// Stale sidecars: pods whose injected daprd differs from what the injector would inject now.
// A pod keeps its sidecar until it is restarted, so after an upgrade (a new image, or new
// sidecar defaults) the running pods lag behind. The injector records what it injected in
// the pod's status annotation; this compares that record with the current settings. A daprd
// also lags behind when its app's Configuration changed after it started (configuration-change.ts),
// and when Sentry's trust bundle holds a root its frozen trust anchors lack (trust-bundle.ts). Pure.
import type { V1Pod } from "@kubernetes/client-node";
import { expectedSidecarStatus, injectedSidecarStatus } from "../sidecar/status.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { setCondition } from "../apis/conditions.ts";
import type { Condition, ResourceStatus } from "../apis/types.ts";
import { APP_ID_LABEL } from "../sidecar/config-secret.ts";
import { daprdStartedAt, startedBeforeChange } from "./configuration-change.ts";
import { untrustedRootsOf, type TrustBundle } from "./trust-bundle.ts";

export const SIDECARS_CURRENT_CONDITION = "SidecarsCurrent";
export const STALE_SIDECAR_REASON = "StaleSidecar";

export type StaleReason = "image" | "settings" | "configuration" | "trust-anchors";

export interface StaleSidecar {
  namespace: string;
  pod: string;
  appId: string;
  reasons: StaleReason[];
  message: string;
}

/**
 * Whether the pod's sidecar is stale under `settings`, runs a Configuration older than the
 * app's, changed at `configurationChangedAt`, or lacks a root of Sentry's `trustBundle`. Pods
 * that are finished or terminating do not count: restarting them changes nothing.
 */
export function staleSidecar(
  pod: V1Pod,
  settings: SidecarDefaults,
  configurationChangedAt?: Date,
  trustBundle?: TrustBundle,
): StaleSidecar | undefined {
  const injected = injectedSidecarStatus(pod);
  if (!injected) return undefined;
  const phase = pod.status?.phase;
  if (pod.metadata?.deletionTimestamp || phase === "Succeeded" || phase === "Failed") return undefined;
  const annotations = pod.metadata?.annotations ?? {};
  const now = expectedSidecarStatus(annotations, pod.metadata?.name, settings);
  const reasons: StaleReason[] = [];
  const parts: string[] = [];
  // Annotations the current injector would reject: it would deny the pod rather than inject
  // it differently, so there is no "current" sidecar to compare with.
  if (now.ok && injected.image !== now.image) {
    reasons.push("image");
    parts.push(`image ${injected.image}, now ${now.image}`);
  }
  if (now.ok && injected.settingsHash !== now.settingsHash) {
    reasons.push("settings");
    parts.push(`settings ${injected.settingsHash}, now ${now.settingsHash}`);
  }
  const startedAt = daprdStartedAt(pod);
  if (startedAt && configurationChangedAt && startedBeforeChange(startedAt, configurationChangedAt)) {
    reasons.push("configuration");
    parts.push(
      `Configuration changed at ${configurationChangedAt.toISOString()}, daprd started at ${startedAt.toISOString()} and reads it only at start`,
    );
  }
  const untrusted = trustBundle ? untrustedRootsOf(annotations, trustBundle) : undefined;
  if (untrusted) {
    reasons.push("trust-anchors");
    parts.push(untrusted);
  }
  if (reasons.length === 0) return undefined;
  const namespace = pod.metadata?.namespace ?? "";
  const name = pod.metadata?.name ?? "";
  return {
    namespace,
    pod: name,
    appId: pod.metadata?.labels?.[APP_ID_LABEL] ?? "",
    reasons,
    message: `sidecar of pod ${namespace}/${name} is stale (${parts.join("; ")}): restart its workload to update it`,
  };
}

/**
 * `status` with the stale sidecars of the apps a resource reaches: the count and a
 * SidecarsCurrent condition (its transition time moves only when its status flips).
 */
export function withStaleSidecars(
  status: ResourceStatus,
  stale: readonly StaleSidecar[],
  now: Date,
  previous: ResourceStatus | undefined,
): ResourceStatus {
  const current = stale.length === 0;
  const names = stale
    .map((s) => s.pod)
    .sort()
    .slice(0, 5);
  const more = stale.length > names.length ? ` and ${stale.length - names.length} more` : "";
  const condition: Omit<Condition, "lastTransitionTime"> = current
    ? {
        type: SIDECARS_CURRENT_CONDITION,
        status: "True",
        reason: "SidecarsCurrent",
        message: "Every pod of the apps it reaches runs the sidecar the injector would inject now",
      }
    : {
        type: SIDECARS_CURRENT_CONDITION,
        status: "False",
        reason: STALE_SIDECAR_REASON,
        message: `${stale.length} pod${stale.length === 1 ? "" : "s"} run a stale sidecar (${names.join(", ")}${more}); restart their workloads`,
      };
  const generation = status.observedGeneration;
  const isOurs = (c: Condition) => c.type === SIDECARS_CURRENT_CONDITION;
  return {
    ...status,
    staleSidecars: stale.length,
    // Appended after the conditions of `status`, from where the previous status had it.
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
