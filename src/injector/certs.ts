// The injector's own PKI, as pure functions of (stored certificates, now, policy): a CA, the
// serving certificate it signs, the CA bundle the API server trusts, and when each must be
// renewed. Generating keys is the only non-deterministic step; nothing here does I/O.
//
// CA rotation runs in two steps so that the API server never sees a serving certificate from a
// CA it does not trust yet: at two thirds of its lifetime the CA gets a successor that is only
// *published* (added to the bundle); at five sixths the successor is promoted to signer and a
// new serving certificate is issued. The old CA stays in the bundle until it expires, for
// replicas that still serve a certificate it signed.
import forge from "node-forge";
import { renewalReason, renewalTime, type CertificateTimes } from "../shared/cert-renewal.ts";

export {
  parseDuration,
  renewalReason,
  renewalTime,
  type CertificateTimes,
  type RenewalReason,
} from "../shared/cert-renewal.ts";

export interface CertKeyPair {
  certPem: string;
  keyPem: string;
}

/** What the injector keeps in its Secret. */
export interface StoredCertificates {
  /** The CA that signs serving certificates. */
  ca?: CertKeyPair;
  /** A successor CA, already in the bundle, not yet signing. */
  nextCa?: CertKeyPair;
  /** Every CA the API server should trust, PEM-concatenated. */
  caBundlePem?: string;
  serving?: CertKeyPair;
}

export interface CertificatePolicy {
  /** DNS SANs of the serving certificate. */
  dnsNames: readonly string[];
  /** IP SANs of the serving certificate. */
  ipAddresses: readonly string[];
  caCommonName: string;
  caValidityMs: number;
  servingValidityMs: number;
}

/** Why the rotation changed something; a closed set (metric label values). */
export type RotationReason =
  | "missing"
  | "invalid"
  | "expired"
  | "not-yet-valid"
  | "renewal-due"
  | "hosts-changed"
  | "issuer-changed"
  | "successor-promoted"
  | "bundle-changed";

export interface RotationChange {
  certificate: "ca" | "next-ca" | "serving" | "bundle";
  reason: RotationReason;
}

export interface RotationResult {
  certificates: Required<Pick<StoredCertificates, "ca" | "serving" | "caBundlePem">> &
    Pick<StoredCertificates, "nextCa">;
  /** Empty when `certificates` equals the input. */
  changes: RotationChange[];
  /** When the rotation must run again at the latest. */
  nextCheckAt: Date;
}

/** Clocks of the API server and the replicas may differ a little; certificates start this much in the past. */
const MAX_BACKDATE_MS = 60_000;
function backdateFor(validityMs: number): number {
  return Math.min(MAX_BACKDATE_MS, Math.floor(validityMs / 10));
}

/** The time a certificate made by this module was issued: notBefore plus the backdate it was given. */
function issuedAt(cert: CertificateTimes): number {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  // lifetime = validity + min(60s, validity/10), so the backdate is 60s from a lifetime of 660s on.
  const backdate = lifetime >= 11 * MAX_BACKDATE_MS ? MAX_BACKDATE_MS : Math.floor(lifetime / 11);
  return cert.notBefore.getTime() + backdate;
}

/**
 * When a published successor CA may start signing: at five sixths of the current CA's lifetime,
 * and not before the successor has been in the bundle for a while (a twelfth of its lifetime, at
 * most ten minutes) so the API server has loaded the new bundle.
 */
export function promotionTime(ca: CertificateTimes, successor: CertificateTimes): Date {
  const start = ca.notBefore.getTime();
  const fiveSixths = start + Math.floor(((ca.notAfter.getTime() - start) * 5) / 6);
  const successorLifetime = successor.notAfter.getTime() - successor.notBefore.getTime();
  const published = issuedAt(successor) + Math.min(10 * 60_000, Math.floor(successorLifetime / 12));
  return new Date(Math.max(fiveSixths, published));
}

// ---- parsing --------------------------------------------------------------------------------

interface ParsedCert extends CertificateTimes {
  cert: forge.pki.Certificate;
  pem: string;
}

interface ParsedPair extends ParsedCert {
  keyPem: string;
}

/** PEM with plain newlines (forge writes CRLF), so Secrets read well with kubectl. */
function certificatePem(cert: forge.pki.Certificate): string {
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, "\n");
}

function parseCert(pem: string): ParsedCert | undefined {
  try {
    const cert = forge.pki.certificateFromPem(pem);
    return { cert, pem: certificatePem(cert), ...cert.validity };
  } catch {
    return undefined;
  }
}

function publicKeysMatch(cert: forge.pki.Certificate, keyPem: string): boolean {
  try {
    const key = forge.pki.privateKeyFromPem(keyPem);
    const pub = cert.publicKey as forge.pki.rsa.PublicKey;
    return pub.n.equals(key.n) && pub.e.equals(key.e);
  } catch {
    return false;
  }
}

/** A certificate with its matching private key, or undefined if either is unreadable or they differ. */
function parsePair(pair: CertKeyPair | undefined): ParsedPair | undefined {
  if (!pair) return undefined;
  const parsed = parseCert(pair.certPem);
  if (!parsed || !publicKeysMatch(parsed.cert, pair.keyPem)) return undefined;
  return { ...parsed, keyPem: pair.keyPem };
}

function isCa(cert: forge.pki.Certificate): boolean {
  const bc = cert.getExtension("basicConstraints") as { cA?: boolean } | null;
  return bc?.cA === true;
}

/** Splits concatenated PEM certificates; unreadable blocks are dropped. */
export function splitPemBundle(bundle: string): string[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).flatMap(
    (pem) => parseCert(pem)?.pem ?? [],
  );
}

/** The SANs of a certificate, sorted. */
export function subjectAltNames(certPem: string): { dnsNames: string[]; ipAddresses: string[] } {
  const cert = forge.pki.certificateFromPem(certPem);
  const ext = cert.getExtension("subjectAltName") as {
    altNames?: Array<{ type: number; value?: string; ip?: string }>;
  } | null;
  const alt = ext?.altNames ?? [];
  return {
    dnsNames: alt.flatMap((a) => (a.type === 2 && a.value ? [a.value] : [])).sort(),
    ipAddresses: alt.flatMap((a) => (a.type === 7 && a.ip ? [a.ip] : [])).sort(),
  };
}

/** Validity of a PEM certificate, for metrics and logs. */
export function certificateTimes(certPem: string): CertificateTimes | undefined {
  const parsed = parseCert(certPem);
  return parsed && { notBefore: parsed.notBefore, notAfter: parsed.notAfter };
}

// ---- generation -----------------------------------------------------------------------------

function serialNumber(): string {
  // Random 128-bit serial; a first hex digit of 1-7 keeps the DER integer positive and minimal.
  const hex = forge.util.bytesToHex(forge.random.getBytesSync(16));
  return ((parseInt(hex[0]!, 16) & 0x7) | 0x1).toString(16) + hex.slice(1);
}

function newCertificate(now: Date, validityMs: number, notAfterCap?: Date): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - backdateFor(validityMs));
  const notAfter = now.getTime() + validityMs;
  cert.validity.notAfter = new Date(notAfterCap ? Math.min(notAfter, notAfterCap.getTime()) : notAfter);
  return cert;
}

function pairOf(cert: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey): CertKeyPair {
  return { certPem: certificatePem(cert), keyPem: forge.pki.privateKeyToPem(key).replace(/\r\n/g, "\n") };
}

export function generateCa(commonName: string, now: Date, validityMs: number): CertKeyPair {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = newCertificate(now, validityMs);
  cert.publicKey = keys.publicKey;
  // A fresh name per CA, so a client never confuses a successor with its predecessor.
  const subject = [
    { name: "commonName", value: `${commonName} ${now.toISOString()}` },
    { name: "organizationName", value: "outrigger" },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return pairOf(cert, keys.privateKey);
}

export function generateServingCertificate(
  ca: CertKeyPair,
  hosts: { dnsNames: readonly string[]; ipAddresses: readonly string[] },
  now: Date,
  validityMs: number,
): CertKeyPair {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  // A serving certificate never outlives its CA.
  const cert = newCertificate(now, validityMs, caCert.validity.notAfter);
  cert.publicKey = keys.publicKey;
  cert.setSubject([{ name: "commonName", value: hosts.dnsNames[0] ?? hosts.ipAddresses[0] ?? "injector" }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        ...hosts.dnsNames.map((value) => ({ type: 2, value })),
        ...hosts.ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return pairOf(cert, keys.privateKey);
}

/** The DNS names under which the API server reaches a Service, shortest last. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
    `${service}.${namespace}`,
    service,
  ];
}

/** Local runs reach the injector on loopback. */
export const LOOPBACK_HOSTS = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] } as const;

/** One spelling per address ("0:0::1" and "::1" alike), so a SAN comparison cannot flap. */
function canonicalIp(ip: string): string {
  if (!ip.includes(":")) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

/** Does `caPem` verify the signature on `certPem`? */
export function isSignedBy(certPem: string, caPem: string): boolean {
  try {
    const ca = forge.pki.certificateFromPem(caPem);
    const cert = forge.pki.certificateFromPem(certPem);
    return ca.subject.hash === cert.issuer.hash && ca.verify(cert);
  } catch {
    return false;
  }
}

// ---- rotation -------------------------------------------------------------------------------

function caProblem(
  stored: CertKeyPair | undefined,
  ca: ParsedPair | undefined,
  now: Date,
): RotationReason | undefined {
  if (!stored) return "missing";
  if (!ca || !isCa(ca.cert)) return "invalid";
  const r = renewalReason(ca, now);
  return r === "renewal-due" ? undefined : r;
}

function servingProblem(
  serving: ParsedPair | undefined,
  ca: ParsedPair,
  policy: CertificatePolicy,
  now: Date,
): RotationReason | undefined {
  if (!serving) return "missing";
  const renewal = renewalReason(serving, now);
  if (renewal) return renewal;
  if (!isSignedBy(serving.pem, ca.pem)) return "issuer-changed";
  const have = subjectAltNames(serving.pem);
  const want = {
    dnsNames: [...policy.dnsNames].sort(),
    ipAddresses: policy.ipAddresses.map(canonicalIp).sort(),
  };
  have.ipAddresses = have.ipAddresses.map(canonicalIp).sort();
  if (JSON.stringify(have) !== JSON.stringify(want)) return "hosts-changed";
  return undefined;
}

/**
 * Brings stored certificates up to date at `now`: creates what is missing, renews what is due,
 * promotes a published successor CA, and keeps the bundle to the CAs still valid.
 */
export function rotateCertificates(
  stored: StoredCertificates | undefined,
  now: Date,
  policy: CertificatePolicy,
): RotationResult {
  const changes: RotationChange[] = [];
  let ca = parsePair(stored?.ca);
  let next = parsePair(stored?.nextCa);
  if (next && (!isCa(next.cert) || renewalReason(next, now) === "expired")) next = undefined;

  const newCa = () => {
    const pair = generateCa(policy.caCommonName, now, policy.caValidityMs);
    return parsePair(pair)!;
  };

  const problem = caProblem(stored?.ca, ca, now);
  if (problem) {
    // A published successor is trusted already: switching to it is seamless, a new CA is not.
    changes.push(
      next ? { certificate: "ca", reason: "successor-promoted" } : { certificate: "ca", reason: problem },
    );
    ca = next ?? newCa();
    next = undefined;
  } else if (ca) {
    if (next && now.getTime() >= promotionTime(ca, next).getTime()) {
      changes.push({ certificate: "ca", reason: "successor-promoted" });
      ca = next;
      next = undefined;
    } else if (!next && renewalReason(ca, now) === "renewal-due") {
      changes.push({ certificate: "next-ca", reason: "renewal-due" });
      next = newCa();
    }
  }
  if (!ca) throw new Error("unreachable: no CA after rotation");

  // The bundle: the signer, its successor, and earlier CAs until they expire.
  const previous = splitPemBundle(stored?.caBundlePem ?? "").flatMap((pem) => {
    const c = parseCert(pem);
    return c && isCa(c.cert) && now.getTime() < c.notAfter.getTime() ? [c] : [];
  });
  const bundle: string[] = [];
  for (const pem of [ca.pem, ...(next ? [next.pem] : []), ...previous.map((c) => c.pem)]) {
    if (!bundle.includes(pem)) bundle.push(pem);
  }
  const caBundlePem = bundle.join("");
  const storedBundle = splitPemBundle(stored?.caBundlePem ?? "").join("");
  if (caBundlePem !== storedBundle && changes.length === 0) {
    changes.push({ certificate: "bundle", reason: "bundle-changed" });
  }

  let serving = parsePair(stored?.serving);
  const servingReason =
    stored?.serving !== undefined && !serving ? "invalid" : servingProblem(serving, ca, policy, now);
  if (servingReason) {
    changes.push({ certificate: "serving", reason: servingReason });
    const hosts = { dnsNames: policy.dnsNames, ipAddresses: policy.ipAddresses };
    serving = parsePair(
      generateServingCertificate(
        { certPem: ca.pem, keyPem: ca.keyPem },
        hosts,
        now,
        policy.servingValidityMs,
      ),
    )!;
  }
  if (!serving) throw new Error("unreachable: no serving certificate after rotation");

  const deadlines = [renewalTime(serving), serving.notAfter, ca.notAfter];
  deadlines.push(next ? promotionTime(ca, next) : renewalTime(ca));
  for (const c of previous) deadlines.push(c.notAfter);
  const nextCheckAt = new Date(Math.min(...deadlines.map((d) => d.getTime())));

  return {
    certificates: {
      ca: { certPem: ca.pem, keyPem: ca.keyPem },
      ...(next ? { nextCa: { certPem: next.pem, keyPem: next.keyPem } } : {}),
      caBundlePem,
      serving: { certPem: serving.pem, keyPem: serving.keyPem },
    },
    changes,
    nextCheckAt,
  };
}
