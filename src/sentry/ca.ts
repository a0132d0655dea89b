// Sentry's CA as stored in its Secret, and its rotation as a pure policy of (stored CA, now).
//
// Root rotation is staged like the injector's CA: at two thirds of the root's lifetime a
// successor root is generated and only *published* (added to the trust bundle). It starts
// signing (a new issuer under it) at five sixths, and not before it has been published for
// `minPublishedMs`, so sidecars started in between trust both. The old root stays in the bundle
// until it expires, for SVIDs it signed that are still in use. The issuer is renewed at two
// thirds of its lifetime, or at once when it no longer chains to the current root.
import { renewalReason, renewalTime, type CertificateTimes } from "../shared/cert-renewal.ts";
import { certificateInfo, newIssuer, newRoot, pairIsSound, splitPem, type CertKeyPair } from "./x509.ts";

/** What the CA Secret holds. */
export interface StoredCa {
  root?: CertKeyPair;
  /** A published successor root, not signing yet. */
  nextRoot?: CertKeyPair;
  issuer?: CertKeyPair;
  /** Every root a sidecar should trust, PEM-concatenated, current root first. */
  trustBundlePem?: string;
}

export interface CaPolicy {
  trustDomain: string;
  /** The issuer's subject names Sentry's SPIFFE id, as Dapr's does. */
  sentryId: string;
  rootValidityMs: number;
  issuerValidityMs: number;
  /** notBefore lies this far back (Dapr's allowed clock skew). */
  skewMs: number;
  /** How long a successor root is published before it may sign. */
  minPublishedMs: number;
}

export type CaChangeReason =
  | "missing"
  | "invalid"
  | "expired"
  | "not-yet-valid"
  | "renewal-due"
  | "successor-promoted"
  | "issuer-changed"
  | "bundle-changed";

export interface CaChange {
  certificate: "root" | "next-root" | "issuer" | "bundle";
  reason: CaChangeReason;
}

export interface CaRotation {
  ca: Required<Pick<StoredCa, "root" | "issuer" | "trustBundlePem">> & Pick<StoredCa, "nextRoot">;
  /** Empty when `ca` equals the input. */
  changes: CaChange[];
  /** When the rotation must run again at the latest. */
  nextCheckAt: Date;
}

function times(pem: string): CertificateTimes & { fingerprint: string } {
  const info = certificateInfo(pem);
  if (!info) throw new Error("certificate made by this module is unreadable");
  return info;
}

/** A sound self-signed root that is not expired, or the reason it is not one. */
function rootProblem(pair: CertKeyPair | undefined, now: Date): CaChangeReason | undefined {
  if (!pair) return "missing";
  if (!pairIsSound(pair)) return "invalid";
  const r = renewalReason(times(pair.certPem), now);
  return r === "expired" || r === "not-yet-valid" ? r : undefined;
}

/** When a published successor may start signing. */
export function promotionTime(
  root: CertificateTimes,
  successorPublishedAt: Date,
  minPublishedMs: number,
): Date {
  const start = root.notBefore.getTime();
  const fiveSixths = start + Math.floor(((root.notAfter.getTime() - start) * 5) / 6);
  return new Date(Math.max(fiveSixths, successorPublishedAt.getTime() + minPublishedMs));
}

function label(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, "Z");
}

export function rotateCa(stored: StoredCa, now: Date, policy: CaPolicy): CaRotation {
  const changes: CaChange[] = [];
  const rootValidity = { now, validityMs: policy.rootValidityMs, skewMs: policy.skewMs };
  const issuerValidity = { now, validityMs: policy.issuerValidityMs, skewMs: policy.skewMs };
  const published = splitPem(stored.trustBundlePem ?? "");

  let root = stored.root;
  let nextRoot = stored.nextRoot;
  let retired: string[] = published;
  const problem = rootProblem(root, now);
  if (problem) {
    root = newRoot(policy.trustDomain, label(now), rootValidity);
    nextRoot = undefined;
    // A root that is missing or unsound is not ours any more: nothing it published stays trusted.
    retired = [];
    changes.push({ certificate: "root", reason: problem });
  } else {
    if (nextRoot && rootProblem(nextRoot, now)) {
      nextRoot = undefined;
      changes.push({ certificate: "next-root", reason: "invalid" });
    }
    const rootTimes = times(root!.certPem);
    if (nextRoot) {
      // The successor's notBefore plus the skew is when it was made, so when it was published.
      const publishedAt = new Date(times(nextRoot.certPem).notBefore.getTime() + policy.skewMs);
      if (now >= promotionTime(rootTimes, publishedAt, policy.minPublishedMs)) {
        root = nextRoot;
        nextRoot = undefined;
        changes.push({ certificate: "root", reason: "successor-promoted" });
      }
    } else if (renewalReason(rootTimes, now) === "renewal-due") {
      nextRoot = newRoot(policy.trustDomain, label(now), rootValidity);
      changes.push({ certificate: "next-root", reason: "renewal-due" });
    }
  }
  const current = root!;

  let issuer = stored.issuer;
  if (!issuer) changes.push({ certificate: "issuer", reason: "missing" });
  else if (!pairIsSound(issuer, current.certPem))
    changes.push({ certificate: "issuer", reason: "issuer-changed" });
  else {
    const r = renewalReason(times(issuer.certPem), now);
    if (r) changes.push({ certificate: "issuer", reason: r });
  }
  if (changes.some((c) => c.certificate === "issuer"))
    issuer = newIssuer(current, policy.sentryId, label(now), issuerValidity);

  // The bundle: the current root, the successor, and retired roots until they expire.
  const mine = [current.certPem, ...(nextRoot ? [nextRoot.certPem] : [])];
  const mineFingerprints = new Set(mine.map((p) => times(p).fingerprint));
  retired = retired.filter((p) => {
    const t = times(p);
    return !mineFingerprints.has(t.fingerprint) && now < t.notAfter;
  });
  const trustBundlePem = [...mine, ...retired].join("");
  if (trustBundlePem !== stored.trustBundlePem)
    changes.push({ certificate: "bundle", reason: "bundle-changed" });

  const checks = [renewalTime(times(current.certPem)), renewalTime(times(issuer!.certPem))];
  if (nextRoot) {
    const publishedAt = new Date(times(nextRoot.certPem).notBefore.getTime() + policy.skewMs);
    checks.push(promotionTime(times(current.certPem), publishedAt, policy.minPublishedMs));
  }
  for (const p of retired) checks.push(times(p).notAfter);
  const nextCheckAt = new Date(Math.max(now.getTime() + 1000, Math.min(...checks.map((d) => d.getTime()))));

  const ca = { root: current, issuer: issuer!, trustBundlePem, ...(nextRoot ? { nextRoot } : {}) };
  return { ca, changes, nextCheckAt };
}
