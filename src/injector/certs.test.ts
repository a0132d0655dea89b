import { expect } from "chai";
import forge from "node-forge";
import {
  LOOPBACK_HOSTS,
  certificateTimes,
  generateCa,
  generateServingCertificate,
  isSignedBy,
  parseDuration,
  promotionTime,
  renewalReason,
  renewalTime,
  rotateCertificates,
  serviceDnsNames,
  splitPemBundle,
  subjectAltNames,
  type CertificatePolicy,
  type StoredCertificates,
} from "./certs.ts";

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;
const t0 = new Date("2026-01-01T00:00:00Z");
const at = (ms: number) => new Date(t0.getTime() + ms);

const policy: CertificatePolicy = {
  dnsNames: [...serviceDnsNames("outrigger-injector", "outrigger-system"), ...LOOPBACK_HOSTS.dnsNames],
  ipAddresses: [...LOOPBACK_HOSTS.ipAddresses],
  caCommonName: "outrigger-injector-ca",
  caValidityMs: 10 * YEAR,
  servingValidityMs: YEAR,
};

function verifiesChain(caPems: string[], certPem: string, now: Date): boolean {
  const store = forge.pki.createCaStore(caPems);
  try {
    return forge.pki.verifyCertificateChain(store, [forge.pki.certificateFromPem(certPem)], {
      validityCheckDate: now,
    });
  } catch {
    return false;
  }
}

describe("renewalReason", function () {
  const cert = { notBefore: t0, notAfter: at(YEAR) };

  it("keeps a certificate before two thirds of its lifetime", function () {
    expect(renewalReason(cert, t0)).to.equal(undefined);
    expect(renewalReason(cert, at(YEAR / 2))).to.equal(undefined);
    expect(renewalReason(cert, at((YEAR * 2) / 3 - SECOND))).to.equal(undefined);
  });

  it("renews from two thirds of its lifetime until expiry", function () {
    expect(renewalTime(cert)).to.deep.equal(at(Math.floor((YEAR * 2) / 3)));
    expect(renewalReason(cert, at((YEAR * 2) / 3))).to.equal("renewal-due");
    expect(renewalReason(cert, at(YEAR - SECOND))).to.equal("renewal-due");
  });

  it("reports expiry at notAfter and years later", function () {
    expect(renewalReason(cert, at(YEAR))).to.equal("expired");
    expect(renewalReason(cert, at(50 * YEAR))).to.equal("expired");
  });

  it("tolerates a little clock skew but not a certificate from the future", function () {
    expect(renewalReason(cert, at(-2 * 60 * SECOND))).to.equal(undefined);
    expect(renewalReason(cert, at(-DAY))).to.equal("not-yet-valid");
    expect(renewalReason(cert, at(-10 * YEAR))).to.equal("not-yet-valid");
  });
});

describe("certificate generation", function () {
  const ca = generateCa("test-ca", t0, 10 * YEAR);
  const serving = generateServingCertificate(ca, policy, t0, YEAR);

  it("makes a self-signed CA limited to signing certificates", function () {
    const cert = forge.pki.certificateFromPem(ca.certPem);
    expect(cert.verify(cert)).to.equal(true);
    expect(cert.getExtension("basicConstraints")).to.include({ cA: true, critical: true });
    expect(cert.getExtension("keyUsage")).to.include({ keyCertSign: true });
    expect(cert.validity.notAfter.getTime()).to.equal(t0.getTime() + 10 * YEAR);
    expect(cert.validity.notBefore.getTime()).to.equal(t0.getTime() - 60 * SECOND);
  });

  it("puts the Service names, localhost and 127.0.0.1 into the serving certificate", function () {
    expect(subjectAltNames(serving.certPem)).to.deep.equal({
      dnsNames: [
        "localhost",
        "outrigger-injector",
        "outrigger-injector.outrigger-system",
        "outrigger-injector.outrigger-system.svc",
        "outrigger-injector.outrigger-system.svc.cluster.local",
      ],
      ipAddresses: ["127.0.0.1", "::1"],
    });
    const cert = forge.pki.certificateFromPem(serving.certPem);
    expect(cert.getExtension("extKeyUsage")).to.include({ serverAuth: true });
    expect(cert.getExtension("basicConstraints")).to.include({ cA: false });
  });

  it("chains the serving certificate to its CA and to no other", function () {
    expect(verifiesChain([ca.certPem], serving.certPem, at(DAY))).to.equal(true);
    expect(isSignedBy(serving.certPem, ca.certPem)).to.equal(true);
    const other = generateCa("test-ca", t0, 10 * YEAR);
    expect(verifiesChain([other.certPem], serving.certPem, at(DAY))).to.equal(false);
    expect(isSignedBy(serving.certPem, other.certPem)).to.equal(false);
    expect(verifiesChain([ca.certPem], serving.certPem, at(2 * YEAR))).to.equal(false);
  });

  it("never lets a serving certificate outlive its CA", function () {
    const shortCa = generateCa("short", t0, 30 * DAY);
    const clamped = generateServingCertificate(shortCa, policy, at(20 * DAY), YEAR);
    expect(certificateTimes(clamped.certPem)?.notAfter).to.deep.equal(at(30 * DAY));
  });

  it("uses positive serial numbers with a minimal DER encoding", function () {
    for (let i = 0; i < 5; i++) {
      const serial = forge.pki.certificateFromPem(generateCa("s", t0, DAY).certPem).serialNumber;
      expect(serial).to.match(/^[1-7][0-9a-f]{31}$/);
    }
  });
});

describe("rotateCertificates", function () {
  it("creates a CA, a bundle and a serving certificate from nothing", function () {
    const r = rotateCertificates(undefined, t0, policy);
    expect(r.changes).to.deep.equal([
      { certificate: "ca", reason: "missing" },
      { certificate: "serving", reason: "missing" },
    ]);
    expect(splitPemBundle(r.certificates.caBundlePem)).to.deep.equal([r.certificates.ca.certPem]);
    expect(verifiesChain([r.certificates.ca.certPem], r.certificates.serving.certPem, t0)).to.equal(true);
    expect(r.nextCheckAt).to.deep.equal(renewalTime(certificateTimes(r.certificates.serving.certPem)!));
  });

  it("changes nothing while everything is fresh", function () {
    const first = rotateCertificates(undefined, t0, policy);
    const again = rotateCertificates(first.certificates, at(30 * DAY), policy);
    expect(again.changes).to.deep.equal([]);
    expect(again.certificates).to.deep.equal(first.certificates);
  });

  it("renews the serving certificate at two thirds and keeps the CA", function () {
    const first = rotateCertificates(undefined, t0, policy);
    const later = rotateCertificates(first.certificates, at(250 * DAY), policy);
    expect(later.changes).to.deep.equal([{ certificate: "serving", reason: "renewal-due" }]);
    expect(later.certificates.ca).to.deep.equal(first.certificates.ca);
    expect(later.certificates.caBundlePem).to.equal(first.certificates.caBundlePem);
    expect(isSignedBy(later.certificates.serving.certPem, first.certificates.ca.certPem)).to.equal(true);
  });

  it("replaces an expired serving certificate after years of downtime", function () {
    const first = rotateCertificates(undefined, t0, policy);
    const later = rotateCertificates(first.certificates, at(3 * YEAR), policy);
    expect(later.changes).to.deep.equal([{ certificate: "serving", reason: "expired" }]);
    expect(later.certificates.ca).to.deep.equal(first.certificates.ca);
  });

  it("publishes a successor CA at two thirds of the CA lifetime, then promotes it", function () {
    const first = rotateCertificates(undefined, t0, policy);
    const oldCa = first.certificates.ca.certPem;
    // 6.8 years: the CA is due; the serving certificate (issued now) too.
    const published = rotateCertificates(first.certificates, at(6.8 * YEAR), policy);
    expect(published.changes).to.deep.include({ certificate: "next-ca", reason: "renewal-due" });
    const next = published.certificates.nextCa!.certPem;
    expect(splitPemBundle(published.certificates.caBundlePem)).to.deep.equal([oldCa, next]);
    expect(published.certificates.ca.certPem).to.equal(oldCa);
    // The new serving certificate still comes from the CA the API server already trusts.
    expect(isSignedBy(published.certificates.serving.certPem, oldCa)).to.equal(true);

    const promoteAt = promotionTime(certificateTimes(oldCa)!, certificateTimes(next)!);
    expect(promoteAt.getTime()).to.be.greaterThan(at(6.8 * YEAR).getTime());
    // Just before promotion the serving certificate is still from the old CA.
    const before = rotateCertificates(published.certificates, new Date(promoteAt.getTime() - HOUR), policy);
    expect(before.certificates.ca.certPem).to.equal(oldCa);
    expect(isSignedBy(before.certificates.serving.certPem, oldCa)).to.equal(true);
    const promoted = rotateCertificates(before.certificates, promoteAt, policy);
    expect(promoted.changes).to.deep.equal([
      { certificate: "ca", reason: "successor-promoted" },
      { certificate: "serving", reason: "issuer-changed" },
    ]);
    expect(promoted.certificates.ca.certPem).to.equal(next);
    expect(promoted.certificates.nextCa).to.equal(undefined);
    // The old CA stays trusted for replicas still serving a certificate it signed.
    expect(splitPemBundle(promoted.certificates.caBundlePem)).to.have.members([oldCa, next]);
    expect(isSignedBy(promoted.certificates.serving.certPem, next)).to.equal(true);

    // Once the old CA has expired it leaves the bundle.
    const pruned = rotateCertificates(promoted.certificates, at(10 * YEAR + DAY), policy);
    expect(pruned.changes).to.deep.include({ certificate: "bundle", reason: "bundle-changed" });
    expect(splitPemBundle(pruned.certificates.caBundlePem)).to.deep.equal([next]);
  });

  it("does not promote a successor the moment it is published", function () {
    const first = rotateCertificates(undefined, t0, policy);
    // Down until 9.9 years: past five sixths, so only the publication grace holds promotion back.
    const late = rotateCertificates(first.certificates, at(9.9 * YEAR), policy);
    expect(late.certificates.nextCa).to.not.equal(undefined);
    expect(late.certificates.ca.certPem).to.equal(first.certificates.ca.certPem);
    const soon = rotateCertificates(late.certificates, at(9.9 * YEAR + SECOND), policy);
    expect(soon.changes).to.deep.equal([]);
    expect(soon.nextCheckAt.getTime()).to.be.at.most(at(9.9 * YEAR + 10 * 60 * SECOND).getTime());
  });

  it("promotes the successor when the CA expires, and starts over when both have", function () {
    const first = rotateCertificates(undefined, t0, policy);
    const published = rotateCertificates(first.certificates, at(7 * YEAR), policy);
    const expired = rotateCertificates(published.certificates, at(10 * YEAR + HOUR), policy);
    expect(expired.changes[0]).to.deep.equal({ certificate: "ca", reason: "successor-promoted" });
    expect(expired.certificates.ca.certPem).to.equal(published.certificates.nextCa!.certPem);

    const century = rotateCertificates(published.certificates, at(100 * YEAR), policy);
    expect(century.changes).to.deep.equal([
      { certificate: "ca", reason: "expired" },
      { certificate: "serving", reason: "expired" },
    ]);
    expect(splitPemBundle(century.certificates.caBundlePem)).to.deep.equal([century.certificates.ca.certPem]);
    expect(
      verifiesChain([century.certificates.ca.certPem], century.certificates.serving.certPem, at(100 * YEAR)),
    ).to.equal(true);
  });

  it("replaces unreadable or mismatched material", function () {
    const first = rotateCertificates(undefined, t0, policy);
    const garbage: StoredCertificates = { ...first.certificates, ca: { certPem: "nope", keyPem: "nope" } };
    expect(rotateCertificates(garbage, t0, policy).changes[0]).to.deep.equal({
      certificate: "ca",
      reason: "invalid",
    });
    const otherKey = generateCa("x", t0, YEAR).keyPem;
    const mismatched = {
      ...first.certificates,
      serving: { ...first.certificates.serving, keyPem: otherKey },
    };
    expect(rotateCertificates(mismatched, t0, policy).changes).to.deep.equal([
      { certificate: "serving", reason: "invalid" },
    ]);
  });

  it("does not reissue for another spelling of the same IPv6 address", function () {
    const first = rotateCertificates(undefined, t0, policy);
    const respelt = { ...policy, ipAddresses: ["127.0.0.1", "0:0:0:0:0:0:0:1"] };
    expect(rotateCertificates(first.certificates, at(DAY), respelt).changes).to.deep.equal([]);
  });

  it("reissues the serving certificate when the Service name changes", function () {
    const first = rotateCertificates(undefined, t0, policy);
    const renamed = { ...policy, dnsNames: serviceDnsNames("injector", "dapr") };
    const r = rotateCertificates(first.certificates, at(DAY), renamed);
    expect(r.changes).to.deep.equal([{ certificate: "serving", reason: "hosts-changed" }]);
    expect(subjectAltNames(r.certificates.serving.certPem).dnsNames).to.include("injector.dapr.svc");
  });

  // Runs the rotation at every requested check (plus jitter) for years and checks what the API
  // server sees: the serving certificate always chains to a CA that was published before.
  for (const [name, p, horizon] of [
    ["10y CA, 1y serving certificates, 20 years", policy, 20 * YEAR],
    [
      "2m CA, 30s serving certificates, 6 minutes",
      { ...policy, caValidityMs: 120_000, servingValidityMs: 30_000 },
      6 * 60_000,
    ],
  ] as const) {
    it(`never serves a certificate the published bundle does not trust (${name})`, function () {
      this.timeout(60_000);
      let state = rotateCertificates(undefined, t0, p);
      let published = state.certificates.caBundlePem;
      let now = t0.getTime();
      let steps = 0;
      let caChanges = 0;
      while (now < t0.getTime() + horizon) {
        const wait = state.nextCheckAt.getTime() - now;
        expect(wait, "the next check lies in the future").to.be.greaterThan(0);
        now += wait + Math.floor(((wait / 7) * ((steps * 7919) % 5)) / 5); // late by up to a fifth of the wait
        const before = state.certificates.serving.certPem;
        state = rotateCertificates(state.certificates, new Date(now), p);
        const serving = state.certificates.serving.certPem;
        if (serving !== before) {
          expect(verifiesChain(splitPemBundle(published), serving, new Date(now)), `step ${steps}`).to.equal(
            true,
          );
        }
        if (state.changes.some((c) => c.certificate === "ca")) caChanges++;
        published = state.certificates.caBundlePem;
        steps++;
      }
      expect(caChanges, "the CA was rotated").to.be.greaterThan(1);
      expect(steps, "no tight renewal loop").to.be.lessThan(200);
    });
  }
});

describe("parseDuration", function () {
  it("reads Go-style durations", function () {
    expect(parseDuration("30s")).to.equal(30_000);
    expect(parseDuration("8760h")).to.equal(YEAR);
    expect(parseDuration("1h30m")).to.equal(90 * 60_000);
    expect(parseDuration("1.5s")).to.equal(1500);
    expect(parseDuration("250ms")).to.equal(250);
  });

  it("rejects anything else", function () {
    for (const bad of ["", "30", "s", "1d", "-5s", "5s ", "1h x"])
      expect(parseDuration(bad), bad).to.equal(undefined);
  });
});
