import { X509Certificate } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { expect } from "chai";
import pino from "pino";
import { Registry } from "prom-client";
import { rotateCa } from "./ca.ts";
import { ed25519Csr } from "./csr.testing.ts";
import { createSentryMetrics } from "./metrics.ts";
import { SENTRY_PROTO, signCertificate, startSentryServer, type SignDeps } from "./service.ts";
import { newServingSvid } from "./x509.ts";

const sentryId = "spiffe://cluster.local/ns/outrigger-system/dapr-sentry";
// Whole seconds (certificates have no more); real time, since the TLS test verifies the chain now.
const now = new Date(Math.floor(Date.now() / 1000) * 1000);
const ca = rotateCa({}, now, {
  trustDomain: "cluster.local",
  sentryId,
  rootValidityMs: 1000 * 3_600_000,
  issuerValidityMs: 100 * 3_600_000,
  skewMs: 0,
  minPublishedMs: 0,
}).ca;

function deps(registry = new Registry()): SignDeps {
  return {
    policy: { trustDomain: "cluster.local", audience: sentryId },
    reviewToken: async () => ({
      authenticated: true,
      username: "system:serviceaccount:shop:default",
      audiences: [sentryId],
      podName: "checkout-1",
      podUid: "u1",
    }),
    readPod: async (namespace, name) => ({
      namespace,
      name,
      uid: "u1",
      annotations: { "dapr.io/app-id": "checkout" },
    }),
    ca: () => ({ issuer: ca.issuer, trustBundlePem: ca.trustBundlePem }),
    now: () => now,
    workloadTtlMs: 24 * 3_600_000,
    skewMs: 15 * 60_000,
    metrics: createSentryMetrics(registry),
    log: pino({ level: "silent" }),
  };
}
const request = (id: string) => ({
  id,
  token: "t",
  trustDomain: "",
  namespace: "shop",
  csr: ed25519Csr().csr,
  tokenValidator: "JWKS",
});

describe("sentry service", function () {
  it("answers with the SVID and the issuer as the chain, the bundle as trust anchors, and its expiry", async function () {
    const out = await signCertificate(request("checkout"), deps());
    expect(out.ok).to.equal(true);
    if (!out.ok) return;
    const pems = out.response.workloadCertificate
      .toString()
      .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!;
    expect(pems).to.have.length(2);
    expect(new X509Certificate(pems[0]!).subjectAltName).to.equal(
      "URI:spiffe://cluster.local/ns/shop/checkout",
    );
    expect(new X509Certificate(pems[1]!).fingerprint256).to.equal(
      new X509Certificate(ca.issuer.certPem).fingerprint256,
    );
    expect(out.response.trustChainCertificates.map(String)).to.deep.equal([ca.trustBundlePem]);
    expect(out.response.validUntil.seconds).to.equal(now.getTime() / 1000 + 24 * 3600);
  });

  it("refuses with a gRPC code and a message that starts with the reason, and counts it", async function () {
    const registry = new Registry();
    const out = await signCertificate(request("frontend"), deps(registry));
    expect(out).to.include({ ok: false, code: grpc.status.PERMISSION_DENIED, reason: "app-id-mismatch" });
    expect(await registry.getSingleMetricAsString("outrigger_sentry_sign_rejections_total")).to.contain(
      'outrigger_sentry_sign_rejections_total{reason="app-id-mismatch"} 1',
    );
  });

  it("says UNAVAILABLE, not a refusal, when the TokenReview call fails", async function () {
    const d = { ...deps(), reviewToken: () => Promise.reject(new Error("connection refused")) };
    expect(await signCertificate(request("checkout"), d)).to.include({
      ok: false,
      code: grpc.status.UNAVAILABLE,
    });
  });

  it("serves over TLS with its SVID, verifiable against the bundle, and swaps the SVID without a restart", async function () {
    const serving = (id: string) => {
      const s = newServingSvid(ca.issuer, id, [], { now: new Date(), validityMs: 3_600_000, skewMs: 0 });
      return { certPem: s.certPem + ca.issuer.certPem, keyPem: s.keyPem };
    };
    const server = await startSentryServer({
      host: "127.0.0.1",
      port: 0,
      certificate: serving(sentryId),
      deps: { ...deps(), now: () => new Date() },
    });
    const def = protoLoader.loadSync(SENTRY_PROTO, { keepCase: false, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      dapr: { proto: { sentry: { v1: { CA: new (a: string, c: grpc.ChannelCredentials) => grpc.Client } } } };
    };
    const seen: string[] = [];
    const call = () => {
      const creds = grpc.credentials.createSsl(Buffer.from(ca.trustBundlePem), null, null, {
        checkServerIdentity: (_h, cert) => {
          seen.push(cert.subjectaltname ?? "");
          return undefined;
        },
      });
      const client = new pkg.dapr.proto.sentry.v1.CA(`127.0.0.1:${server.port}`, creds) as grpc.Client & {
        signCertificate(
          r: object,
          cb: (e: grpc.ServiceError | null, r?: { workloadCertificate: Buffer }) => void,
        ): void;
      };
      const r = request("checkout");
      return new Promise<Buffer>((resolve, reject) =>
        client.signCertificate({ ...r, certificateSigningRequest: r.csr }, (e, res) => {
          client.close();
          if (e) reject(e);
          else resolve(res!.workloadCertificate);
        }),
      );
    };
    try {
      expect((await call()).toString()).to.contain("-----BEGIN CERTIFICATE-----");
      server.setCertificate(serving("spiffe://cluster.local/ns/outrigger-system/renewed"));
      await call();
      expect(seen).to.deep.equal([
        `URI:${sentryId}`,
        "URI:spiffe://cluster.local/ns/outrigger-system/renewed",
      ]);
    } finally {
      await server.close();
    }
  });
});
