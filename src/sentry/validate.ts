// Whether a SignCertificate request gets an SVID, as pure functions: first the request alone
// (sizes, validator, CSR; no API call is made for a request that fails here), then the request
// with what the API server said about its token (TokenReview) and the pod the token is bound to.
// Every refusal has a reason from a closed set; the reasons are the metric's label values.
import type { KeyObject } from "node:crypto";
import { annotations } from "../sidecar/annotations.ts";
import { defaultAppId } from "../sidecar/resolve.ts";
import { parseCsr } from "./x509.ts";

export const REJECTION_REASONS = [
  "oversized-request",
  "unsupported-validator",
  "malformed-csr",
  "trust-domain-mismatch",
  "invalid-token",
  "wrong-audience",
  "expired-token",
  "namespace-mismatch",
  "pod-not-bound",
  "unknown-pod",
  "app-id-mismatch",
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface Rejection {
  ok: false;
  reason: RejectionReason;
  message: string;
}

/** The fields of dapr.proto.sentry.v1.SignCertificateRequest that are read. */
export interface SignRequest {
  id: string;
  token: string;
  trustDomain: string;
  namespace: string;
  csr: Buffer;
  /** The enum's name as proto-loader gives it. */
  tokenValidator: string;
}

export interface ValidationPolicy {
  trustDomain: string;
  /** The audience Outrigger's projected tokens carry. */
  audience: string;
}

/** Upper bounds per field: an Ed25519 CSR is ~250 bytes, a projected token ~1-2 KiB. */
export const LIMITS = { csrBytes: 16_384, tokenBytes: 16_384, idChars: 253, namespaceChars: 63 } as const;

/** daprd names JWKS (token file) or KUBERNETES; both are service-account tokens for TokenReview. */
const ACCEPTED_VALIDATORS = ["JWKS", "KUBERNETES"];

const reject = (reason: RejectionReason, message: string): Rejection => ({ ok: false, reason, message });

/** The request on its own: the CSR's key, or why the request is refused before any API call. */
export function checkRequest(
  req: SignRequest,
  policy: ValidationPolicy,
): { ok: true; publicKey: KeyObject } | Rejection {
  const over: string[] = [];
  if (req.csr.length > LIMITS.csrBytes)
    over.push(`certificate_signing_request is ${req.csr.length} bytes (max ${LIMITS.csrBytes})`);
  if (req.token.length > LIMITS.tokenBytes)
    over.push(`token is ${req.token.length} bytes (max ${LIMITS.tokenBytes})`);
  if (req.id.length > LIMITS.idChars) over.push(`id is ${req.id.length} characters (max ${LIMITS.idChars})`);
  if (req.namespace.length > LIMITS.namespaceChars)
    over.push(`namespace is ${req.namespace.length} characters (max ${LIMITS.namespaceChars})`);
  if (over.length > 0) return reject("oversized-request", over.join("; "));
  if (!ACCEPTED_VALIDATORS.includes(req.tokenValidator))
    return reject(
      "unsupported-validator",
      `token_validator ${req.tokenValidator} is not served: send a projected service-account token as JWKS or KUBERNETES`,
    );
  if (req.trustDomain !== "" && req.trustDomain !== policy.trustDomain)
    return reject(
      "trust-domain-mismatch",
      `trust_domain ${JSON.stringify(req.trustDomain)} is not this CA's trust domain ${JSON.stringify(policy.trustDomain)}`,
    );
  if (req.id === "")
    return reject("app-id-mismatch", "id is empty: the request must name the app-id it asks for");
  const csr = parseCsr(req.csr);
  if (!csr.ok) return reject("malformed-csr", `certificate_signing_request: ${csr.problem}`);
  return { ok: true, publicKey: csr.publicKey };
}

/** What the API server's TokenReview said, reduced to what the decision reads. */
export interface TokenReviewOutcome {
  authenticated: boolean;
  /** `system:serviceaccount:<namespace>:<name>` for service-account tokens. */
  username?: string;
  /** The audiences the token was accepted for (the intersection with the ones asked about). */
  audiences?: string[];
  /** From `extra`: the pod a bound token belongs to. */
  podName?: string;
  podUid?: string;
  error?: string;
}

/** The pod a token is bound to, as read from the API server (undefined: not found). */
export interface BoundPod {
  name: string;
  namespace: string;
  uid: string;
  annotations: Record<string, string>;
}

/** The claims of a JWT, not verified: only to say why the API server refused a token. */
export function unverifiedClaims(token: string): { aud: string[]; exp?: number } | undefined {
  try {
    const part = token.split(".")[1];
    if (part === undefined) return undefined;
    const c = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as { aud?: unknown; exp?: unknown };
    const aud =
      typeof c.aud === "string"
        ? [c.aud]
        : Array.isArray(c.aud)
          ? c.aud.filter((a) => typeof a === "string")
          : [];
    return { aud, ...(typeof c.exp === "number" ? { exp: c.exp } : {}) };
  } catch {
    return undefined;
  }
}

/** The app-id a pod may hold: its dapr.io/app-id, or its name when that is not set. */
export function podAppId(pod: BoundPod): string | undefined {
  const annotated = pod.annotations[annotations.appId.key];
  if (annotated !== undefined) return annotated;
  const d = defaultAppId(pod.name);
  return d.kind === "ok" ? d.appId : undefined;
}

const SA_PREFIX = "system:serviceaccount:";

/** The identity a request may get, given its token's review and the pod the token is bound to. */
export function decideIdentity(
  req: SignRequest,
  review: TokenReviewOutcome,
  pod: BoundPod | undefined,
  policy: ValidationPolicy,
  now: Date,
): { ok: true; spiffeId: string } | Rejection {
  if (!review.authenticated) {
    const claims = unverifiedClaims(req.token);
    const why = review.error ? `: ${review.error}` : "";
    if (claims && !claims.aud.includes(policy.audience))
      return reject(
        "wrong-audience",
        `the token's audiences ${JSON.stringify(claims.aud)} do not include ${JSON.stringify(policy.audience)}${why}`,
      );
    if (claims?.exp !== undefined && claims.exp * 1000 <= now.getTime())
      return reject(
        "expired-token",
        `the token expired at ${new Date(claims.exp * 1000).toISOString()}${why}`,
      );
    return reject("invalid-token", `the API server did not accept the token${why}`);
  }
  if (!(review.audiences ?? []).includes(policy.audience))
    return reject(
      "wrong-audience",
      `the token is not valid for the audience ${JSON.stringify(policy.audience)}`,
    );
  const user = review.username ?? "";
  const [tokenNamespace, serviceAccount] = user.startsWith(SA_PREFIX)
    ? user.slice(SA_PREFIX.length).split(":")
    : [];
  if (!tokenNamespace || !serviceAccount)
    return reject("invalid-token", `the token is not a service-account token (user ${JSON.stringify(user)})`);
  if (tokenNamespace !== req.namespace)
    return reject(
      "namespace-mismatch",
      `namespace ${JSON.stringify(req.namespace)} is not the token's namespace ${JSON.stringify(tokenNamespace)}`,
    );
  if (!review.podName || !review.podUid)
    return reject(
      "pod-not-bound",
      "the token is not bound to a pod: mount a projected service-account token",
    );
  if (!pod || pod.uid !== review.podUid || pod.namespace !== tokenNamespace)
    return reject(
      "unknown-pod",
      `the token's pod ${tokenNamespace}/${review.podName} (uid ${review.podUid}) does not exist`,
    );
  const allowed = podAppId(pod);
  if (allowed !== req.id)
    return reject(
      "app-id-mismatch",
      `pod ${tokenNamespace}/${pod.name} has app-id ${JSON.stringify(allowed ?? "(none)")}, not ${JSON.stringify(req.id)}`,
    );
  return { ok: true, spiffeId: `spiffe://${policy.trustDomain}/ns/${tokenNamespace}/${req.id}` };
}
