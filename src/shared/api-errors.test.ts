import { ApiException } from "@kubernetes/client-node";
import { expect } from "chai";
import {
  KubeApiError,
  RequestTimeoutError,
  classifyApiError,
  isAlreadyExists,
  isConflict,
  isGone,
  isNotFound,
  parseRetryAfter,
} from "./api-errors.ts";

// What client-node 2.x throws: the body is the Status as JSON text.
function apiException(
  code: number,
  reason: string,
  headers: Record<string, string> = {},
): ApiException<string> {
  const body = JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    reason,
    code,
    message: `${reason} happened`,
  });
  return new ApiException(code, "Unknown API Status Code!", body, headers);
}

describe("classifyApiError", () => {
  const cases: Array<[number, string, string, boolean, boolean]> = [
    // status, reason, kind, retryable, terminal
    [400, "BadRequest", "invalid", false, true],
    [422, "Invalid", "invalid", false, true],
    [401, "Unauthorized", "unauthorized", true, false],
    [403, "Forbidden", "forbidden", true, false],
    [404, "NotFound", "not-found", false, false],
    [409, "Conflict", "conflict", true, false],
    [409, "AlreadyExists", "already-exists", false, false],
    [410, "Expired", "gone", false, false],
    [429, "TooManyRequests", "too-many-requests", true, false],
    [500, "InternalError", "server", true, false],
    [503, "ServiceUnavailable", "server", true, false],
    [504, "Timeout", "timeout", true, false],
  ];
  for (const [code, reason, kind, retryable, terminal] of cases) {
    it(`${code} ${reason} from client-node is ${kind}`, () => {
      const c = classifyApiError(apiException(code, reason));
      expect(c).to.include({
        kind,
        retryable,
        terminal,
        statusCode: code,
        reason,
        message: `${reason} happened`,
      });
    });
    it(`${code} ${reason} from the runtime client is ${kind}`, () => {
      const c = classifyApiError(new KubeApiError(code, { reason, message: "m" }));
      expect(c).to.include({ kind, retryable, terminal, statusCode: code, reason });
    });
  }

  it("reads Retry-After from a 429", () => {
    expect(
      classifyApiError(apiException(429, "TooManyRequests", { "retry-after": "3" })).retryAfterMs,
    ).to.equal(3_000);
    expect(classifyApiError(new KubeApiError(429, undefined, 1_000)).retryAfterMs).to.equal(1_000);
  });

  it("treats an error status with a non-JSON body by its code", () => {
    const c = classifyApiError(new ApiException(502, "Bad Gateway", "<html>bad gateway</html>", {}));
    expect(c).to.include({ kind: "server", retryable: true, statusCode: 502 });
  });

  it("treats an error with a numeric statusCode (client-node Watch) by its code", () => {
    expect(classifyApiError(Object.assign(new Error("Gone"), { statusCode: 410 })).kind).to.equal("gone");
  });

  it("recognises network errors, also wrapped by fetch", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6443"), { code: "ECONNREFUSED" });
    expect(classifyApiError(refused)).to.include({ kind: "network", retryable: true, terminal: false });
    const wrapped = new TypeError("fetch failed", {
      cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
    });
    expect(classifyApiError(wrapped).kind).to.equal("network");
    expect(classifyApiError(Object.assign(new Error("reset"), { code: "ECONNRESET" })).kind).to.equal(
      "network",
    );
  });

  it("recognises timeouts", () => {
    expect(classifyApiError(new RequestTimeoutError("slow")).kind).to.equal("timeout");
    expect(
      classifyApiError(new DOMException("The operation was aborted due to timeout", "TimeoutError")).kind,
    ).to.equal("timeout");
  });

  it("retries what it does not know", () => {
    expect(classifyApiError(new Error("boom"))).to.include({
      kind: "unknown",
      retryable: true,
      terminal: false,
    });
    expect(classifyApiError("a string")).to.include({ kind: "unknown", message: "a string" });
  });

  it("has predicates for the outcomes callers branch on", () => {
    expect(isNotFound(apiException(404, "NotFound"))).to.equal(true);
    expect(isNotFound(apiException(409, "Conflict"))).to.equal(false);
    expect(isConflict(apiException(409, "Conflict"))).to.equal(true);
    expect(isAlreadyExists(apiException(409, "AlreadyExists"))).to.equal(true);
    expect(isConflict(apiException(409, "AlreadyExists"))).to.equal(false);
    expect(isGone(new KubeApiError(410, { reason: "Expired" }))).to.equal(true);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds in either header case and ignores dates and junk", () => {
    expect(parseRetryAfter({ "Retry-After": "2" })).to.equal(2_000);
    expect(parseRetryAfter({ "retry-after": ["5"] })).to.equal(5_000);
    expect(parseRetryAfter({ "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" })).to.equal(undefined);
    expect(parseRetryAfter(undefined)).to.equal(undefined);
  });
});
