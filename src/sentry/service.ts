// The gRPC shell of Sentry: dapr.proto.sentry.v1.CA/SignCertificate over TLS with a serving SVID
// that can be swapped without a restart. The decision is validate.ts's; this module does the
// calls in between (TokenReview, the pod) and maps each outcome to a gRPC status.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Logger } from "../shared/log.ts";
import { countRejection, type SentryMetrics } from "./metrics.ts";
import {
  checkRequest,
  decideIdentity,
  type BoundPod,
  type RejectionReason,
  type SignRequest,
  type TokenReviewOutcome,
  type ValidationPolicy,
} from "./validate.ts";
import { certificateInfo, newSvid, type CertKeyPair } from "./x509.ts";

/** proto/ sits next to src/ and dist/ alike. */
export const SENTRY_PROTO = fileURLToPath(
  new URL("../../proto/dapr/proto/sentry/v1/sentry.proto", import.meta.url),
);

/** gRPC's own bound on a request message; the fields have tighter limits (validate.ts LIMITS). */
export const MAX_MESSAGE_BYTES = 256 * 1024;

export interface SigningCa {
  issuer: CertKeyPair;
  trustBundlePem: string;
}

export interface SignDeps {
  policy: ValidationPolicy;
  reviewToken(token: string, audience: string): Promise<TokenReviewOutcome>;
  readPod(namespace: string, name: string): Promise<BoundPod | undefined>;
  /** The CA signing now. */
  ca(): SigningCa;
  now(): Date;
  workloadTtlMs: number;
  skewMs: number;
  metrics: SentryMetrics;
  log: Logger;
}

export interface SignResponse {
  workloadCertificate: Buffer;
  trustChainCertificates: Buffer[];
  validUntil: { seconds: number; nanos: number };
}

export type SignOutcome =
  | { ok: true; response: SignResponse; spiffeId: string }
  | { ok: false; code: grpc.status; message: string; reason?: RejectionReason };

const CODES: Record<RejectionReason, grpc.status> = {
  "oversized-request": grpc.status.INVALID_ARGUMENT,
  "unsupported-validator": grpc.status.INVALID_ARGUMENT,
  "malformed-csr": grpc.status.INVALID_ARGUMENT,
  "trust-domain-mismatch": grpc.status.INVALID_ARGUMENT,
  "invalid-token": grpc.status.UNAUTHENTICATED,
  "wrong-audience": grpc.status.UNAUTHENTICATED,
  "expired-token": grpc.status.UNAUTHENTICATED,
  "namespace-mismatch": grpc.status.PERMISSION_DENIED,
  "pod-not-bound": grpc.status.PERMISSION_DENIED,
  "unknown-pod": grpc.status.PERMISSION_DENIED,
  "app-id-mismatch": grpc.status.PERMISSION_DENIED,
};

/** One SignCertificate: check, review the token, read its pod, decide, sign. */
export async function signCertificate(req: SignRequest, d: SignDeps): Promise<SignOutcome> {
  const refuse = (reason: RejectionReason, message: string): SignOutcome => {
    countRejection(d.metrics, reason);
    d.log.info(
      { reason, namespace: req.namespace.slice(0, 63), id: req.id.slice(0, 253), message },
      "SignCertificate refused",
    );
    return { ok: false, code: CODES[reason], message: `${reason}: ${message}`, reason };
  };
  const checked = checkRequest(req, d.policy);
  if (!checked.ok) return refuse(checked.reason, checked.message);

  let review: TokenReviewOutcome;
  try {
    review = await d.reviewToken(req.token, d.policy.audience);
  } catch (err) {
    d.metrics.errors.inc({ operation: "token-review" });
    d.log.error({ err }, "TokenReview failed");
    return {
      ok: false,
      code: grpc.status.UNAVAILABLE,
      message: "the token could not be reviewed now; retry",
    };
  }
  let pod: BoundPod | undefined;
  if (review.authenticated && review.podName && review.username?.startsWith("system:serviceaccount:")) {
    const ns = review.username.split(":")[2] ?? "";
    try {
      pod = await d.readPod(ns, review.podName);
    } catch (err) {
      d.metrics.errors.inc({ operation: "pod-read" });
      d.log.error({ err }, "reading the token's pod failed");
      return {
        ok: false,
        code: grpc.status.UNAVAILABLE,
        message: "the token's pod could not be read now; retry",
      };
    }
  }
  const decision = decideIdentity(req, review, pod, d.policy, d.now());
  if (!decision.ok) return refuse(decision.reason, decision.message);

  const ca = d.ca();
  const leaf = newSvid(ca.issuer, checked.publicKey, decision.spiffeId, {
    now: d.now(),
    validityMs: d.workloadTtlMs,
    skewMs: d.skewMs,
  });
  const notAfter = certificateInfo(leaf)!.notAfter;
  d.metrics.issued.inc();
  d.log.debug({ spiffeId: decision.spiffeId, notAfter }, "SVID issued");
  return {
    ok: true,
    spiffeId: decision.spiffeId,
    response: {
      workloadCertificate: Buffer.from(leaf + ca.issuer.certPem),
      trustChainCertificates: [Buffer.from(ca.trustBundlePem)],
      validUntil: { seconds: Math.floor(notAfter.getTime() / 1000), nanos: 0 },
    },
  };
}

/** Server credentials whose certificate can be replaced; new handshakes use the new one. */
class RotatingServerCredentials extends grpc.ServerCredentials {
  constructor(pair: CertKeyPair) {
    // Non-null constructor options are what makes grpc-js serve TLS at all.
    super({ requestCert: false }, { key: pair.keyPem, cert: pair.certPem });
  }
  set(pair: CertKeyPair): void {
    this.updateSecureContextOptions({ key: pair.keyPem, cert: pair.certPem });
  }
  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

export interface SentryServer {
  port: number;
  /** Serve this SVID (leaf + issuer chain in certPem) from the next handshake on. */
  setCertificate(pair: CertKeyPair): void;
  close(): Promise<void>;
}

interface RawRequest {
  id?: string;
  token?: string;
  trustDomain?: string;
  namespace?: string;
  certificateSigningRequest?: Buffer;
  tokenValidator?: string;
}

export async function startSentryServer(opts: {
  host: string;
  port: number;
  certificate: CertKeyPair;
  deps: SignDeps;
}): Promise<SentryServer> {
  const definition = protoLoader.loadSync(SENTRY_PROTO, {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    dapr: { proto: { sentry: { v1: { CA: { service: grpc.ServiceDefinition } } } } };
  };
  const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES });
  const handler: grpc.handleUnaryCall<RawRequest, SignResponse> = (call, callback) => {
    const r = call.request;
    const req: SignRequest = {
      id: r.id ?? "",
      token: r.token ?? "",
      trustDomain: r.trustDomain ?? "",
      namespace: r.namespace ?? "",
      csr: r.certificateSigningRequest ?? Buffer.alloc(0),
      tokenValidator: r.tokenValidator ?? "UNKNOWN",
    };
    signCertificate(req, opts.deps).then(
      (out) => (out.ok ? callback(null, out.response) : callback({ code: out.code, details: out.message })),
      (err: unknown) => {
        opts.deps.log.error({ err }, "SignCertificate failed");
        callback({ code: grpc.status.INTERNAL, details: "internal error" });
      },
    );
  };
  server.addService(pkg.dapr.proto.sentry.v1.CA.service, { signCertificate: handler });
  const creds = new RotatingServerCredentials(opts.certificate);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    setCertificate: (pair) => creds.set(pair),
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
