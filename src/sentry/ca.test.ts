import { expect } from "chai";
import { rotateCa, type CaPolicy, type StoredCa } from "./ca.ts";
import { certificateInfo, pairIsSound, splitPem } from "./x509.ts";

const HOUR = 3_600_000;
const policy: CaPolicy = {
  trustDomain: "cluster.local",
  sentryId: "spiffe://cluster.local/ns/outrigger-system/dapr-sentry",
  rootValidityMs: 300 * HOUR,
  issuerValidityMs: 30 * HOUR,
  skewMs: 0,
  minPublishedMs: 10 * HOUR,
};
const t0 = new Date("2026-06-01T00:00:00Z");
const at = (hours: number) => new Date(t0.getTime() + hours * HOUR);
const fp = (pem: string) => certificateInfo(pem)!.fingerprint;

describe("sentry CA rotation", function () {
  it("creates a root, an issuer it signed, and a bundle of the root from nothing", function () {
    const r = rotateCa({}, t0, policy);
    expect(r.changes.map((c) => `${c.certificate}:${c.reason}`)).to.deep.equal([
      "root:missing",
      "issuer:missing",
      "bundle:bundle-changed",
    ]);
    expect(pairIsSound(r.ca.issuer, r.ca.root.certPem)).to.equal(true);
    expect(r.ca.trustBundlePem).to.equal(r.ca.root.certPem);
    expect(r.nextCheckAt).to.deep.equal(at(20)); // the issuer at two thirds
  });

  it("changes nothing when run again at the same time (converges)", function () {
    const first = rotateCa({}, t0, policy).ca;
    const again = rotateCa(first, at(1), policy);
    expect(again.changes).to.deep.equal([]);
    expect(again.ca).to.deep.equal(first);
  });

  it("renews the issuer at two thirds under the same root", function () {
    const first = rotateCa({}, t0, policy).ca;
    const r = rotateCa(first, at(20), policy);
    expect(r.changes.map((c) => `${c.certificate}:${c.reason}`)).to.deep.equal(["issuer:renewal-due"]);
    expect(r.ca.root).to.deep.equal(first.root);
    expect(pairIsSound(r.ca.issuer, first.root.certPem)).to.equal(true);
  });

  it("stages a root: published at two thirds, signing at five sixths, the old root trusted until it expires", function () {
    let ca: StoredCa = rotateCa({}, t0, policy).ca;
    const oldRoot = ca.root!;
    // Keep the issuer fresh along the way, as the running loop does.
    for (let h = 20; h < 200; h += 20) ca = rotateCa(ca, at(h), policy).ca;
    const staged = rotateCa(ca, at(200), policy);
    expect(staged.changes.map((c) => `${c.certificate}:${c.reason}`)).to.include("next-root:renewal-due");
    expect(staged.ca.root).to.deep.equal(oldRoot);
    expect(splitPem(staged.ca.trustBundlePem).map(fp)).to.deep.equal([
      fp(oldRoot.certPem),
      fp(staged.ca.nextRoot!.certPem),
    ]);
    // Trusted but not signing: the issuer still chains to the old root.
    expect(pairIsSound(staged.ca.issuer, oldRoot.certPem)).to.equal(true);
    expect(
      rotateCa(staged.ca, at(249), policy).changes.some((c) => c.reason === "successor-promoted"),
    ).to.equal(false);

    const promoted = rotateCa(staged.ca, at(250), policy);
    const next = staged.ca.nextRoot!;
    expect(promoted.changes.map((c) => `${c.certificate}:${c.reason}`)).to.include.members([
      "root:successor-promoted",
      "issuer:issuer-changed",
    ]);
    expect(promoted.ca.root).to.deep.equal(next);
    expect(promoted.ca.nextRoot).to.equal(undefined);
    expect(pairIsSound(promoted.ca.issuer, next.certPem)).to.equal(true);
    expect(splitPem(promoted.ca.trustBundlePem).map(fp)).to.deep.equal([
      fp(next.certPem),
      fp(oldRoot.certPem),
    ]);

    const expired = rotateCa(promoted.ca, at(300), policy);
    expect(splitPem(expired.ca.trustBundlePem).map(fp)).to.deep.equal([fp(next.certPem)]);
  });

  it("waits for the publish period even when five sixths has passed", function () {
    const ca = rotateCa({}, t0, { ...policy, issuerValidityMs: 300 * HOUR }).ca;
    const staged = rotateCa(ca, at(260), { ...policy, issuerValidityMs: 300 * HOUR }).ca;
    expect(staged.nextRoot).to.not.equal(undefined);
    expect(rotateCa(staged, at(269), policy).changes.some((c) => c.reason === "successor-promoted")).to.equal(
      false,
    );
    expect(rotateCa(staged, at(270), policy).changes.some((c) => c.reason === "successor-promoted")).to.equal(
      true,
    );
  });

  it("replaces a root whose key does not match, and drops what it published", function () {
    const a = rotateCa({}, t0, policy).ca;
    const b = rotateCa({}, t0, policy).ca;
    const r = rotateCa({ ...a, root: { certPem: a.root.certPem, keyPem: b.root.keyPem } }, at(1), policy);
    expect(r.changes[0]).to.deep.equal({ certificate: "root", reason: "invalid" });
    expect(splitPem(r.ca.trustBundlePem).map(fp)).to.deep.equal([fp(r.ca.root.certPem)]);
  });
});
