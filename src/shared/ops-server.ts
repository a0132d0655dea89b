// The operations endpoints every Outrigger process serves: /healthz (the process is alive),
// /readyz (it can do its job) and /metrics (Prometheus text from the registry passed in).
import express from "express";
import type { Server } from "node:http";
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

export async function startOpsServer(opts: OpsServerOptions): Promise<Server> {
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => void res.type("text").send("ok"));
  app.get("/readyz", (_req, res) => {
    const ready = opts.isReady();
    res
      .status(ready ? 200 : 503)
      .type("text")
      .send(ready ? "ok" : "not ready");
  });
  app.get("/metrics", async (_req, res) => {
    res.type(opts.registry.contentType).send(await opts.registry.metrics());
  });
  const { host, port } = parseAddress(opts.address);
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => {
      opts.log.info({ address: server.address() }, "ops server listening");
      resolve(server);
    });
    server.once("error", reject);
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
