import { expect } from "chai";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Counter, Registry } from "prom-client";
import { createLogger } from "./log.ts";
import { parseAddress, startOpsServer } from "./ops-server.ts";

describe("ops server", () => {
  let server: Server;
  let ready = false;
  let base: string;

  before(async () => {
    const registry = new Registry();
    new Counter({ name: "outrigger_test_total", help: "a counter", registers: [registry] }).inc(3);
    server = await startOpsServer({
      address: "127.0.0.1:0",
      registry,
      isReady: () => ready,
      log: createLogger("test", { level: "silent" }),
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("answers /healthz, and /readyz as the process says", async () => {
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).to.deep.equal([200, "ok"]);
    ready = false;
    const notReady = await fetch(`${base}/readyz`);
    expect([notReady.status, await notReady.text()]).to.deep.equal([503, "not ready"]);
    ready = true;
    const isReady = await fetch(`${base}/readyz?verbose`);
    expect([isReady.status, await isReady.text()]).to.deep.equal([200, "ok"]);
  });

  it("serves the registry's metrics in Prometheus text", async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.match(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).to.include("outrigger_test_total 3");
  });

  it("answers HEAD without a body, other methods with 405 and unknown paths with 404", async () => {
    const head = await fetch(`${base}/healthz`, { method: "HEAD" });
    expect([head.status, head.headers.get("content-length"), await head.text()]).to.deep.equal([
      200,
      "2",
      "",
    ]);
    const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
    expect([post.status, post.headers.get("allow")]).to.deep.equal([405, "GET, HEAD"]);
    expect(await post.text()).to.include("POST not allowed");
    const missing = await fetch(`${base}/debug/pprof`);
    expect([missing.status, await missing.text()]).to.deep.equal([404, "no such endpoint: /debug/pprof\n"]);
  });

  it("parses host:port addresses and refuses others", () => {
    expect(parseAddress(":8080")).to.deep.equal({ host: "0.0.0.0", port: 8080 });
    expect(() => parseAddress("localhost")).to.throw(/want host:port/);
    expect(() => parseAddress("h:70000")).to.throw(/want host:port/);
  });
});
