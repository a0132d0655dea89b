// A small HTTP client for the Kubernetes API, for the calls the runtime needs full control over:
// paginated lists, long-running watch streams with our own deadlines, and Lease reads and writes
// bounded by the renew deadline. node:http(s), with the TLS options and credentials the
// ApiEndpoint gives each request (client certificates, rotating tokens, exec plugins).
import http from "node:http";
import https from "node:https";
import { KubeApiError, RequestTimeoutError, isNotFound, parseRetryAfter, parseStatus } from "./api-errors.ts";
import type { ApiEndpoint } from "./kubeconfig.ts";

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
   * Streams a newline-delimited response (a watch) to onLine. Resolves when the server ends the
   * response; rejects on HTTP errors (KubeApiError), network errors, timeoutMs, or abort.
   */
  lines(req: KubeRequest, onLine: (line: string) => void): Promise<void>;
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
    lines(req: KubeRequest, onLine: (line: string) => void): Promise<void> {
      return withDeadline(req, async (response) => {
        const code = response.statusCode ?? 0;
        if (code < 200 || code > 299) throw errorFrom(code, await readAll(response), response.headers);
        await new Promise<void>((resolve, reject) => {
          let buffered = "";
          let ended = false;
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf("\n")) >= 0) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (!line) continue;
              try {
                onLine(line);
              } catch (err) {
                response.destroy(err as Error);
                return;
              }
            }
          });
          response.on("end", () => {
            ended = true;
            if (buffered.trim()) {
              try {
                onLine(buffered.trim());
              } catch (err) {
                return reject(err);
              }
            }
            resolve();
          });
          response.on("error", reject);
          response.on("close", () => {
            if (!ended)
              reject(Object.assign(new Error("watch stream closed before it ended"), { code: "ECONNRESET" }));
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

function errorFrom(code: number, text: string, headers: http.IncomingHttpHeaders): KubeApiError {
  return new KubeApiError(code, parseStatus(text), parseRetryAfter(headers));
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException("aborted", "AbortError");
}
