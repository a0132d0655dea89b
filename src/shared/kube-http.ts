// A small HTTP client for the Kubernetes API, for the calls the runtime needs full control over:
// paginated lists, long-running watch streams with our own deadlines, and Lease reads and writes
// bounded by the renew deadline. node:http(s), with the TLS options and credentials the
// ApiEndpoint gives each request (client certificates, rotating tokens, exec plugins).
import http from "node:http";
import https from "node:https";
import {
  KubeApiError,
  RequestTimeoutError,
  isNotFound,
  parseRetryAfter,
  parseStatus,
  type KubeStatus,
} from "./api-errors.ts";
import type { ApiEndpoint } from "./kubeconfig.ts";
import { PROTOBUF, decodeStatus } from "./metadata-protobuf.ts";

export type Query = Record<string, string | number | boolean | undefined>;

export interface KubeRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Absolute API path, e.g. /api/v1/namespaces/default/configmaps. */
  path: string;
  query?: Query;
  body?: unknown;
  /** Default application/json; merge-patch+json etc. for PATCH. */
  contentType?: string;
  /** Default application/json; e.g. `application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1` for metadata only. */
  accept?: string;
  /** The whole request, response body included, must finish within this. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface KubeHttp {
  /** Sends the request and returns the parsed JSON body. Throws KubeApiError outside 2xx. */
  json<T>(req: KubeRequest): Promise<T>;
  /**
   * Hands the body's chunks, as they arrive, to the reader made for the response's Content-Type
   * (a watch, or a list that may come in protobuf), and resolves with what the reader ends with
   * once the server ends the response. Rejects on HTTP errors (KubeApiError), network errors, a
   * reader's throw, timeoutMs, or abort.
   */
  chunks<T>(req: KubeRequest, readerFor: (contentType: string) => BodyReader<T>): Promise<T>;
}

/** Consumes a response body chunk by chunk (a throw ends the request with that error). */
export interface BodyReader<T> {
  chunk(chunk: Buffer): void;
  end(): T;
}

/** Streams a newline-delimited response (a JSON watch, metrics) to onLine. */
export function streamLines(http: KubeHttp, req: KubeRequest, onLine: (line: string) => void): Promise<void> {
  return http.chunks(req, () => lineReader(onLine));
}

/** A reader of newline-delimited text: each non-blank line, trimmed, to onLine. */
export function lineReader(onLine: (line: string) => void): BodyReader<void> {
  // Split on the newline byte, which never occurs inside a UTF-8 sequence, then decode each line.
  let pending: Buffer[] = [];
  const emit = (buf: Buffer) => {
    const line = buf.toString("utf8").trim();
    if (line) onLine(line);
  };
  return {
    chunk(chunk) {
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf(0x0a, start)) >= 0) {
        const piece = chunk.subarray(start, nl);
        emit(pending.length ? Buffer.concat([...pending, piece]) : piece);
        pending = [];
        start = nl + 1;
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    },
    end() {
      if (pending.length) emit(Buffer.concat(pending));
      pending = [];
    },
  };
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** TCP keep-alive probes on an idle connection to the API server start after this. */
const TCP_KEEPALIVE_MS = 30_000;

export function createKubeHttp(endpoint: ApiEndpoint): KubeHttp {
  // One pool of keep-alive connections per client, as Node's global agent (LIFO, idle sockets
  // closed after 5 s), with TCP keep-alive set by the agent: setting it again on every request
  // (setsockopt calls) was 1.5 % of the samples of a cold start's CPU profile.
  const pool = {
    keepAlive: true,
    keepAliveMsecs: TCP_KEEPALIVE_MS,
    scheduling: "lifo",
    timeout: 5000,
  } as const;
  const agents = { http: new http.Agent(pool), https: new https.Agent(pool) };
  async function open(
    req: KubeRequest,
    onRequest: (request: http.ClientRequest) => void,
  ): Promise<http.IncomingMessage> {
    const url = new URL(endpoint.server + req.path);
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    // Asked per request: token files are re-read and exec plugins re-run as they expire.
    const { headers: credentialHeaders, ...tls } = await endpoint.requestOptions();
    const headers: http.OutgoingHttpHeaders = {
      ...credentialHeaders,
      Accept: req.accept ?? "application/json",
    };
    if (body) {
      headers["Content-Type"] = req.contentType ?? "application/json";
      headers["Content-Length"] = String(body.length);
    }
    const plain = url.protocol === "http:";
    const opts: https.RequestOptions = {
      ...tls,
      method: req.method ?? "GET",
      headers,
      agent: plain ? agents.http : agents.https,
    };
    const transport = plain ? http : https;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, opts, resolve);
      onRequest(request);
      request.on("error", reject);
      request.end(body);
    });
  }

  // Runs fn on the response of a request that is destroyed on timeout or abort, whatever stage it is in.
  async function withDeadline<T>(
    req: KubeRequest,
    fn: (response: http.IncomingMessage) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (req.signal?.aborted) throw abortError(req.signal);
    let request: http.ClientRequest | undefined;
    let finished = false;
    let stop: (err: Error) => void = () => {};
    const stopped = new Promise<never>((_, reject) => {
      stop = (err) => {
        request?.destroy(err);
        reject(err);
      };
    });
    const timer = setTimeout(
      () =>
        stop(new RequestTimeoutError(`${req.method ?? "GET"} ${req.path}: not done within ${timeoutMs}ms`)),
      timeoutMs,
    );
    const onAbort = () => stop(abortError(req.signal!));
    req.signal?.addEventListener("abort", onAbort, { once: true });
    let ok = false;
    try {
      const result = await Promise.race([
        stopped,
        open(req, (r) => {
          request = r;
          if (finished) r.destroy();
        }).then(fn),
      ]);
      ok = true;
      return result;
    } finally {
      finished = true;
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
      // Whatever is left of a failed request (timeout, abort, bad status) must not keep its socket.
      if (!ok) request?.destroy();
    }
  }

  return {
    json<T>(req: KubeRequest): Promise<T> {
      return withDeadline(req, async (response) => {
        const text = await readAll(response);
        const code = response.statusCode ?? 0;
        if (code < 200 || code > 299) throw errorFrom(code, text, response.headers);
        return (text ? JSON.parse(text) : undefined) as T;
      });
    },
    chunks<T>(req: KubeRequest, readerFor: (contentType: string) => BodyReader<T>): Promise<T> {
      return withDeadline(req, async (response) => {
        const code = response.statusCode ?? 0;
        const contentType = response.headers["content-type"] ?? "";
        if (code < 200 || code > 299) {
          if (!contentType.startsWith(PROTOBUF))
            throw errorFrom(code, await readAll(response), response.headers);
          throw new KubeApiError(
            code,
            protobufStatus(await readAllBytes(response)),
            parseRetryAfter(response.headers),
          );
        }
        const reader = readerFor(contentType);
        return new Promise<T>((resolve, reject) => {
          let ended = false;
          response.on("data", (chunk: Buffer) => {
            try {
              reader.chunk(chunk);
            } catch (err) {
              response.destroy(err as Error);
            }
          });
          response.on("end", () => {
            ended = true;
            try {
              resolve(reader.end());
            } catch (err) {
              reject(err as Error);
            }
          });
          response.on("error", reject);
          response.on("close", () => {
            if (!ended)
              reject(Object.assign(new Error("response closed before it ended"), { code: "ECONNRESET" }));
          });
        });
      });
    },
  };
}

/** `http.json(req)` of one object, or undefined when it does not exist (404). */
export async function jsonOrUndefined<T>(http: KubeHttp, req: KubeRequest): Promise<T | undefined> {
  try {
    return await http.json<T>(req);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function readAll(response: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    // Decoded chunk by chunk into one string: Buffer.concat of a whole list page made one large
    // native allocation per page, and glibc kept the freed ones in the process (45 MiB of malloc
    // heap after listing 5,000 pods' metadata, where the V8 heap held 27 MiB).
    let text = "";
    response.setEncoding("utf8");
    const onData = (chunk: string) => (text += chunk);
    const onClose = () => {
      if (!response.complete)
        settle(() =>
          reject(Object.assign(new Error("response closed before it ended"), { code: "ECONNRESET" })),
        );
    };
    // The listeners go once the body is read: a response object outlives its request (a
    // keep-alive socket's last one), and through them it kept this promise, whose result is
    // the whole body (1.7 MiB for a list of 500 Deployments in the benchmark's heap snapshot).
    const settle = (fn: () => void) => {
      response.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
      response.on("error", ignoreLateError);
      fn();
    };
    const onEnd = () => settle(() => resolve(text));
    const onError = (err: Error) => settle(() => reject(err));
    response.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  });
}

/** An error after the body was read changes nothing; without a listener it would crash the process. */
function ignoreLateError(): void {}

function readAllBytes(response: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on("data", (c: Buffer) => chunks.push(c));
    response.on("end", () => resolve(Buffer.concat(chunks)));
    response.on("error", reject);
  });
}

/** The Status of an error answered in protobuf, or only what the status code says if it is not one. */
function protobufStatus(body: Buffer): KubeStatus | undefined {
  try {
    return decodeStatus(body);
  } catch {
    return undefined;
  }
}

function errorFrom(code: number, text: string, headers: http.IncomingHttpHeaders): KubeApiError {
  return new KubeApiError(code, parseStatus(text), parseRetryAfter(headers));
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException("aborted", "AbortError");
}
