// Subscriptions, HTTPEndpoints, Resiliency, MCPServers and WorkflowAccessPolicies with the real
// daprd (harness/sidecar-runner.ts),
// fed the sidecar config the real controller writes: what daprd lists in /v1.0/metadata, a
// publish reaching the route a declarative Subscription names on a small app inside the pod, an
// invocation through an HTTPEndpoint reaching a receiver on the host end of the pod's veth with
// its headers (one from a Secret), a Resiliency retry policy counted on that receiver, the
// corpus of Dapr's docs loaded without errors, and what a change to a Resiliency or an
// HTTPEndpoint does to a running daprd (a restart of its runtime: measured, not assumed), and
// what daprd reports of an MCPServer and a WorkflowAccessPolicy, loaded and hot-reloaded.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { expect } from "chai";
import { load } from "js-yaml";
import { corpusFiles, type CorpusKind } from "../../src/apis/conformance.testing.ts";
import {
  HTTP_ENDPOINTS_KEY,
  MCP_SERVERS_KEY,
  RESILIENCY_KEY,
  SIDECAR_CONFIG_VOLUME,
  SUBSCRIPTIONS_KEY,
} from "../../src/sidecar/config-secret.ts";
import { repoRoot } from "./harness/cluster.ts";
import {
  DAPRD_NAMESPACE_LABELS,
  apply,
  componentObject,
  createDaprPod,
  runDaprPod,
  secretObject,
  useDaprdEnvironment,
  waitForSidecarConfig,
} from "./harness/daprd-env.ts";
import { useNamespace } from "./harness/namespace.ts";
import type { Sidecar } from "./harness/sidecar-runner.ts";
import { eventually, kubectl, sleep } from "./harness/util.ts";

const DAPR_HTTP = 3500;
const APP_PORT = 6000;

async function metadata(sidecar: Sidecar): Promise<Record<string, unknown>> {
  const res = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/metadata");
  expect(res.status, `metadata API: ${res.body}`).to.equal(200);
  return JSON.parse(res.body) as Record<string, unknown>;
}

async function waitHealthy(sidecar: Sidecar, timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => {
      expect(sidecar.exitedWith(), `daprd exited; log:\n${sidecar.logs().slice(-4000)}`).to.equal(undefined);
      const r = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/healthz");
      expect(r.status, `healthz: ${r.body}`).to.equal(204);
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** A tiny app inside the pod's network namespace: records every POST (path, body) to a file. */
const APP_SCRIPT = `
import http.server, json, sys
out = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def reply(s, body):
        s.send_response(200)
        s.send_header("content-type", "application/json")
        s.send_header("content-length", str(len(body)))
        s.end_headers()
        s.wfile.write(body)
    def do_GET(s):
        s.reply(b"[]" if s.path == "/dapr/subscribe" else b"{}")
    def do_POST(s):
        body = s.rfile.read(int(s.headers.get("content-length") or 0))
        out.write(json.dumps({"path": s.path, "body": body.decode()}) + "\\n")
        out.flush()
        s.reply(b'{"status":"SUCCESS"}')
    def log_message(s, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
`;

function startAppInPod(netns: string, file: string): ChildProcess {
  return spawn("ip", ["netns", "exec", netns, "python3", "-c", APP_SCRIPT, String(APP_PORT), file], {
    stdio: "ignore",
  });
}

function received(file: string): Array<{ path: string; body: string }> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { path: string; body: string });
}

interface Hit {
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A receiver on the host end of the veth: answers `fail` times 500 per request path, then 200. */
async function startReceiver(host: string): Promise<{
  server: Server;
  port: number;
  hits: Hit[];
  failFirst(n: number): void;
}> {
  const hits: Hit[] = [];
  let failLeft = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      hits.push({ path: req.url ?? "", headers: req.headers });
      if (failLeft > 0) {
        failLeft--;
        res.writeHead(500, { "content-type": "text/plain" }).end("try again");
      } else res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  return {
    server,
    port: (server.address() as { port: number }).port,
    hits,
    failFirst: (n) => (failLeft = n),
  };
}

function httpEndpointObject(name: string, baseUrl: string, headers: object[]): object {
  return {
    apiVersion: "dapr.io/v1alpha1",
    kind: "HTTPEndpoint",
    metadata: { name },
    spec: { baseUrl, headers },
  };
}

function resiliencyObject(name: string, target: string, maxRetries: number): object {
  return {
    apiVersion: "dapr.io/v1alpha1",
    kind: "Resiliency",
    metadata: { name },
    spec: {
      policies: { retries: { again: { policy: "constant", duration: "10ms", maxRetries } } },
      targets: { apps: { [target]: { retry: "again" } } },
    },
  };
}

interface LogLine {
  level?: string;
  msg?: string;
}

/** daprd's log lines that report a resource it could not load or parse. */
function loadErrors(sidecar: Sidecar): string[] {
  return sidecar
    .logs()
    .split("\n")
    .filter((l) => {
      let line: LogLine = { msg: l };
      if (l.startsWith("{")) {
        try {
          line = JSON.parse(l) as LogLine;
        } catch {
          /* keep the raw line */
        }
      }
      const msg = line.msg ?? l;
      return (
        /error when (parsing|opening)|duplicate definition|failed to (load|parse|unmarshal|decode)|error loading|error parsing/i.test(
          msg,
        ) ||
        (line.level === "error" && /resiliency|subscription|httpendpoint|http endpoint|load/i.test(msg))
      );
    });
}

function sighups(sidecar: Sidecar): number {
  return sidecar
    .logs()
    .split("\n")
    .filter((l) => l.includes("Received signal 'hangup'")).length;
}

/**
 * A minimal MCP server (streamable HTTP transport, JSON answers) on the host end of the veth:
 * daprd connects when it loads an MCPServer (initialize, then tools/list) and exits when that
 * fails, so the spec needs a real one. Records each JSON-RPC method with its path and headers.
 */
async function startMcpServer(host: string): Promise<{
  server: Server;
  port: number;
  calls: Array<{ path: string; method: string; authorization?: string }>;
}> {
  const calls: Array<{ path: string; method: string; authorization?: string }> = [];
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (d: Buffer) => (text += d.toString()));
    req.on("end", () => {
      if (req.method !== "POST") return void res.writeHead(405).end();
      const msg = JSON.parse(text || "{}") as {
        id?: unknown;
        method?: string;
        params?: { protocolVersion?: string };
      };
      calls.push({ path: req.url ?? "", method: msg.method ?? "", authorization: req.headers.authorization });
      if (msg.id === undefined) return void res.writeHead(202).end();
      const result =
        msg.method === "initialize"
          ? {
              protocolVersion: msg.params?.protocolVersion ?? "2025-06-18",
              capabilities: { tools: {} },
              serverInfo: { name: "outrigger-e2e", version: "1.0.0" },
            }
          : msg.method === "tools/list"
            ? { tools: [{ name: "echo", description: "echoes", inputSchema: { type: "object" } }] }
            : {};
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  return { server, port: (server.address() as { port: number }).port, calls };
}

function mcpServerObject(name: string, url: string, headers: object[] = [], ignoreErrors = true): object {
  return {
    apiVersion: "dapr.io/v1alpha1",
    kind: "MCPServer",
    metadata: { name },
    spec: { ignoreErrors, endpoint: { streamableHTTP: { url, headers } } },
  };
}

function workflowAccessPolicyObject(name: string, workflow: string, scopes?: string[]): object {
  return {
    apiVersion: "dapr.io/v1alpha1",
    kind: "WorkflowAccessPolicy",
    metadata: { name },
    ...(scopes ? { scopes } : {}),
    spec: {
      rules: [
        { callers: [{ appID: "front" }], workflows: [{ name: workflow, operations: ["schedule", "get"] }] },
      ],
    },
  };
}

describe("daprd (real runtime): Subscriptions, HTTPEndpoints, Resiliency, MCPServers, WorkflowAccessPolicies", function () {
  const env = useDaprdEnvironment();
  const ns = useNamespace("daprd-kinds", DAPRD_NAMESPACE_LABELS);
  const scratch = `${repoRoot}.outrigger/daprd-kinds-e2e-${process.pid}`;
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  before(() => mkdirSync(scratch, { recursive: true }));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  afterEach(async function () {
    this.timeout(60_000);
    for (const c of children.splice(0)) c.kill("SIGTERM");
    for (const s of servers.splice(0)) s.close();
    await env.runner.stopAll();
  });

  it("delivers a declarative Subscription: listed in metadata with its rules and dead-letter topic, and a publish reaches its routes", async function () {
    await apply(ns.name, componentObject("pubsub", "pubsub.in-memory"), {
      apiVersion: "dapr.io/v2alpha1",
      kind: "Subscription",
      metadata: { name: "orders" },
      spec: {
        pubsubname: "pubsub",
        topic: "orders",
        routes: { rules: [{ match: 'event.type == "big"', path: "/orders/big" }], default: "/orders" },
        deadLetterTopic: "orders-dead",
      },
      scopes: ["subscriber"],
    });
    const network = await env.runner.allocateNetwork();
    const file = `${scratch}/${ns.name}-subscriber.jsonl`;
    children.push(startAppInPod(network.netns, file));
    const sidecar = await runDaprPod(
      env,
      ns.name,
      "subscriber",
      { "dapr.io/app-port": String(APP_PORT) },
      { network },
    );
    await waitHealthy(sidecar);
    const subs = await eventually(
      async () => {
        const s = (await metadata(sidecar)).subscriptions as Array<Record<string, unknown>> | undefined;
        expect(s, "subscriptions in metadata").to.have.length(1);
        return s!;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    console.log(`      metadata subscriptions: ${JSON.stringify(subs)}`);
    expect(subs[0]).to.include({ pubsubname: "pubsub", topic: "orders", deadLetterTopic: "orders-dead" });
    expect(subs[0]!.rules).to.deep.equal([
      { match: 'event.type == "big"', path: "/orders/big" },
      { path: "/orders" },
    ]);

    const publish = (body: string, contentType: string) =>
      sidecar.fetchInPod(DAPR_HTTP, "/v1.0/publish/pubsub/orders", {
        method: "POST",
        body,
        headers: { "content-type": contentType },
      });
    const plain = await publish(JSON.stringify({ id: 1 }), "application/json");
    expect(plain.status, plain.body).to.equal(204);
    const big = await publish(
      JSON.stringify({
        specversion: "1.0",
        type: "big",
        source: "e2e",
        id: "big-1",
        datacontenttype: "application/json",
        data: { id: 2 },
      }),
      "application/cloudevents+json",
    );
    expect(big.status, big.body).to.equal(204);
    const got = await eventually(
      async () => {
        const r = received(file);
        expect(r.map((x) => x.path).sort()).to.deep.equal(["/orders", "/orders/big"]);
        return r;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    console.log(`      the app received: ${got.map((r) => `${r.path} ${r.body.slice(0, 80)}`).join(" | ")}`);
    expect(JSON.parse(got.find((r) => r.path === "/orders")!.body).data).to.deep.equal({ id: 1 });
    expect(JSON.parse(got.find((r) => r.path === "/orders/big")!.body).data).to.deep.equal({ id: 2 });

    // The status says whether the pub/sub it names reaches the app; one naming none is still delivered.
    await apply(ns.name, {
      apiVersion: "dapr.io/v2alpha1",
      kind: "Subscription",
      metadata: { name: "orphan" },
      spec: { pubsubname: "nowhere", topic: "orders", routes: { default: "/orphan" } },
      scopes: ["subscriber"],
    });
    const pubsubCondition = async (name: string) => {
      const out = await kubectl(["get", "subscriptions.v2alpha1.dapr.io", name, "-o", "json"], {
        namespace: ns.name,
      });
      const status = (JSON.parse(out.stdout) as { status?: { conditions?: Array<Record<string, string>> } })
        .status;
      return {
        ready: status?.conditions?.find((c) => c.type === "Ready"),
        pubsub: status?.conditions?.find((c) => c.type === "PubSubInScope"),
      };
    };
    const orphan = await eventually(
      async () => {
        const c = await pubsubCondition("orphan");
        expect(c.pubsub?.status, JSON.stringify(c)).to.equal("False");
        return c;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    console.log(
      `      Subscription "orphan" (pubsubname "nowhere"): ${orphan.pubsub?.reason}: ${orphan.pubsub?.message}`,
    );
    expect(orphan.pubsub?.reason).to.equal("PubSubNotFound");
    expect(orphan.pubsub?.message).to.include('"nowhere"').and.include("subscriber");
    expect(orphan.ready?.status, "still delivered").to.equal("True");
    const found = await pubsubCondition("orders");
    expect(found.pubsub).to.include({ status: "True", reason: "PubSubFound" });
    await eventually(
      async () => {
        const text = readFileSync(`${sidecar.volumeDir(SIDECAR_CONFIG_VOLUME)}/${SUBSCRIPTIONS_KEY}`, "utf8");
        expect(text, "the orphan Subscription is in the app's file").to.include("name: orphan\n");
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
  });

  it("invokes an HTTPEndpoint with its headers (one from a Secret), retried as its Resiliency says", async function () {
    const network = await env.runner.allocateNetwork();
    const receiver = await startReceiver(network.hostIP);
    servers.push(receiver.server);
    await apply(
      ns.name,
      secretObject("billing-token", { token: "Bearer from-a-secret" }),
      httpEndpointObject("billing", `http://${network.hostIP}:${receiver.port}`, [
        { name: "Authorization", secretKeyRef: { name: "billing-token", key: "token" } },
        { name: "X-Plain", value: "plain" },
      ]),
      resiliencyObject("retry-billing", "billing", 2),
    );
    const sidecar = await runDaprPod(env, ns.name, "caller", {}, { network });
    await waitHealthy(sidecar);
    const meta = await metadata(sidecar);
    console.log(`      metadata httpEndpoints: ${JSON.stringify(meta.httpEndpoints)}`);
    expect(meta.httpEndpoints).to.deep.equal([{ name: "billing" }]);

    const ok = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/invoke/billing/method/hello");
    expect(ok.status, ok.body).to.equal(200);
    const first = receiver.hits.at(-1)!;
    expect(first.path).to.equal("/hello");
    expect(first.headers.authorization).to.equal("Bearer from-a-secret");
    expect(first.headers["x-plain"]).to.equal("plain");

    receiver.hits.length = 0;
    receiver.failFirst(2);
    const retried = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/invoke/billing/method/flaky");
    console.log(
      `      receiver answered 500, 500, 200: daprd sent ${receiver.hits.length} requests and returned ${retried.status}`,
    );
    expect(retried.status, retried.body).to.equal(200);
    expect(receiver.hits.map((h) => h.path)).to.deep.equal(["/flaky", "/flaky", "/flaky"]);

    // Without retries left, the caller sees the 500: the count above is the policy's doing.
    receiver.hits.length = 0;
    receiver.failFirst(5);
    const exhausted = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/invoke/billing/method/flaky");
    console.log(
      `      receiver answers 500 five times: daprd sent ${receiver.hits.length} requests, returned ${exhausted.status}`,
    );
    expect(exhausted.status).to.equal(500);
    expect(receiver.hits).to.have.length(3);
    expect(loadErrors(sidecar), "daprd load errors").to.deep.equal([]);
  });

  it("measures a change to a delivered Resiliency and HTTPEndpoint: restarts of daprd's runtime, and whether it survives", async function () {
    this.timeout(10 * 60_000);
    const network = await env.runner.allocateNetwork();
    const receiver = await startReceiver(network.hostIP);
    servers.push(receiver.server);
    const baseUrl = `http://${network.hostIP}:${receiver.port}`;
    await apply(
      ns.name,
      httpEndpointObject("svc", baseUrl, [{ name: "X-Version", value: "0" }]),
      resiliencyObject("retry-svc", "svc", 1),
    );
    const sidecar = await runDaprPod(env, ns.name, "changes", {}, { network, verbose: false });
    await waitHealthy(sidecar);

    /** Requests one always-failing invocation makes (1 + maxRetries), or undefined when daprd does not answer. */
    const attempts = async (): Promise<number | undefined> => {
      receiver.hits.length = 0;
      receiver.failFirst(100);
      const r = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/invoke/svc/method/count").catch(() => undefined);
      receiver.failFirst(0);
      return r && r.status === 500 ? receiver.hits.length : undefined;
    };
    const version = async (): Promise<string | undefined> => {
      receiver.hits.length = 0;
      const r = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/invoke/svc/method/version").catch(() => undefined);
      const h = receiver.hits.at(-1)?.headers["x-version"];
      return r?.status === 200 && typeof h === "string" ? h : undefined;
    };
    expect(await attempts()).to.equal(2);
    expect(await version()).to.equal("0");

    const ROUNDS = 5;
    const changes: Array<{ what: string; change: () => Promise<unknown>; seen: () => Promise<boolean> }> = [];
    for (let i = 1; i <= ROUNDS; i++) {
      const retries = 1 + i; // 2, 3, ...: a real change every time
      changes.push({
        what: `Resiliency maxRetries -> ${retries}`,
        change: () => apply(ns.name, resiliencyObject("retry-svc", "svc", retries)),
        seen: async () => (await attempts()) === retries + 1,
      });
      changes.push({
        what: `HTTPEndpoint header X-Version -> ${i}`,
        change: () =>
          apply(ns.name, httpEndpointObject("svc", baseUrl, [{ name: "X-Version", value: String(i) }])),
        seen: async () => (await version()) === String(i),
      });
    }
    const rows: string[] = [];
    for (const c of changes) {
      const hupsBefore = sighups(sidecar);
      const before = performance.now();
      await c.change();
      const write = await sidecar.waitForWrite(before, 30_000);
      let ms: number | undefined;
      while (performance.now() - write.eventAt < 70_000 && sidecar.exitedWith() === undefined) {
        if (await c.seen().catch(() => false)) {
          ms = performance.now() - write.eventAt;
          break;
        }
        await sleep(200);
      }
      // Let late file events land before counting this change's restarts.
      await sleep(3000);
      const exited = sidecar.exitedWith();
      const row = `${c.what}: ${ms === undefined ? "never applied" : `applied ${Math.round(ms)} ms after the Secret event`}; SIGHUP restarts ${sighups(sidecar) - hupsBefore}; daprd ${exited === undefined ? "alive" : `exited (${exited})`}`;
      rows.push(row);
      console.log(`      ${row}`);
      if (exited !== undefined) break;
    }
    const total = sighups(sidecar);
    const exited = sidecar.exitedWith();
    console.log(
      `      ${rows.length} changes: ${total} SIGHUP restarts in all; daprd ${exited === undefined ? "survived" : `EXITED (${exited})`}`,
    );
    if (exited !== undefined) console.log(sidecar.logs().slice(-6000));
    // daprd's own restart race (docs/sidecar-config.md): two in-process restarts close together
    // can leave the previous runtime holding its gRPC port, and daprd exits; the kubelet then
    // restarts the container. Seen in CI on 2026-12-01. Any other exit is a failure: it would
    // mean daprd refused what we rendered.
    if (exited !== undefined)
      expect(sidecar.logs(), "daprd exited, and not from its known restart race").to.match(
        /failed to start API gRPC server: could not listen on any endpoint/,
      );
    expect(
      rows.filter((r) => r.includes("never applied") && r.endsWith("daprd alive")),
      "changes a running daprd never applied",
    ).to.deep.equal([]);
  });

  it("loads a delivered MCPServer and WorkflowAccessPolicy (metadata lists them) and hot-reloads a change to each", async function () {
    this.timeout(5 * 60_000);
    const network = await env.runner.allocateNetwork();
    const mcp = await startMcpServer(network.hostIP);
    servers.push(mcp.server);
    const mcpUrl = (v: string) => `http://${network.hostIP}:${mcp.port}/mcp/${v}`;
    await apply(
      ns.name,
      secretObject("mcp-token", { token: "Bearer mcp-secret" }),
      mcpServerObject("tools", mcpUrl("v1"), [
        { name: "Authorization", secretKeyRef: { name: "mcp-token", key: "token" } },
      ]),
      workflowAccessPolicyObject("front-orders", "order*"),
      // Scoped to another app: must not reach this one.
      workflowAccessPolicyObject("not-mine", "other*", ["someone-else"]),
      // Without ignoreErrors daprd would exit (no placement service): the controller holds it back.
      mcpServerObject("strict", mcpUrl("strict"), [], false),
    );
    const sidecar = await runDaprPod(env, ns.name, "agent", {}, { network });
    await waitHealthy(sidecar);
    const delivered = readFileSync(`${sidecar.volumeDir(SIDECAR_CONFIG_VOLUME)}/${MCP_SERVERS_KEY}`, "utf8");
    expect(delivered, "the header's Secret is resolved in the file").to.include("value: Bearer mcp-secret");
    const meta = await eventually(
      async () => {
        const m = await metadata(sidecar);
        expect(m.mcpServers, "mcpServers in metadata").to.deep.equal([{ name: "tools" }]);
        expect(m.workflowAccessPolicies, "workflowAccessPolicies in metadata").to.deep.equal([
          { name: "front-orders" },
        ]);
        return m;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    console.log(
      `      metadata mcpServers: ${JSON.stringify(meta.mcpServers)}, workflowAccessPolicies: ${JSON.stringify(meta.workflowAccessPolicies)}`,
    );
    const logLines = (re: RegExp) =>
      sidecar
        .logs()
        .split("\n")
        .filter((l) => re.test(l));
    for (const l of logLines(/MCPServer|workflow access polic/i))
      console.log(`      daprd: ${l.slice(0, 240)}`);
    expect(logLines(/MCPServer loaded: tools/), "daprd's load of the MCPServer").to.have.length(1);
    // What daprd 1.18.2 does next without a placement service; ignoreErrors keeps it running.
    expect(
      logLines(/Ignoring error processing MCPServer.*placement service is not configured/),
    ).to.have.length(1);
    const strictReady = await eventually(
      async () => {
        const strict = JSON.parse(
          (await kubectl(["get", "mcpserver", "strict", "-o", "json"], { namespace: ns.name })).stdout,
        ) as { status?: { conditions?: Array<Record<string, string>> } };
        const ready = strict.status?.conditions?.find((c) => c.type === "Ready");
        expect(ready, "status of the MCPServer without ignoreErrors").to.not.equal(undefined);
        return ready;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    console.log(
      `      MCPServer "strict" (no ignoreErrors): Ready=${strictReady?.status} ${strictReady?.reason}: ${strictReady?.message}`,
    );
    expect(strictReady).to.include({ status: "False", reason: "NotDeliverable" });
    // The delivered ones report Ready with the number of apps, through their status subresource.
    for (const [resource, name] of [
      ["mcpserver", "tools"],
      ["workflowaccesspolicy", "front-orders"],
      ["workflowaccesspolicy", "not-mine"],
    ] as const) {
      const status = await eventually(
        async () => {
          const obj = JSON.parse(
            (await kubectl(["get", resource, name, "-o", "json"], { namespace: ns.name })).stdout,
          ) as { status?: { appCount?: number; conditions?: Array<Record<string, string>> } };
          expect(
            obj.status?.conditions?.find((c) => c.type === "Ready")?.status,
            `${resource} ${name}`,
          ).to.equal("True");
          return obj.status!;
        },
        { timeoutMs: 30_000, intervalMs: 300 },
      );
      console.log(`      ${resource} ${name}: Ready=True, appCount ${status.appCount}`);
      expect(status.appCount).to.equal(name === "not-mine" ? 0 : 1);
    }
    expect(delivered, "not in the app's file").to.not.include("name: strict\n");
    const v1Calls = mcp.calls.filter((c) => c.path === "/mcp/v1");
    console.log(
      `      the MCP server got: ${v1Calls.map((c) => `${c.method || "(answer)"} [Authorization: ${c.authorization ?? "none"}]`).join(", ")}`,
    );
    expect(v1Calls.map((c) => c.method)).to.include.members(["initialize", "tools/list"]);
    expect(
      v1Calls.every((c) => c.authorization === "Bearer mcp-secret"),
      "the Secret-backed header",
    ).to.equal(true);

    /** Applies a change, then waits until daprd shows it; the time from the Secret event to that. */
    const timeChange = async (what: string, change: () => Promise<unknown>, seen: () => Promise<boolean>) => {
      const before = performance.now();
      await change();
      const write = await sidecar.waitForWrite(before, 30_000);
      let ms: number | undefined;
      while (performance.now() - write.eventAt < 70_000 && sidecar.exitedWith() === undefined) {
        if (await seen().catch(() => false)) {
          ms = performance.now() - write.eventAt;
          break;
        }
        await sleep(100);
      }
      console.log(
        `      ${what}: ${ms === undefined ? "NEVER seen" : `seen ${Math.round(ms)} ms after the Secret event`}`,
      );
      return ms;
    };
    const names = async (field: string) =>
      ((await metadata(sidecar))[field] as Array<{ name: string }> | undefined)?.map((x) => x.name).sort() ??
      [];
    let watchFrom = 0;
    const times = [
      await timeChange(
        "MCPServer url changed",
        () =>
          apply(
            ns.name,
            mcpServerObject("tools", mcpUrl("v2"), [
              { name: "Authorization", secretKeyRef: { name: "mcp-token", key: "token" } },
            ]),
          ),
        async () => logLines(/MCPServer updated via hot-reload: tools \(.*\/mcp\/v2\)/).length > 0,
      ),
      await timeChange(
        "MCPServer added",
        () => apply(ns.name, mcpServerObject("more-tools", mcpUrl("more"))),
        async () => (await names("mcpServers")).join(",") === "more-tools,tools",
      ),
      await timeChange(
        "WorkflowAccessPolicy added",
        () => apply(ns.name, workflowAccessPolicyObject("front-payments", "payment*")),
        async () => (await names("workflowAccessPolicies")).join(",") === "front-orders,front-payments",
      ),
      await timeChange(
        "WorkflowAccessPolicy rules changed",
        () => {
          const recompiled = logLines(/Recompiled \d+ workflow access policy/).length;
          watchFrom = recompiled;
          return apply(ns.name, workflowAccessPolicyObject("front-orders", "orders-v2*"));
        },
        async () => logLines(/Recompiled \d+ workflow access policy/).length > watchFrom,
      ),
      await timeChange(
        "MCPServer deleted",
        () => kubectl(["delete", "mcpserver", "more-tools"], { namespace: ns.name }),
        async () => (await names("mcpServers")).join(",") === "tools",
      ),
    ];
    expect(sidecar.exitedWith(), `daprd exited; log:\n${sidecar.logs().slice(-4000)}`).to.equal(undefined);
    expect(
      times.filter((t) => t === undefined),
      "changes daprd never showed",
    ).to.deep.equal([]);
    console.log(
      `      slowest: ${Math.round(Math.max(...(times as number[])))} ms (goal < 10000 ms); SIGHUP restarts ${sighups(sidecar)}`,
    );
    expect(Math.max(...(times as number[]))).to.be.below(10_000);
    expect(
      sighups(sidecar),
      "MCPServer and WorkflowAccessPolicy changes are hot-reloaded, not restarts",
    ).to.equal(0);
    expect(loadErrors(sidecar), "daprd load errors").to.deep.equal([]);
  });

  for (const kind of [
    "Subscription",
    "Resiliency",
    "HTTPEndpoint",
  ] as const satisfies readonly CorpusKind[]) {
    it(`loads every ${kind} of Dapr's docs, as the controller renders it, with 0 load errors`, async function () {
      this.timeout(10 * 60_000);
      const files = corpusFiles(kind);
      const rows: string[] = [];
      let errors = 0;
      for (const [i, f] of files.entries()) {
        const doc = load(f.text) as { metadata?: Record<string, unknown>; scopes?: string[]; spec?: unknown };
        const app = `corpus-${kind.toLowerCase()}-${i}`;
        const name = `doc-${i}`;
        // The docs' names are placeholders or repeat; scopes name apps of the docs: ours is in them.
        const obj = {
          ...doc,
          metadata: { ...doc.metadata, name, namespace: ns.name },
          scopes: doc.scopes ? [app] : undefined,
        };
        const secrets = [...f.text.matchAll(/secretKeyRef:\s*\n\s*name:\s*(\S+)\s*\n\s*key:\s*(\S+)/g)].map(
          (m) => ({
            name: m[1]!,
            key: m[2]!,
          }),
        );
        const withStore = /secretStore:/.test(f.text);
        // Secrets the Kubernetes store resolves must exist (their names may be placeholders: kept valid).
        const secretName = (n: string) =>
          n
            .toLowerCase()
            .replace(/[^a-z0-9.-]/g, "x")
            .replace(/^[^a-z0-9]+/, "s");
        let text = JSON.stringify(obj);
        for (const s of withStore ? [] : secrets)
          text = text.split(`"name":"${s.name}"`).join(`"name":"${secretName(s.name)}"`);
        const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        const secretsByName = new Map<string, Record<string, string>>();
        for (const s of withStore ? [] : secrets) {
          const data = secretsByName.get(secretName(s.name)) ?? {};
          data[s.key] = s.key.endsWith(".crt") || s.key.endsWith(".key") ? pem : "value";
          secretsByName.set(secretName(s.name), data);
        }
        await apply(
          ns.name,
          ...[...secretsByName].map(([n, d]) => secretObject(n, d)),
          JSON.parse(text) as object,
        );
        await createDaprPod(ns.name, app, app);
        await waitForSidecarConfig(ns.name, app);
        const sidecar = await env.runner.start(ns.name, app, { verbose: false });
        try {
          const t0 = performance.now();
          while (performance.now() - t0 < 60_000 && sidecar.exitedWith() === undefined) {
            if (sidecar.logs().includes("dapr initialized. Status: Running")) break;
            await sleep(200);
          }
          const bad = loadErrors(sidecar);
          const exited = sidecar.exitedWith();
          const key = {
            Subscription: SUBSCRIPTIONS_KEY,
            Resiliency: RESILIENCY_KEY,
            HTTPEndpoint: HTTP_ENDPOINTS_KEY,
          }[kind];
          const delivered = readFileSync(
            `${sidecar.volumeDir(SIDECAR_CONFIG_VOLUME)}/${key}`,
            "utf8",
          ).includes(`name: ${name}\n`);
          errors += bad.length + (exited === undefined ? 0 : 1);
          rows.push(
            `${f.name}: ${exited === undefined ? "daprd running" : `daprd exited (${exited})`}, ${bad.length} load errors${bad.length ? `: ${bad[0]!.slice(0, 300)}` : ""}`,
          );
          expect(delivered, `${f.name} is in the app's ${key}`).to.equal(true);
        } finally {
          await sidecar.stop();
        }
      }
      console.log(`      ${kind}: ${files.length} files of the corpus, ${errors} load errors or exits`);
      for (const r of rows) console.log(`        ${r}`);
      expect(errors, rows.join("\n")).to.equal(0);
    });
  }
});
