// The operations endpoints every Outrigger process serves: /healthz (the process is alive),
// /readyz (it can do its job) and /metrics (Prometheus text from the registry passed in).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { Logger } from "./log.ts";

export interface OpsServerOptions {
  address: string; // host:port
  registry: Registry;
  isReady: () => boolean;
  log: Logger;
}

export function parseAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  const port = Number(address.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid address "${address}": want host:port`);
  }
  return { host: address.slice(0, i) || "0.0.0.0", port };
}

const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * The answer to one request on the ops endpoints: GET (or HEAD) of a known path, 405 for other
 * methods on it, 404 elsewhere. Plain node:http rather than express: importing express cost an
 * empty Node process 150 ms of CPU at start, for three fixed routes.
 */
async function opsAnswer(
  method: string,
  path: string,
  opts: OpsServerOptions,
): Promise<{ status: number; type: string; body: string; headers?: Record<string, string> }> {
  const text = "text/plain; charset=utf-8";
  if (!OPS_PATHS.has(path)) return { status: 404, type: text, body: `no such endpoint: ${path}\n` };
  if (method !== "GET" && method !== "HEAD")
    return {
      status: 405,
      type: text,
      body: `${method} not allowed; use GET\n`,
      headers: { Allow: "GET, HEAD" },
    };
  if (path === "/healthz") return { status: 200, type: text, body: "ok" };
  if (path === "/readyz") {
    const ready = opts.isReady();
    return { status: ready ? 200 : 503, type: text, body: ready ? "ok" : "not ready" };
  }
  return { status: 200, type: opts.registry.contentType, body: await opts.registry.metrics() };
}

function handleOpsRequest(req: IncomingMessage, res: ServerResponse, opts: OpsServerOptions): void {
  const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
  opsAnswer(req.method ?? "GET", path, opts).then(
    (a) => {
      res.writeHead(a.status, {
        "Content-Type": a.type,
        "Content-Length": Buffer.byteLength(a.body),
        ...a.headers,
      });
      res.end(req.method === "HEAD" ? undefined : a.body);
    },
    (err: unknown) => {
      opts.log.error({ err, path }, "ops endpoint failed");
      res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("internal error\n");
    },
  );
}

export async function startOpsServer(opts: OpsServerOptions): Promise<Server> {
  const server = createServer((req, res) => handleOpsRequest(req, res, opts));
  const { host, port } = parseAddress(opts.address);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      server.on("error", (err) => opts.log.error({ err }, "ops server error"));
      opts.log.info({ address: server.address() }, "ops server listening");
      resolve(server);
    });
  });
}

/** Resolves on the first SIGTERM or SIGINT. */
export function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      resolve(sig);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

/**
 * A serving process's life after its set-up: `start` (its certificates) races the shutdown
 * signal; once it has started, `serve` opens the listener (a failure there is exit 1); then it
 * waits for the signal and hands it to `stop`. Returns the exit code.
 */
export async function serveUntilShutdown(steps: {
  log: Logger;
  /** What `serve` starts, for the error message. */
  what: string;
  start(): Promise<unknown>;
  serve(): Promise<void>;
  stop(signal: NodeJS.Signals | undefined): Promise<void>;
}): Promise<number> {
  const signal = waitForShutdownSignal();
  const started = await Promise.race([steps.start().then(() => "started" as const), signal]);
  let exitCode = 0;
  if (started === "started") {
    try {
      await steps.serve();
    } catch (err) {
      steps.log.error({ err }, `could not start ${steps.what}`);
      exitCode = 1;
    }
  }
  await steps.stop(exitCode === 0 ? (started === "started" ? await signal : started) : undefined);
  return exitCode;
}
