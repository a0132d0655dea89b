// Which roots a sidecar trusts, as fingerprints: the injector records them on the pod at
// admission (daprd 1.18 reads its anchors only from DAPR_TRUST_ANCHORS, frozen then), and the
// controller compares them with Sentry's current trust bundle to find pods a root rotation will
// leave behind. Fingerprints, not PEM: 64 characters a root in the annotation and in the cache.
import { createHash } from "node:crypto";

/** Pod annotation: the SHA-256 (hex) of each trust anchor's DER, comma-separated, bundle order. */
export const TRUST_ANCHORS_ANNOTATION = "outrigger.dev/trust-anchors";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;

/** SHA-256 of each certificate's DER in a PEM bundle, in order, without repeats. */
export function anchorFingerprints(pem: string): string[] {
  const out: string[] = [];
  for (const m of pem.matchAll(PEM_CERTIFICATE)) {
    const der = Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
    if (der.length === 0) continue;
    const fp = createHash("sha256").update(der).digest("hex");
    if (!out.includes(fp)) out.push(fp);
  }
  return out;
}

/** The fingerprints a pod was admitted with, or undefined when it has no (readable) record. */
export function podTrustAnchors(
  annotations: Readonly<Record<string, string>> | undefined,
): string[] | undefined {
  const raw = annotations?.[TRUST_ANCHORS_ANNOTATION];
  if (raw === undefined) return undefined;
  const fps = raw.split(",").map((s) => s.trim().toLowerCase());
  return fps.every((f) => /^[0-9a-f]{64}$/.test(f)) ? fps : undefined;
}

/** Roots of the current bundle that a pod admitted with `podAnchors` does not trust. */
export function untrustedRoots(podAnchors: readonly string[], bundle: readonly string[]): string[] {
  const have = new Set(podAnchors);
  return bundle.filter((fp) => !have.has(fp));
}
