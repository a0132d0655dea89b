import { expect } from "chai";
import { ed25519Csr } from "./csr.testing.ts";
import {
  checkRequest,
  decideIdentity,
  podAppId,
  unverifiedClaims,
  type BoundPod,
  type SignRequest,
  type TokenReviewOutcome,
} from "./validate.ts";

const audience = "spiffe://cluster.local/ns/outrigger-system/dapr-sentry";
const policy = { trustDomain: "cluster.local", audience };
const now = new Date("2026-06-01T00:00:00Z");
const { csr } = ed25519Csr();

function jwt(claims: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256" })}.${part(claims)}.sig`;
}

const request = (over: Partial<SignRequest> = {}): SignRequest => ({
  id: "checkout",
  token: jwt({ aud: [audience], exp: now.getTime() / 1000 + 600 }),
  trustDomain: "",
  namespace: "shop",
  csr,
  tokenValidator: "JWKS",
  ...over,
});
const review = (over: Partial<TokenReviewOutcome> = {}): TokenReviewOutcome => ({
  authenticated: true,
  username: "system:serviceaccount:shop:default",
  audiences: [audience],
  podName: "checkout-7d9f",
  podUid: "uid-1",
  ...over,
});
const pod = (over: Partial<BoundPod> = {}): BoundPod => ({
  name: "checkout-7d9f",
  namespace: "shop",
  uid: "uid-1",
  annotations: { "dapr.io/app-id": "checkout" },
  ...over,
});

describe("sentry validation", function () {
  describe("checkRequest (the request alone)", function () {
    const cases: Array<[string, Partial<SignRequest>, string]> = [
      ["a CSR over 16 KiB", { csr: Buffer.alloc(16_385) }, "oversized-request"],
      ["a token over 16 KiB", { token: "x".repeat(16_385) }, "oversized-request"],
      ["a namespace over 63 characters", { namespace: "n".repeat(64) }, "oversized-request"],
      ["the INSECURE validator", { tokenValidator: "INSECURE" }, "unsupported-validator"],
      ["no validator", { tokenValidator: "UNKNOWN" }, "unsupported-validator"],
      ["another trust domain", { trustDomain: "evil.example" }, "trust-domain-mismatch"],
      ["an empty id", { id: "" }, "app-id-mismatch"],
      ["a CSR that is not PEM", { csr: Buffer.from("nope") }, "malformed-csr"],
      ["a CSR with a bad signature", { csr: ed25519Csr({ corruptSignature: true }).csr }, "malformed-csr"],
    ];
    for (const [name, over, reason] of cases)
      it(`refuses ${name}: ${reason}`, function () {
        const r = checkRequest(request(over), policy);
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(r.reason).to.equal(reason);
      });

    it("accepts a well-formed JWKS or KUBERNETES request with the trust domain empty or ours", function () {
      expect(checkRequest(request(), policy).ok).to.equal(true);
      expect(
        checkRequest(request({ tokenValidator: "KUBERNETES", trustDomain: "cluster.local" }), policy).ok,
      ).to.equal(true);
    });
  });

  describe("decideIdentity (request, token review, pod)", function () {
    const cases: Array<
      [string, Partial<SignRequest>, Partial<TokenReviewOutcome> | null, BoundPod | undefined, string]
    > = [
      [
        "a token for another audience",
        { token: jwt({ aud: ["https://kubernetes.default.svc"], exp: now.getTime() / 1000 + 600 }) },
        { authenticated: false, error: "token audiences ... is invalid" },
        pod(),
        "wrong-audience",
      ],
      [
        "an expired token",
        { token: jwt({ aud: [audience], exp: now.getTime() / 1000 - 1 }) },
        { authenticated: false, error: "service account token has expired" },
        pod(),
        "expired-token",
      ],
      ["a token that is not a JWT", { token: "garbage" }, { authenticated: false }, pod(), "invalid-token"],
      [
        "an authenticated token not valid for our audience",
        {},
        { audiences: ["other"] },
        pod(),
        "wrong-audience",
      ],
      ["a user that is not a service account", {}, { username: "alice" }, pod(), "invalid-token"],
      ["a request for another namespace", { namespace: "other" }, {}, pod(), "namespace-mismatch"],
      ["a token bound to no pod", {}, { podName: undefined, podUid: undefined }, pod(), "pod-not-bound"],
      ["a pod that is gone", {}, {}, undefined, "unknown-pod"],
      ["a pod of the same name with another uid", {}, {}, pod({ uid: "uid-2" }), "unknown-pod"],
      ["another pod's app-id", { id: "frontend" }, {}, pod(), "app-id-mismatch"],
      [
        "the default app-id of another pod",
        { id: "checkout" },
        {},
        pod({ annotations: {} }),
        "app-id-mismatch",
      ],
    ];
    for (const [name, reqOver, reviewOver, p, reason] of cases)
      it(`refuses ${name}: ${reason}`, function () {
        const d = decideIdentity(request(reqOver), review(reviewOver ?? {}), p, policy, now);
        expect(d.ok).to.equal(false);
        if (!d.ok) {
          expect(d.reason).to.equal(reason);
          expect(d.message).to.be.a("string").and.not.equal("");
        }
      });

    it("grants spiffe://<td>/ns/<namespace>/<app-id> for the pod's annotated app-id", function () {
      expect(decideIdentity(request(), review(), pod(), policy, now)).to.deep.equal({
        ok: true,
        spiffeId: "spiffe://cluster.local/ns/shop/checkout",
      });
    });

    it("grants the pod's name when dapr.io/app-id is not set (Dapr's default)", function () {
      const p = pod({ name: "worker", annotations: {} });
      const d = decideIdentity(request({ id: "worker" }), review({ podName: "worker" }), p, policy, now);
      expect(d).to.deep.equal({ ok: true, spiffeId: "spiffe://cluster.local/ns/shop/worker" });
    });
  });

  it("reads a JWT's audience and expiry without trusting them, and nothing from garbage", function () {
    expect(unverifiedClaims(jwt({ aud: "a", exp: 5 }))).to.deep.equal({ aud: ["a"], exp: 5 });
    expect(unverifiedClaims("a.b")).to.equal(undefined);
    expect(podAppId(pod({ name: "Not_Valid", annotations: {} }))).to.equal(undefined);
  });
});
