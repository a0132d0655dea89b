// The injection decision: a pure function from (pod, cluster-wide sidecar defaults) to inject, skip or deny.
// Precedence, top to bottom (the first row that matches wins):
//
//   | pod                                                    | decision                     |
//   |--------------------------------------------------------|------------------------------|
//   | dapr.io/enabled absent or false                        | skip    not-enabled          |
//   | dapr.io/enabled not a boolean                          | deny    invalid-annotation   |
//   | a `daprd` container in containers or initContainers    | skip    already-injected     |
//   | spec not shaped like a Pod                             | deny    invalid-object       |
//   | any dapr.io/* value invalid                            | deny    invalid-annotation   |
//   | no app-id and no name (generateName only)              | deny    missing-app-id       |
//   | app-id (given or defaulted) not a short DNS-1123 label | deny    invalid-app-id       |
//   | volume-mounts name a volume the pod lacks              | deny    missing-volume       |
//   | values that contradict each other or the pod           | deny    invalid-annotation   |
//   | otherwise                                              | inject                       |
//
// The app-id defaults to the pod's name, as in Dapr. Pods of Deployments, Jobs and the like
// have only generateName at admission time, so they must set dapr.io/app-id.

import { SIDECAR_CONFIG_VOLUME } from "../sidecar/config-secret.ts";
import { SENTRY_TOKEN_VOLUME } from "../sidecar/identity.ts";
import { ANNOTATION_PREFIX, annotations } from "../sidecar/annotations.ts";
import {
  SIDECAR_CONTAINER_NAME,
  UDS_VOLUME,
  resolveSidecar,
  type ResolveProblem,
  type ResolvedSidecar,
} from "../sidecar/resolve.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { computedHashOfResolvedSidecar } from "../sidecar/fingerprint.ts";
import { BoundedMemo } from "../shared/bounded-memo.ts";
import { deepFreeze } from "../shared/frozen-json.ts";

export type SkipReason = "not-enabled" | "already-injected";
export type DenyReason = ResolveProblem | "invalid-object" | "missing-volume";

export type Decision =
  | { kind: "inject"; sidecar: ResolvedSidecar; settingsHash: string; warnings: string[] }
  | { kind: "skip"; reason: SkipReason }
  | { kind: "deny"; reason: DenyReason; message: string; appId?: string };

/** A JSON object as it came off the wire: nothing is trusted until checked. */
export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The pod's `dapr.io/*` annotations with string values, in their order (all that resolution
 * reads of its annotations), and a text that names exactly these entries, for the memo below.
 */
export function daprAnnotationsOf(pod: unknown): { values: Record<string, string>; key: string } {
  const metadata = isObject(pod) ? pod.metadata : undefined;
  const raw = isObject(metadata) ? metadata.annotations : undefined;
  const values: Record<string, string> = {};
  let key = "";
  if (!isObject(raw)) return { values, key };
  // Keys, not entries: no pair array per annotation (a pod carries dozens).
  for (const k of Object.keys(raw)) {
    const v = raw[k];
    if (typeof v !== "string" || !k.startsWith(ANNOTATION_PREFIX)) continue;
    values[k] = v;
    // Length-prefixed, so that no two lists of entries give the same text.
    key += `${k.length}:${k}${v.length}:${v}`;
  }
  return { values, key };
}

function hasContainerNamed(list: unknown, name: string): boolean {
  return Array.isArray(list) && list.some((c) => isObject(c) && c.name === name);
}

/** True when a daprd container is already there, injected by us, by Dapr, or written by hand. */
export function hasSidecar(pod: unknown): boolean {
  const spec = isObject(pod) ? pod.spec : undefined;
  if (!isObject(spec)) return false;
  return (
    hasContainerNamed(spec.containers, SIDECAR_CONTAINER_NAME) ||
    hasContainerNamed(spec.initContainers, SIDECAR_CONTAINER_NAME)
  );
}

/**
 * What is wrong with the parts of the object the injector reads and writes, or undefined.
 * Checked before rendering so that rendering can trust the shape and never throw.
 */
export function podShapeProblem(pod: unknown): string | undefined {
  if (!isObject(pod)) return "request.object is not a Pod object";
  const { metadata, spec } = pod;
  if (metadata !== undefined && !isObject(metadata)) return "metadata is not an object";
  if (isObject(metadata)) {
    for (const field of ["labels", "annotations"] as const) {
      const m = metadata[field];
      if (m !== undefined && m !== null && !isObject(m)) return `metadata.${field} is not an object`;
    }
    for (const field of ["name", "generateName", "namespace"] as const) {
      const v = metadata[field];
      if (v !== undefined && v !== null && typeof v !== "string") return `metadata.${field} is not a string`;
    }
  }
  if (!isObject(spec)) return "spec is not an object";
  if (!Array.isArray(spec.containers)) return "spec.containers is not a list";
  for (const field of ["containers", "initContainers"] as const) {
    const list = spec[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) return `spec.${field} is not a list`;
    for (const [i, c] of list.entries()) {
      if (!isObject(c) || typeof c.name !== "string")
        return `spec.${field}[${i}] is not a container with a name`;
      for (const sub of ["env", "volumeMounts", "ports"] as const) {
        const v = c[sub];
        if (v !== undefined && v !== null && (!Array.isArray(v) || !v.every(isObject)))
          return `spec.${field}[${i}].${sub} is not a list of objects`;
      }
    }
  }
  const volumes = spec.volumes;
  if (volumes !== undefined && volumes !== null) {
    if (!Array.isArray(volumes) || !volumes.every((v) => isObject(v) && typeof v.name === "string"))
      return "spec.volumes is not a list of named volumes";
  }
  return undefined;
}

function stringField(obj: unknown, field: string): string | undefined {
  const v = isObject(obj) ? obj[field] : undefined;
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** A resolved sidecar with its settings hash, or why there is none. Frozen: decisions share it. */
type Resolution =
  | { ok: true; sidecar: ResolvedSidecar; settingsHash: string; warnings: readonly string[] }
  | { ok: false; reason: ResolveProblem; message: string; appId?: string };

// Pods come in batches of one template (a ReplicaSet scaling up), and resolving their
// annotations (the table's parsers, the defaults, the conflict checks, the settings hash) was
// the largest part of an admission. It is a pure function of the dapr.io/* annotations, the
// pod's name and the settings, so it is memoized by exactly those; bounded per settings object.
// resolveSidecar reads the name only to default a missing dapr.io/app-id (a test holds it to
// that), so with the annotation set the name is left out of the key: the pods of a
// StatefulSet, each with its own name, share one entry.
const RESOLUTION_MEMO_SIZE = 64;
const resolutionMemos = new WeakMap<SidecarDefaults, BoundedMemo<Resolution>>();

/** resolveSidecar and the settings hash, memoized by their whole input. */
function resolutionOf(
  dapr: { values: Record<string, string>; key: string },
  podName: string | undefined,
  settings: SidecarDefaults,
): Resolution {
  let memo = resolutionMemos.get(settings);
  if (memo === undefined) resolutionMemos.set(settings, (memo = new BoundedMemo(RESOLUTION_MEMO_SIZE)));
  // The name first, "-" when there is none or it is not read (a length prefix starts with a digit).
  const nameRead = podName !== undefined && dapr.values[annotations.appId.key] === undefined;
  const key = `${nameRead ? `${podName.length}:${podName}` : "-"}|${dapr.key}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  const resolved = resolveSidecar(dapr.values, podName, settings);
  const resolution: Resolution = resolved.ok
    ? { ...resolved, settingsHash: computedHashOfResolvedSidecar(resolved.sidecar) }
    : resolved;
  return memo.set(key, deepFreeze(resolution));
}

/** The first of the volume names the injected sidecar adds that the pod already uses, if any. */
function reservedVolumeTaken(podVolumes: ReadonlySet<string>, sidecar: ResolvedSidecar): string | undefined {
  if (podVolumes.has(SIDECAR_CONFIG_VOLUME)) return SIDECAR_CONFIG_VOLUME;
  if (sidecar.unixDomainSocketPath && podVolumes.has(UDS_VOLUME)) return UDS_VOLUME;
  if (sidecar.mtls && podVolumes.has(SENTRY_TOKEN_VOLUME)) return SENTRY_TOKEN_VOLUME;
  return undefined;
}

/**
 * The whole decision for a Pod CREATE. `pod` is request.object, untrusted. Never throws.
 * The sidecar of an inject decision is frozen: decisions for pods of one template share it.
 */
export function decide(pod: unknown, settings: SidecarDefaults): Decision {
  const dapr = daprAnnotationsOf(pod);
  const enabledKey = annotations.enabled.key;
  const enabledRaw = dapr.values[enabledKey];
  if (enabledRaw === undefined) return { kind: "skip", reason: "not-enabled" };
  const enabled = annotations.enabled.parser.parse(enabledRaw);
  if (!enabled.ok)
    return {
      kind: "deny",
      reason: "invalid-annotation",
      message: `${enabledKey}: ${JSON.stringify(enabledRaw)} ${enabled.problem}`,
    };
  if (!enabled.value) return { kind: "skip", reason: "not-enabled" };
  if (hasSidecar(pod)) return { kind: "skip", reason: "already-injected" };

  const shape = podShapeProblem(pod);
  if (shape !== undefined || !isObject(pod))
    return {
      kind: "deny",
      reason: "invalid-object",
      message: `not a valid Pod: ${shape ?? "not an object"}`,
    };

  const resolved = resolutionOf(dapr, stringField(pod.metadata, "name"), settings);
  if (!resolved.ok)
    return { kind: "deny", reason: resolved.reason, message: resolved.message, appId: resolved.appId };
  const { sidecar, settingsHash } = resolved;

  const spec = pod.spec as JsonObject;
  const podVolumes = new Set<string>();
  if (Array.isArray(spec.volumes))
    for (const v of spec.volumes) podVolumes.add((v as JsonObject).name as string);
  for (const m of sidecar.volumeMounts) {
    if (!podVolumes.has(m.volume)) {
      const key = m.readOnly ? annotations.volumeMounts.key : annotations.volumeMountsRw.key;
      return {
        kind: "deny",
        reason: "missing-volume",
        message: `${key}: the pod has no volume named ${JSON.stringify(m.volume)}; add it to spec.volumes or remove it from ${key}`,
        appId: sidecar.appId,
      };
    }
  }
  const reserved = reservedVolumeTaken(podVolumes, sidecar);
  if (reserved !== undefined)
    return {
      kind: "deny",
      reason: "invalid-object",
      message: `spec.volumes: the volume name ${reserved} is reserved for the injected sidecar; rename the pod's volume`,
      appId: sidecar.appId,
    };

  return { kind: "inject", sidecar, settingsHash, warnings: [...resolved.warnings] };
}
