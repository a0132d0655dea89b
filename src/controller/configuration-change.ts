// When an app's rendered Configuration last changed, and when a pod's daprd started: standalone
// daprd reads its Configuration only when it starts (docs/sidecar-config.md), so a pod whose daprd
// started before the change runs the old one until it restarts. The time is kept on the sidecar
// config Secret, so it survives controller restarts and every replica reads the same. Pure.
import type { V1ContainerStatus, V1Pod, V1Secret } from "@kubernetes/client-node";
import { CONFIGURATION_KEY } from "../sidecar/config-secret.ts";
import { SIDECAR_CONTAINER_NAME } from "../sidecar/resolve.ts";
import { dataDigests } from "./sidecar-config.ts";

/** Annotation on a sidecar config Secret: when its Configuration item last changed (RFC 3339, ms). */
export const CONFIGURATION_CHANGED_ANNOTATION = "outrigger.dev/configuration-changed-at";

/**
 * `desired` carrying the time its Configuration item last changed: `now` when it differs from the
 * one in `existing`, else whatever `existing` recorded. A first write records nothing, since no
 * daprd can have started before the Secret it mounts existed.
 */
export function withConfigurationChangedAt(
  desired: V1Secret,
  existing: V1Secret | undefined,
  now: Date,
): V1Secret {
  if (!existing) return desired;
  const before = existing.metadata?.annotations?.[CONFIGURATION_CHANGED_ANNOTATION];
  const changed = dataDigests(existing)[CONFIGURATION_KEY] !== dataDigests(desired)[CONFIGURATION_KEY];
  const at = changed ? now.toISOString() : before;
  if (at === undefined) return desired;
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      annotations: { ...desired.metadata?.annotations, [CONFIGURATION_CHANGED_ANNOTATION]: at },
    },
  };
}

/** When the Secret's Configuration last changed, if it recorded a valid time. */
export function configurationChangedAt(secret: V1Secret | undefined): Date | undefined {
  return parseTime(secret?.metadata?.annotations?.[CONFIGURATION_CHANGED_ANNOTATION]);
}

/** The daprd container's status: a native sidecar (init container) or a plain container. */
function daprdStatus(pod: V1Pod): V1ContainerStatus | undefined {
  const named = (s: V1ContainerStatus) => s.name === SIDECAR_CONTAINER_NAME;
  return pod.status?.initContainerStatuses?.find(named) ?? pod.status?.containerStatuses?.find(named);
}

/** When the pod's running daprd started, as the kubelet reports it (second precision). */
export function daprdStartedAt(pod: V1Pod): Date | undefined {
  const startedAt = daprdStatus(pod)?.state?.running?.startedAt as Date | string | undefined;
  return parseTime(startedAt instanceof Date ? startedAt.toISOString() : startedAt);
}

/** The daprd status the controller keeps of a pod: only its start time, as JSON has it (see trimmedPod). */
export function daprdStartStatus(pod: V1Pod): V1ContainerStatus | undefined {
  const startedAt = daprdStartedAt(pod);
  if (!startedAt) return undefined;
  return {
    name: SIDECAR_CONTAINER_NAME,
    state: { running: { startedAt: startedAt.toISOString() } },
  } as unknown as V1ContainerStatus;
}

/**
 * Whether a daprd that started at `startedAt` predates a Configuration changed at `changedAt`.
 * The kubelet reports start times in whole seconds, so a start in the same second as the change
 * counts as before it: a needless restart hint is better than a silently old Configuration.
 */
export function startedBeforeChange(startedAt: Date, changedAt: Date): boolean {
  return Math.floor(startedAt.getTime() / 1000) <= Math.floor(changedAt.getTime() / 1000);
}

function parseTime(s: string | undefined): Date | undefined {
  if (!s) return undefined;
  const t = new Date(s);
  return Number.isNaN(t.getTime()) ? undefined : t;
}
