// X.509 for Sentry: reading a workload's CSR and signing the certificates of the trust chain
// (root, issuer, workload SVIDs, Sentry's own serving SVID). Ed25519 throughout for our keys, as
// Dapr's Sentry since 1.18; CSRs may carry Ed25519, ECDSA or RSA keys (daprd makes Ed25519, or
// RSA for control-plane webhooks). Pure but for key generation and the random serial numbers.
//
// What go-spiffe (daprd's verifier) requires of an SVID, and so what this writes: exactly one URI
// SAN, the leaf not a CA and without certSign/cRLSign key usage, a chain to an anchor.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
  X509Certificate,
} from "node:crypto";
import type { KeyObject } from "node:crypto";
import {
  TAG,
  bitString,
  boolTrue,
  children,
  contextTag,
  decodeOid,
  octetString,
  oid,
  readOnly,
  seq,
  time,
  tlv,
  unsignedInteger,
  utf8,
} from "./der.ts";

const OID = {
  ed25519: "1.3.101.112",
  ecdsaSha256: "1.2.840.10045.4.3.2",
  ecdsaSha384: "1.2.840.10045.4.3.3",
  rsaSha256: "1.2.840.113549.1.1.11",
  rsaSha384: "1.2.840.113549.1.1.12",
  organization: "2.5.4.10",
  commonName: "2.5.4.3",
  subjectKeyId: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/** The digest each CSR signature algorithm uses with crypto.verify (null: the algorithm has its own). */
const CSR_SIGNATURE_DIGESTS: Record<string, string | null> = {
  [OID.ed25519]: null,
  [OID.ecdsaSha256]: "sha256",
  [OID.ecdsaSha384]: "sha384",
  [OID.rsaSha256]: "sha256",
  [OID.rsaSha384]: "sha384",
};

export interface CertKeyPair {
  certPem: string;
  keyPem: string;
}

export type CsrResult = { ok: true; publicKey: KeyObject } | { ok: false; problem: string };

/**
 * The public key of a PEM CSR whose self-signature verifies. daprd sends PEM
 * "CERTIFICATE REQUEST"; the subject and attributes are ignored, as Sentry ignores them: the
 * identity comes from the token, never from the CSR.
 */
export function parseCsr(pem: Buffer): CsrResult {
  const m = /-----BEGIN CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE REQUEST-----/.exec(
    pem.toString("latin1"),
  );
  if (!m) return { ok: false, problem: "no PEM CERTIFICATE REQUEST block" };
  try {
    const der = Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
    const [info, algorithm, signature] = children(readOnly(der, TAG.sequence, "CSR"));
    if (!info || !algorithm || !signature || signature.tag !== TAG.bitString)
      return { ok: false, problem: "not a PKCS#10 certification request" };
    const spki = children(info)[2];
    if (!spki || spki.tag !== TAG.sequence) return { ok: false, problem: "the CSR has no public key" };
    const publicKey = createPublicKey({ key: spki.raw, format: "der", type: "spki" });
    const algOid = children(algorithm)[0];
    const alg = algOid && algOid.tag === TAG.oid ? decodeOid(algOid.contents) : "";
    if (!(alg in CSR_SIGNATURE_DIGESTS))
      return { ok: false, problem: `unsupported CSR signature algorithm ${alg || "(none)"}` };
    const sig = signature.contents.subarray(1);
    if (!verify(CSR_SIGNATURE_DIGESTS[alg] ?? null, info.raw, publicKey, sig))
      return { ok: false, problem: "the CSR's signature does not verify" };
    return { ok: true, publicKey };
  } catch (err) {
    return { ok: false, problem: `unreadable CSR: ${(err as Error).message}` };
  }
}

// ---- building certificates -----------------------------------------------------------------

interface Template {
  subject: Buffer; // a DER Name
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  uris: string[];
  dnsNames: string[];
}

interface Signer {
  subject: Buffer;
  key: KeyObject;
  publicKey: KeyObject;
}

function nameDer(attrs: Array<[string, string]>): Buffer {
  return seq(...attrs.map(([type, value]) => tlv(TAG.set, seq(oid(type), utf8(value)))));
}

/** RFC 5280 key identifier: SHA-1 of the subjectPublicKey bits. */
function keyId(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ format: "der", type: "spki" });
  const bits = children(readOnly(spki, TAG.sequence, "SPKI"))[1]!;
  return createHash("sha1").update(bits.contents.subarray(1)).digest();
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), boolTrue(), octetString(value)) : seq(oid(id), octetString(value));
}

function extensions(t: Template, issuer: Signer): Buffer {
  // digitalSignature for all; CAs add keyCertSign and cRLSign. Bits count from the top.
  const usage = t.isCa ? bitString(Buffer.from([0x86]), 1) : bitString(Buffer.from([0x80]), 7);
  const exts = [extension(OID.keyUsage, true, usage)];
  if (t.isCa) exts.push(extension(OID.basicConstraints, true, seq(boolTrue())));
  else exts.push(extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))));
  exts.push(extension(OID.subjectKeyId, false, octetString(keyId(t.publicKey))));
  exts.push(extension(OID.authorityKeyId, false, seq(tlv(contextTag(0, false), keyId(issuer.publicKey)))));
  const names = [
    ...t.uris.map((u) => tlv(contextTag(6, false), Buffer.from(u))),
    ...t.dnsNames.map((d) => tlv(contextTag(2, false), Buffer.from(d))),
  ];
  // An empty subject makes the SAN the identity, so it must be critical (RFC 5280 4.2.1.6).
  if (names.length > 0) exts.push(extension(OID.subjectAltName, t.subject.length <= 2, seq(...names)));
  return tlv(contextTag(3, true), seq(...exts));
}

function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, never zero-led
  return b;
}

function signCertificate(t: Template, issuer: Signer): string {
  const algorithm = seq(oid(OID.ed25519));
  const tbs = seq(
    tlv(contextTag(0, true), unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(serialNumber()),
    algorithm,
    issuer.subject,
    seq(time(t.notBefore), time(t.notAfter)),
    t.subject,
    t.publicKey.export({ format: "der", type: "spki" }),
    extensions(t, issuer),
  );
  const der = seq(tbs, algorithm, bitString(sign(null, tbs, issuer.key)));
  return `-----BEGIN CERTIFICATE-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}

function ed25519Pair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync("ed25519");
}

function keyPem(key: KeyObject): string {
  return key.export({ format: "pem", type: "pkcs8" }).toString();
}

/** The DER subject Name of a PEM certificate (the issuer field of what it signs). */
function subjectOf(certPem: string): Buffer {
  const der = new X509Certificate(certPem).raw;
  const tbs = children(readOnly(der, TAG.sequence, "certificate"))[0]!;
  const fields = children(tbs);
  // With the explicit [0] version first, the subject is the sixth field.
  const offset = fields[0]?.tag === contextTag(0, true) ? 1 : 0;
  return fields[4 + offset]!.raw;
}

function signerOf(pair: CertKeyPair): Signer {
  const cert = new X509Certificate(pair.certPem);
  return { subject: subjectOf(pair.certPem), key: createPrivateKey(pair.keyPem), publicKey: cert.publicKey };
}

export interface Validity {
  now: Date;
  validityMs: number;
  /** How far notBefore lies before `now`, for clocks behind ours. */
  skewMs: number;
}

function window(v: Validity): { notBefore: Date; notAfter: Date } {
  const t = Math.floor(v.now.getTime() / 1000) * 1000;
  return { notBefore: new Date(t - v.skewMs), notAfter: new Date(t + v.validityMs) };
}

/** A self-signed root for the trust domain. `label` tells roots apart in the bundle. */
export function newRoot(trustDomain: string, label: string, v: Validity): CertKeyPair {
  const { publicKey, privateKey } = ed25519Pair();
  const subject = nameDer([
    [OID.organization, trustDomain],
    [OID.commonName, `outrigger-sentry root ${label}`],
  ]);
  const t: Template = { subject, publicKey, ...window(v), isCa: true, uris: [], dnsNames: [] };
  return { certPem: signCertificate(t, { subject, key: privateKey, publicKey }), keyPem: keyPem(privateKey) };
}

/** An intermediate CA signed by `root`; it signs the workload SVIDs. */
export function newIssuer(root: CertKeyPair, sentryId: string, label: string, v: Validity): CertKeyPair {
  const { publicKey, privateKey } = ed25519Pair();
  const subject = nameDer([
    [OID.organization, sentryId],
    [OID.commonName, `outrigger-sentry issuer ${label}`],
  ]);
  const t: Template = { subject, publicKey, ...window(v), isCa: true, uris: [], dnsNames: [] };
  return { certPem: signCertificate(t, signerOf(root)), keyPem: keyPem(privateKey) };
}

/** A leaf SVID for `publicKey` with the SPIFFE id as its one URI SAN. */
export function newSvid(
  issuer: CertKeyPair,
  publicKey: KeyObject,
  spiffeId: string,
  v: Validity,
  dnsNames: string[] = [],
): string {
  const t: Template = { subject: seq(), publicKey, ...window(v), isCa: false, uris: [spiffeId], dnsNames };
  return signCertificate(t, signerOf(issuer));
}

/** A fresh key with an SVID for it (Sentry's own serving identity). */
export function newServingSvid(
  issuer: CertKeyPair,
  spiffeId: string,
  dnsNames: string[],
  v: Validity,
): CertKeyPair {
  const { publicKey, privateKey } = ed25519Pair();
  return { certPem: newSvid(issuer, publicKey, spiffeId, v, dnsNames), keyPem: keyPem(privateKey) };
}

// ---- reading certificates ------------------------------------------------------------------

export interface CertificateInfo {
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprint, to compare certificates. */
  fingerprint: string;
  uris: string[];
}

export function certificateInfo(pem: string): CertificateInfo | undefined {
  try {
    const c = new X509Certificate(pem);
    const uris = (c.subjectAltName ?? "")
      .split(", ")
      .flatMap((s) => (s.startsWith("URI:") ? [s.slice(4)] : []));
    return {
      notBefore: new Date(c.validFrom),
      notAfter: new Date(c.validTo),
      fingerprint: c.fingerprint256,
      uris,
    };
  } catch {
    return undefined;
  }
}

/** Whether `pair`'s key belongs to its certificate and, when given, `issuerPem` signed it. */
export function pairIsSound(pair: CertKeyPair, issuerPem?: string): boolean {
  try {
    const cert = new X509Certificate(pair.certPem);
    const pub = createPublicKey(createPrivateKey(pair.keyPem));
    if (!pub.equals(cert.publicKey)) return false;
    if (issuerPem === undefined) return cert.verify(cert.publicKey);
    const issuer = new X509Certificate(issuerPem);
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** The PEM certificates in a bundle, in order; blocks Node cannot read are dropped. */
export function splitPem(bundle: string): string[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? []).flatMap(
    (p) => (certificateInfo(p) ? [p.endsWith("\n") ? p : `${p}\n`] : []),
  );
}
