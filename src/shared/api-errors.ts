// API error classification, in one place. Errors come from two clients: client-node 2.x throws
// ApiException (`.code`, `.body` as JSON text, `.headers`), and the runtime's own HTTP client
// throws KubeApiError (`.statusCode`, parsed Status). Network failures come from Node itself.

/** What the caller should make of a failed API call. */
export type ApiErrorKind =
  | "not-found" // 404: the object is gone; usually an expected outcome, not a failure
  | "conflict" // 409 Conflict: stale resourceVersion; re-read and try again
  | "already-exists" // 409 AlreadyExists: someone else created it first
  | "gone" // 410: resourceVersion too old; relist
  | "invalid" // 400, 422: the request itself is wrong; retrying the same thing cannot help
  | "unauthorized" // 401: credentials rejected (may be rotated)
  | "forbidden" // 403: RBAC, or a namespace being terminated
  | "too-many-requests" // 429, including API priority and fairness rejections
  | "server" // 5xx
  | "timeout" // our own deadline, or 504
  | "network" // connection refused/reset, DNS, TLS: the API server was not reached
  | "unknown";

export interface ClassifiedApiError {
  kind: ApiErrorKind;
  /** HTTP status, when a response arrived. */
  statusCode?: number;
  /** Status.reason from the body, e.g. "AlreadyExists", "Expired". */
  reason?: string;
  message: string;
  /** Trying the same request again later may succeed. */
  retryable: boolean;
  /** Retrying cannot help: record it and stop (a reconcile maps this to a terminal error). */
  terminal: boolean;
  /** From a Retry-After header, when the server sent one. */
  retryAfterMs?: number;
}

/** The subset of a Kubernetes Status object we read. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: unknown;
}

/** Thrown by the runtime's HTTP client for a response outside 2xx, and for watch ERROR events. */
export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly reason: string | undefined;
  readonly status: KubeStatus | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(statusCode: number, status?: KubeStatus, retryAfterMs?: number) {
    super(status?.message ? `${statusCode} ${status.reason ?? ""}: ${status.message}` : `HTTP ${statusCode}`);
    this.name = "KubeApiError";
    this.statusCode = statusCode;
    this.reason = status?.reason;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Our own client-side deadline expired. */
export class RequestTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RequestTimeoutError";
  }
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EPROTO",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

export function classifyApiError(err: unknown): ClassifiedApiError {
  const message = err instanceof Error ? err.message : String(err);
  const response = responseOf(err);
  if (response) return classifyStatus(response.statusCode, response.status, message, response.retryAfterMs);
  if (isTimeout(err)) return { kind: "timeout", message, retryable: true, terminal: false };
  if (isNetwork(err)) return { kind: "network", message, retryable: true, terminal: false };
  // Unknown errors are retried: a level-triggered controller converges anyway, and the queue's
  // capped backoff bounds the cost of retrying something hopeless.
  return { kind: "unknown", message, retryable: true, terminal: false };
}

function classifyStatus(
  statusCode: number,
  status: KubeStatus | undefined,
  fallbackMessage: string,
  retryAfterMs: number | undefined,
): ClassifiedApiError {
  const reason = status?.reason;
  const base = { statusCode, message: status?.message ?? fallbackMessage } as const;
  const withReason = reason === undefined ? base : { ...base, reason };
  const retry = retryAfterMs === undefined ? {} : { retryAfterMs };
  const as = (kind: ApiErrorKind, retryable: boolean, terminal = false): ClassifiedApiError => ({
    kind,
    ...withReason,
    retryable,
    terminal,
    ...retry,
  });
  switch (statusCode) {
    case 400:
    case 422:
      return as("invalid", false, true);
    case 401:
      return as("unauthorized", true);
    case 403:
      // RBAC can be fixed while we wait; retries are bounded by the caller's backoff.
      return as("forbidden", true);
    case 404:
      return as("not-found", false);
    case 409:
      return reason === "AlreadyExists" ? as("already-exists", false) : as("conflict", true);
    case 410:
      return as("gone", false);
    case 429:
      return as("too-many-requests", true);
    case 504:
      return as("timeout", true);
  }
  if (statusCode >= 500) return as("server", true);
  return as("unknown", true);
}

interface ResponseInfo {
  statusCode: number;
  status: KubeStatus | undefined;
  retryAfterMs: number | undefined;
}

/** Status code, body and Retry-After from whichever client produced the error. */
function responseOf(err: unknown): ResponseInfo | undefined {
  if (err instanceof KubeApiError) {
    return { statusCode: err.statusCode, status: err.status, retryAfterMs: err.retryAfterMs };
  }
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; headers?: unknown };
  // client-node ApiException: numeric `code`. (Node system errors have string codes.)
  const statusCode =
    typeof e.code === "number" ? e.code : typeof e.statusCode === "number" ? e.statusCode : undefined;
  if (statusCode === undefined || statusCode < 100) return undefined;
  return { statusCode, status: parseStatus(e.body), retryAfterMs: parseRetryAfter(e.headers) };
}

/** A Status from a response body given as text or as an object; undefined if it is neither. */
export function parseStatus(body: unknown): KubeStatus | undefined {
  let value = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body);
    } catch {
      return body.trim() ? { message: body.trim().slice(0, 500) } : undefined;
    }
  }
  if (typeof value !== "object" || value === null) return undefined;
  const s = value as Record<string, unknown>;
  const out: KubeStatus = {};
  if (typeof s.kind === "string") out.kind = s.kind;
  if (typeof s.status === "string") out.status = s.status;
  if (typeof s.message === "string") out.message = s.message;
  if (typeof s.reason === "string") out.reason = s.reason;
  if (typeof s.code === "number") out.code = s.code;
  if (s.details !== undefined) out.details = s.details;
  return out;
}

/** Retry-After in milliseconds (seconds form only, which is what the API server sends). */
export function parseRetryAfter(headers: unknown): number | undefined {
  if (typeof headers !== "object" || headers === null) return undefined;
  const h = headers as Record<string, unknown>;
  const raw = h["retry-after"] ?? h["Retry-After"];
  const value = Array.isArray(raw) ? raw[0] : raw;
  const seconds = typeof value === "string" || typeof value === "number" ? Number(value) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function isTimeout(err: unknown): boolean {
  if (err instanceof RequestTimeoutError) return true;
  const name = (err as { name?: unknown } | null)?.name;
  return name === "TimeoutError";
}

function isNetwork(err: unknown): boolean {
  // fetch wraps the socket error in `cause`; follow the chain a few levels.
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && typeof cur === "object" && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    if (cur instanceof TypeError && cur.message === "fetch failed") return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

export const isNotFound = (err: unknown): boolean => classifyApiError(err).kind === "not-found";
export const isConflict = (err: unknown): boolean => classifyApiError(err).kind === "conflict";
export const isAlreadyExists = (err: unknown): boolean => classifyApiError(err).kind === "already-exists";
export const isGone = (err: unknown): boolean => classifyApiError(err).kind === "gone";
export const isInvalid = (err: unknown): boolean => classifyApiError(err).kind === "invalid";
export const isRetryable = (err: unknown): boolean => classifyApiError(err).retryable;
