import { execFileSync } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { ed25519Csr } from "./csr.testing.ts";
import {
  certificateInfo,
  newIssuer,
  newRoot,
  newServingSvid,
  newSvid,
  pairIsSound,
  parseCsr,
  splitPem,
} from "./x509.ts";

const now = new Date("2026-06-01T00:00:00Z");
const v = { now, validityMs: 3_600_000, skewMs: 15 * 60_000 };
const sentryId = "spiffe://cluster.local/ns/outrigger-system/dapr-sentry";

describe("sentry x509", function () {
  const root = newRoot("cluster.local", "a", { ...v, validityMs: 100 * 3_600_000 });
  const issuer = newIssuer(root, sentryId, "a", { ...v, validityMs: 10 * 3_600_000 });

  it("reads the key of an Ed25519 CSR built as daprd builds it", function () {
    const { csr, publicKey } = ed25519Csr();
    const parsed = parseCsr(csr);
    expect(parsed.ok).to.equal(true);
    if (parsed.ok) expect(parsed.publicKey.equals(publicKey)).to.equal(true);
  });

  it("reads a CSR made by openssl (ECDSA P-256) and verifies its signature", function () {
    const dir = mkdtempSync(join(tmpdir(), "sentry-csr-"));
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(join(dir, "key.pem"), privateKey.export({ format: "pem", type: "pkcs8" }));
    const csr = execFileSync("openssl", ["req", "-new", "-key", join(dir, "key.pem"), "-subj", "/O=x"]);
    expect(parseCsr(csr).ok).to.equal(true);
  });

  it("refuses a CSR whose signature does not verify, and garbage", function () {
    const bad = parseCsr(ed25519Csr({ corruptSignature: true }).csr);
    expect(bad).to.deep.equal({ ok: false, problem: "the CSR's signature does not verify" });
    expect(parseCsr(Buffer.from("hello")).ok).to.equal(false);
    const truncated = parseCsr(
      Buffer.from("-----BEGIN CERTIFICATE REQUEST-----\nMIIBAAAA\n-----END CERTIFICATE REQUEST-----\n"),
    );
    expect(truncated.ok).to.equal(false);
  });

  it("issues an SVID with one URI SAN, backdated by the skew, that chains to the root (openssl verify)", function () {
    const { publicKey } = generateKeyPairSync("ed25519");
    const id = "spiffe://cluster.local/ns/shop/checkout";
    const leaf = newSvid(issuer, publicKey, id, v);
    const info = certificateInfo(leaf)!;
    expect(info.uris).to.deep.equal([id]);
    expect(info.notBefore.toISOString()).to.equal("2026-05-31T23:45:00.000Z");
    expect(info.notAfter.toISOString()).to.equal("2026-06-01T01:00:00.000Z");
    const c = new X509Certificate(leaf);
    expect(c.ca).to.equal(false);
    expect(c.publicKey.equals(publicKey)).to.equal(true);
    expect(c.checkIssued(new X509Certificate(issuer.certPem))).to.equal(true);
    const dir = mkdtempSync(join(tmpdir(), "sentry-x509-"));
    writeFileSync(join(dir, "root.pem"), root.certPem);
    writeFileSync(join(dir, "issuer.pem"), issuer.certPem);
    writeFileSync(join(dir, "leaf.pem"), leaf);
    const out = execFileSync("openssl", [
      "verify",
      "-attime",
      String(now.getTime() / 1000),
      "-CAfile",
      join(dir, "root.pem"),
      "-untrusted",
      join(dir, "issuer.pem"),
      join(dir, "leaf.pem"),
    ]).toString();
    expect(out).to.contain("OK");
    const text = execFileSync("openssl", [
      "x509",
      "-in",
      join(dir, "leaf.pem"),
      "-noout",
      "-text",
    ]).toString();
    expect(text).to.match(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).to.contain("TLS Web Server Authentication, TLS Web Client Authentication");
    expect(text).to.match(
      /Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster.local\/ns\/shop\/checkout/,
    );
  });

  it("makes CA certificates that are CAs, self-consistent, and tells roots apart", function () {
    expect(new X509Certificate(root.certPem).ca).to.equal(true);
    expect(new X509Certificate(issuer.certPem).ca).to.equal(true);
    expect(pairIsSound(root)).to.equal(true);
    expect(pairIsSound(issuer, root.certPem)).to.equal(true);
    const other = newRoot("cluster.local", "b", v);
    expect(pairIsSound(issuer, other.certPem)).to.equal(false);
    expect(pairIsSound({ certPem: root.certPem, keyPem: other.keyPem })).to.equal(false);
  });

  it("gives Sentry's serving SVID its SPIFFE id and DNS names", function () {
    const s = newServingSvid(issuer, sentryId, ["outrigger-sentry.outrigger-system.svc"], v);
    expect(new X509Certificate(s.certPem).subjectAltName).to.equal(
      `URI:${sentryId}, DNS:outrigger-sentry.outrigger-system.svc`,
    );
    expect(pairIsSound(s, issuer.certPem)).to.equal(true);
  });

  it("splits a PEM bundle and drops unreadable blocks", function () {
    const junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    expect(splitPem(root.certPem + junk + issuer.certPem)).to.deep.equal([root.certPem, issuer.certPem]);
  });
});
