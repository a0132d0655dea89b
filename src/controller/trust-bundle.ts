// Sentry's trust bundle as the controller reads it (the ConfigMap `outrigger-trust-bundle`,
// key `ca.crt`, in Sentry's namespace), and which pods a root rotation leaves behind: daprd 1.18
// takes its trust anchors from DAPR_TRUST_ANCHORS, frozen at admission, so a pod whose anchors
// lack a root of the current bundle cannot verify Sentry or its peers once that root signs. The
// injector records the anchors' fingerprints on the pod (src/sidecar/trust-anchors.ts). Pure.
import type { V1ConfigMap } from "@kubernetes/client-node";
import { TRUST_BUNDLE_KEY } from "../sidecar/identity.ts";
import { anchorFingerprints, podTrustAnchors, untrustedRoots } from "../sidecar/trust-anchors.ts";

export interface TrustBundle {
  /** `namespace/name` of the ConfigMap, for messages. */
  source: string;
  /** SHA-256 of each root's DER, current root first. */
  fingerprints: string[];
}

/** The bundle a ConfigMap publishes; undefined when it holds no certificate (nothing to compare with). */
export function trustBundleOf(cm: V1ConfigMap | undefined): TrustBundle | undefined {
  const fingerprints = anchorFingerprints(cm?.data?.[TRUST_BUNDLE_KEY] ?? "");
  if (fingerprints.length === 0) return undefined;
  return { source: `${cm?.metadata?.namespace ?? ""}/${cm?.metadata?.name ?? ""}`, fingerprints };
}

/**
 * Why a pod's sidecar will not survive the rotation under way, or undefined: it trusts every
 * root of the bundle, or it has no record of its anchors (mTLS off, or injected before the
 * record existed): status never claims more than is known.
 */
export function untrustedRootsOf(
  podAnnotations: Readonly<Record<string, string>>,
  bundle: TrustBundle,
): string | undefined {
  const anchors = podTrustAnchors(podAnnotations);
  if (!anchors) return undefined;
  const missing = untrustedRoots(anchors, bundle.fingerprints);
  if (missing.length === 0) return undefined;
  const names = missing.map((fp) => `sha256:${fp.slice(0, 16)}`).join(", ");
  return `its trust anchors, fixed at admission, lack root${missing.length === 1 ? "" : "s"} ${names} of the trust bundle ${bundle.source}; daprd fails once that root signs`;
}
