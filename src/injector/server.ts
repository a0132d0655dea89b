// The injector's HTTPS shell: decode an AdmissionReview, hand the request to the pure core,
// encode the answer. Everything that can go wrong with the input ends in a well-formed
// AdmissionReview with a status code from a closed set; nothing here calls the API server.
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Readable, Transform } from "node:stream";
import zlib from "node:zlib";
import { subscriptionConversionOutcome } from "../apis/subscription-conversion.ts";
import type { Logger } from "../shared/log.ts";
import type { AdmissionOutcome, AdmissionRequest } from "./admit.ts";
import type { CertKeyPair } from "./certs.ts";
import type {
  ConversionReason,
  ConversionResult,
  InjectorMetrics,
  InvalidRequestReason,
  RequestResult,
} from "./metrics.ts";
import { CONVERSION_REASONS, REQUEST_RESULTS, reasonLabel } from "./metrics.ts";

export const ADMISSION_API_VERSION = "admission.k8s.io/v1";
export const ADMISSION_KIND = "AdmissionReview";
/** Status codes /mutate answers with. */
export const MUTATE_STATUS_CODES: readonly number[] = [200, 400, 405, 413, 415, 500];

/** Large enough for any pod the API server accepts (its request limit is 3 MiB) wrapped in a review. */
export const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionOutcome["response"];
}

export interface WebhookHandlerOptions {
  /** The admission core with its settings bound once at start-up. */
  admit: (request: AdmissionRequest) => AdmissionOutcome;
  log: Logger;
  metrics: InjectorMetrics;
  maxRequestBytes?: number;
}

class InvalidRequest extends Error {
  readonly status: number;
  readonly reason: InvalidRequestReason;
  readonly uid: string;
  constructor(status: number, reason: InvalidRequestReason, message: string, uid = "") {
    super(message);
    this.status = status;
    this.reason = reason;
    this.uid = uid;
  }
}

const statusReasons: Record<number, string> = {
  400: "BadRequest",
  405: "MethodNotAllowed",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
  500: "InternalError",
};

function review(response: AdmissionOutcome["response"]): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** The failure answer: an AdmissionReview that denies, carrying the same code and message. */
export function errorReview(uid: string, code: number, message: string): AdmissionReviewResponse {
  return review({
    uid,
    allowed: false,
    status: { code, message, reason: statusReasons[code] ?? "InternalError" },
  });
}

/**
 * The review as JSON text. The patch (base64, nothing to escape) is appended as it is: run
 * through JSON.stringify, its few kilobytes cost about as much as the rest of the encoding.
 */
export function admissionReviewJson(body: AdmissionReviewResponse): string {
  const { patch, ...rest } = body.response;
  if (patch === undefined) return JSON.stringify(body);
  const head = JSON.stringify({ ...body, response: rest });
  // `head` ends with the two braces closing response and the review.
  return `${head.slice(0, -2)},"patch":"${patch}"}}`;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The AdmissionRequest inside a decoded body, or the reason it is not one. */
export function admissionRequestOf(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new InvalidRequest(400, "not-admission-review", "the body is not a JSON object");
  const request = body.request;
  const uid = isRecord(request) && typeof request.uid === "string" ? request.uid : "";
  if (body.apiVersion !== ADMISSION_API_VERSION || body.kind !== ADMISSION_KIND) {
    const got = `${JSON.stringify(body.apiVersion ?? null)}, kind ${JSON.stringify(body.kind ?? null)}`.slice(
      0,
      200,
    );
    throw new InvalidRequest(
      400,
      "not-admission-review",
      `expected apiVersion "${ADMISSION_API_VERSION}", kind "${ADMISSION_KIND}"; got apiVersion ${got}`,
      uid,
    );
  }
  if (!isRecord(request))
    throw new InvalidRequest(400, "not-admission-review", "request is missing or not an object");
  if (uid === "")
    throw new InvalidRequest(400, "missing-uid", "request.uid is missing or not a non-empty string");
  return request as AdmissionRequest;
}

function nameOf(request: Record<string, unknown>): { name?: string; generateName?: string } {
  const meta = isRecord(request.object) && isRecord(request.object.metadata) ? request.object.metadata : {};
  const name = typeof request.name === "string" && request.name ? request.name : meta.name;
  if (typeof name === "string" && name) return { name: name.slice(0, 253) };
  return typeof meta.generateName === "string" ? { generateName: meta.generateName.slice(0, 253) } : {};
}

/** The webhook's request listener: node's (req, res) callback. */
export type WebhookHandler = (req: IncomingMessage, res: ServerResponse) => void;

const SUPPORTED_ENCODINGS = new Set(["identity", "gzip", "x-gzip", "deflate", "br"]);

function decompressorFor(encoding: string): Transform | undefined {
  if (encoding === "gzip" || encoding === "x-gzip") return zlib.createGunzip();
  if (encoding === "deflate") return zlib.createInflate();
  if (encoding === "br") return zlib.createBrotliDecompress();
  return undefined;
}

/** The whole body, decoded from its Content-Encoding, or an InvalidRequest: 413 once it passes `limit`. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new InvalidRequest(413, "too-large", `request body is larger than ${limit} bytes`);
  const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (!SUPPORTED_ENCODINGS.has(encoding))
    return Promise.reject(
      new InvalidRequest(
        415,
        "unsupported-media-type",
        `Content-Encoding "${encoding.slice(0, 40)}" is not supported`,
      ),
    );
  const declared = Number(req.headers["content-length"]);
  if (encoding === "identity" && declared > limit) return Promise.reject(tooLarge());
  const decoder = decompressorFor(encoding);
  const source: Readable = decoder ? req.pipe(decoder) : req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (err: InvalidRequest) => {
      if (done) return;
      done = true;
      decoder?.destroy();
      reject(err);
    };
    source.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return fail(tooLarge());
      chunks.push(chunk);
    });
    source.on("end", () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    const readFailed = (err: Error) =>
      fail(new InvalidRequest(400, "read-failed", `could not read the body: ${err.message}`));
    source.on("error", readFailed);
    if (decoder) req.on("error", readFailed);
  });
}

const isJsonUtf8 = (type: string | undefined): boolean => {
  if (type === undefined || !/^application\/json\s*(;|$)/i.test(type)) return false;
  const charset = /;\s*charset="?([^";\s]+)/i.exec(type)?.[1];
  return charset === undefined || /^utf-?8$/i.test(charset);
};

const conversionReasons: ReadonlySet<string> = new Set(CONVERSION_REASONS);

/** The reason label of a /convert body that could not be read: readBody's own, else `read-failed`. */
function conversionReadReason(err: unknown): ConversionReason {
  return err instanceof InvalidRequest && conversionReasons.has(err.reason)
    ? (err.reason as ConversionReason)
    : "read-failed";
}

/**
 * The webhook's request listener: POST /mutate (pod admission), POST /convert (the Subscription
 * CRD's conversion webhook), 405 for other methods there, 404 elsewhere.
 * Plain node:http rather than express: under load, express's routing and body reading took 7 %
 * of the injector's CPU (see docs/performance.md).
 */
export function createWebhookHandler(opts: WebhookHandlerOptions): WebhookHandler {
  const { log, metrics } = opts;
  const limit = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const requestsBy = Object.fromEntries(
    REQUEST_RESULTS.map((r) => [r, metrics.requests.labels({ result: r })]),
  );
  const durationBy = Object.fromEntries(
    REQUEST_RESULTS.map((r) => [r, metrics.duration.labels({ result: r })]),
  );
  const injectionsBy = Object.fromEntries(
    ["true", "false"].map((d) => [d, metrics.injections.labels({ dry_run: d })]),
  );

  const send = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
    text = JSON.stringify(body),
  ) => {
    res.writeHead(status, {
      ...headers,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  };

  const finish = (
    res: ServerResponse,
    started: bigint,
    result: RequestResult,
    status: number,
    body: AdmissionReviewResponse,
  ) => {
    requestsBy[result]!.inc();
    durationBy[result]!.observe(Number(process.hrtime.bigint() - started) / 1e9);
    send(res, status, body, status === 405 ? { allow: "POST" } : {}, admissionReviewJson(body));
  };

  const reject = (req: IncomingMessage, res: ServerResponse, started: bigint, err: InvalidRequest) => {
    metrics.invalidRequests.inc({ reason: err.reason });
    log.warn(
      {
        uid: err.uid || undefined,
        status: err.status,
        reason: err.reason,
        error: err.message,
        remote: req.socket.remoteAddress,
      },
      "rejected admission request",
    );
    // A reply to an unread body: the connection cannot be reused safely.
    if (!req.complete) res.shouldKeepAlive = false;
    finish(res, started, "invalid", err.status, errorReview(err.uid, err.status, err.message));
  };

  const answer = (req: IncomingMessage, res: ServerResponse, started: bigint, raw: Buffer) => {
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      const message = `malformed JSON: ${(err as Error).message}`;
      return reject(req, res, started, new InvalidRequest(400, "malformed-json", message));
    }
    let request: AdmissionRequest;
    try {
      request = admissionRequestOf(body);
    } catch (err) {
      if (err instanceof InvalidRequest) return reject(req, res, started, err);
      throw err;
    }
    let outcome: AdmissionOutcome;
    try {
      outcome = opts.admit(request);
    } catch (err) {
      // The core promises not to throw; if it does anyway, deny this one pod and keep serving.
      log.error({ uid: request.uid, err }, "admission core failed");
      return finish(
        res,
        started,
        "error",
        500,
        errorReview(request.uid, 500, "internal error in the injector"),
      );
    }
    const reason = reasonLabel(outcome.reason);
    const dryRun = request.dryRun === true;
    if (outcome.result === "injected") injectionsBy[String(dryRun)]!.inc();
    else if (outcome.result === "skipped") metrics.skips.inc({ reason });
    else metrics.denials.inc({ reason });
    // Denials are logged at info: the user sees the message, the operator needs it too. Pods
    // admitted (injected or skipped) are counted by the metrics above and logged at debug only:
    // at info, the line was a sizeable share of the CPU of a review (docs/performance.md).
    const level = outcome.result === "denied" ? "info" : "debug";
    if (log.isLevelEnabled(level))
      log[level](
        {
          uid: request.uid,
          namespace: typeof request.namespace === "string" ? request.namespace : undefined,
          ...nameOf(request),
          operation: typeof request.operation === "string" ? request.operation : undefined,
          dryRun,
          decision: outcome.result,
          reason: outcome.reason,
          appId: outcome.appId,
          ...(outcome.response.status ? { message: outcome.response.status.message } : {}),
          ...(outcome.response.warnings?.length ? { warnings: outcome.response.warnings } : {}),
        },
        "admission",
      );
    // The review always carries the request's uid, whatever the core returned.
    finish(res, started, outcome.result, 200, review({ ...outcome.response, uid: request.uid }));
  };

  /**
   * POST /convert: a ConversionReview of Subscriptions, answered by the pure conversion. A review
   * that cannot be converted gets a Failure result, whose message the API server shows the user.
   */
  const converted = (
    res: ServerResponse,
    started: bigint,
    result: ConversionResult,
    reason: ConversionReason | undefined,
    status: number,
    body: unknown,
  ) => {
    metrics.conversions.inc({ result });
    if (reason) metrics.conversionFailures.inc({ reason });
    metrics.conversionDuration.observe({ result }, Number(process.hrtime.bigint() - started) / 1e9);
    send(res, status, body, status === 405 ? { allow: "POST" } : {});
  };
  const convert = (req: IncomingMessage, res: ServerResponse, started: bigint) => {
    if (req.method !== "POST" || !isJsonUtf8(req.headers["content-type"])) {
      if (!req.complete) res.shouldKeepAlive = false;
      const post = req.method === "POST";
      return converted(
        res,
        started,
        "invalid",
        post ? "unsupported-media-type" : "method-not-allowed",
        post ? 415 : 405,
        { message: "the conversion webhook is POST /convert, Content-Type application/json" },
      );
    }
    readBody(req, limit).then(
      (raw) => {
        let body: unknown;
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch (err) {
          return converted(res, started, "invalid", "malformed-json", 400, {
            message: `malformed JSON: ${(err as Error).message}`,
          });
        }
        const { review: answer, failure } = subscriptionConversionOutcome(body);
        const request = (body as { request?: { desiredAPIVersion?: unknown; objects?: unknown } } | null)
          ?.request;
        log.info(
          {
            uid: answer.response?.uid,
            desiredAPIVersion: request?.desiredAPIVersion,
            objects: Array.isArray(request?.objects) ? request.objects.length : undefined,
            result: answer.response?.result.status,
            ...(answer.response?.result.status === "Failure"
              ? { message: answer.response.result.message }
              : {}),
          },
          "conversion",
        );
        converted(res, started, failure ? "failure" : "success", failure, 200, answer);
      },
      (err: unknown) => {
        if (res.headersSent || res.destroyed) return;
        res.shouldKeepAlive = false;
        const status = err instanceof InvalidRequest ? err.status : 400;
        converted(res, started, "invalid", conversionReadReason(err), status, {
          message: err instanceof Error ? err.message : String(err),
        });
      },
    );
  };

  return (req, res) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? "").split("?", 1)[0];
    if (path === "/convert") return convert(req, res, started);
    if (path !== "/mutate") {
      if (!req.complete) res.shouldKeepAlive = false;
      return send(res, 404, { message: "not found; the webhooks are POST /mutate and POST /convert" });
    }
    if (req.method !== "POST") {
      const message = `${req.method} is not allowed; use POST`;
      return reject(req, res, started, new InvalidRequest(405, "method-not-allowed", message));
    }
    if (!isJsonUtf8(req.headers["content-type"])) {
      const message = "Content-Type must be application/json (UTF-8)";
      return reject(req, res, started, new InvalidRequest(415, "unsupported-media-type", message));
    }
    readBody(req, limit).then(
      (raw) => answer(req, res, started, raw),
      (err: unknown) => {
        if (res.headersSent || res.destroyed) {
          const error = err instanceof Error ? err.message : String(err);
          log.warn(
            { remote: req.socket.remoteAddress, error },
            "client went away before its request was read",
          );
          return;
        }
        const invalid =
          err instanceof InvalidRequest ? err : new InvalidRequest(400, "read-failed", String(err));
        reject(req, res, started, invalid);
      },
    );
  };
}

export interface WebhookServer {
  server: https.Server;
  address(): AddressInfo;
  /** Switches to a new certificate for new connections, without a restart. */
  setCertificate(pair: CertKeyPair): void;
  /** Requests being answered right now. */
  inFlight(): number;
  /** Stops accepting connections and waits for in-flight requests, at most `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

const TLS_MIN_VERSION = "TLSv1.2" as const;

export function startWebhookServer(opts: {
  handler: WebhookHandler;
  host: string;
  port: number;
  certificate: CertKeyPair;
  log: Logger;
}): Promise<WebhookServer> {
  const server = https.createServer(
    { cert: opts.certificate.certPem, key: opts.certificate.keyPem, minVersion: TLS_MIN_VERSION },
    opts.handler,
  );
  // Admission calls are small and the API server gives up after its timeout; slow clients go too.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  let inFlight = 0;
  let closing = false;
  server.on("request", (_req, res) => {
    inFlight++;
    if (closing) res.setHeader("connection", "close");
    res.once("close", () => {
      inFlight--;
      // A keep-alive connection becomes idle once its response is out; while draining, drop it.
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
  });
  server.on("tlsClientError", (err) => opts.log.debug({ err: err.message }, "TLS handshake failed"));

  const handle: WebhookServer = {
    server,
    address: () => server.address() as AddressInfo,
    setCertificate(pair) {
      server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: TLS_MIN_VERSION });
    },
    inFlight: () => inFlight,
    close(timeoutMs) {
      closing = true;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          opts.log.warn({ inFlight }, "drain timeout: closing the remaining connections");
          server.closeAllConnections();
        }, timeoutMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Keep-alive connections with nothing in flight would hold close() open.
        server.closeIdleConnections();
      });
    },
  };
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      opts.log.info({ address: server.address() }, "webhook server listening");
      resolve(handle);
    });
  });
}
