// What a pod's sidecar was injected as, and what it would be injected as now: the pair the
// controller compares to find stale sidecars after an upgrade. The injector records the first
// in the pod's status annotation at admission.

import type { V1Pod } from "@kubernetes/client-node";
import { hashOfResolvedSidecar } from "./fingerprint.ts";
import type { SidecarDefaults } from "./defaults.ts";
import { resolveSidecar } from "./resolve.ts";

/**
 * Pod annotation written by the injector: JSON {version, image, settingsHash}. The controller
 * compares it with what would be injected now to find stale sidecars after an upgrade.
 */
export const SIDECAR_STATUS_ANNOTATION = "outrigger.dev/sidecar-status";
/**
 * Label the injector puts on every pod it injects (Dapr's injector uses the same). A pod annotated
 * `dapr.io/enabled: "true"` without it never went through the webhook, which the controller can
 * tell from the pod's metadata alone.
 */
export const SIDECAR_INJECTED_LABEL = "dapr.io/sidecar-injected";
export interface SidecarStatus {
  version: string;
  image: string;
  settingsHash: string;
}

export type ExpectedSidecarStatus =
  { ok: true; settingsHash: string; image: string } | { ok: false; message: string };

/**
 * The image and settings hash that injecting a pod with these annotations would record now.
 * The controller compares them with a pod's status annotation to find stale sidecars.
 */
export function expectedSidecarStatus(
  podAnnotationMap: Readonly<Record<string, string>>,
  podName: string | undefined,
  settings: SidecarDefaults,
): ExpectedSidecarStatus {
  const resolved = resolveSidecar(podAnnotationMap, podName, settings);
  if (!resolved.ok) return { ok: false, message: resolved.message };
  return { ok: true, settingsHash: hashOfResolvedSidecar(resolved.sidecar), image: resolved.sidecar.image };
}

/** The pod's injected-sidecar record, or undefined when the pod was not injected by Outrigger. */
export function injectedSidecarStatus(pod: V1Pod): SidecarStatus | undefined {
  const raw = pod.metadata?.annotations?.[SIDECAR_STATUS_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<SidecarStatus>;
    if (typeof v.image !== "string" || typeof v.settingsHash !== "string") return undefined;
    return {
      version: typeof v.version === "string" ? v.version : "",
      image: v.image,
      settingsHash: v.settingsHash,
    };
  } catch {
    return undefined;
  }
}
