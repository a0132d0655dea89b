// The real daprd, run by the sidecar runner (harness/sidecar-runner.ts) for pods injected by the
// real injector, fed the sidecar config that the real controller writes. Every observation is
// made from outside daprd: its APIs (from inside the pod, as an app calls them), its probes and
// metrics on the pod address, what it sends to a receiver on the host end of its veth, files it
// writes, and its log.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { DatabaseSync } from "node:sqlite";
import { expect } from "chai";
import {
  COMPONENTS_KEY,
  CONFIGURATION_KEY,
  SIDECAR_CONFIG_ITEMS,
  SIDECAR_CONFIG_VOLUME,
} from "../../src/sidecar/config-secret.ts";
import { repoRoot } from "./harness/cluster.ts";
import {
  DAPRD_NAMESPACE_LABELS,
  apply,
  componentObject,
  deleteComponent,
  loadedComponents,
  podEventMessages,
  readDaprResource,
  runDaprPod,
  secretObject,
  useDaprdEnvironment,
  configurationObject,
  expectStarted,
} from "./harness/daprd-env.ts";
import { useNamespace } from "./harness/namespace.ts";
import type { Sidecar } from "./harness/sidecar-runner.ts";
import { eventually, sleep } from "./harness/util.ts";

const DAPR_HTTP = 3500;
const METRICS = 9090;
/** How long a hot-reload update may take, from the Secret's watch event to daprd using it. */
const RELOAD_BOUND_MS = 10_000;
/** How long the reload spec keeps looking after the bound, to print the real time (daprd's backup reconcile is 60 s). */
const RELOAD_MEASURE_MS = 70_000;

async function metadata(sidecar: Sidecar): Promise<Record<string, unknown>> {
  const res = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/metadata");
  expect(res.status, `metadata API: ${res.body}`).to.equal(200);
  return JSON.parse(res.body) as Record<string, unknown>;
}

async function invokeBinding(sidecar: Sidecar, name: string, body: object) {
  return sidecar.fetchInPod(DAPR_HTTP, `/v1.0/bindings/${name}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
}

interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
}

/** An OTLP/HTTP endpoint on the host end of a pod's veth: it records requests and answers 200. */
async function startOtlpReceiver(
  host: string,
): Promise<{ server: Server; port: number; requests: ReceivedRequest[] }> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (d: Buffer) => (bytes += d.length));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, bytes });
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  return { server, port: (server.address() as { port: number }).port, requests };
}

describe("daprd (real runtime)", function () {
  const env = useDaprdEnvironment();
  const ns = useNamespace("daprd", DAPRD_NAMESPACE_LABELS);
  // Host directories that daprd writes to (localstorage roots, a sqlite name-resolution file).
  const scratch = `${repoRoot}.outrigger/daprd-e2e-${process.pid}`;
  const scratchDir = (name: string) => {
    const dir = `${scratch}/${ns.name}/${name}`;
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  after(() => rmSync(scratch, { recursive: true, force: true }));
  afterEach(async function () {
    this.timeout(60_000);
    await env.runner.stopAll();
  });

  it("runs the injected daprd in its own network namespace, and its probes pass", async function () {
    await apply(ns.name, componentObject("store", "state.in-memory"));
    const created = performance.now();
    const sidecar = await runDaprPod(env, ns.name, "hello");
    // At the kubelet's pace: the injected period and failureThreshold.
    const startup = await sidecar.runProbe("startup");
    expect(startup.ok, `startup probe: ${startup.last.detail}\n${sidecar.logs()}`).to.equal(true);
    console.log(
      `      daprd at ${sidecar.network.podIP}: startup probe passed on attempt ${startup.attempts}, ${Math.round(performance.now() - created)} ms after the pod was created`,
    );
    const readiness = await sidecar.runProbe("readiness");
    expect(readiness.ok, `readiness probe: ${readiness.last.detail}`).to.equal(true);
    expect((await sidecar.probe("liveness")).ok, "liveness probe").to.equal(true);
    expect([...(await loadedComponents(sidecar)).keys()]).to.deep.equal(["store"]);
    expect((await metadata(sidecar)).id).to.equal("hello");
    // The container's env as the kubelet resolves it, and its args untouched but for the binary.
    expect(sidecar.env.NAMESPACE).to.equal(ns.name);
    expect(sidecar.env.POD_NAME).to.equal("hello");
    // With mTLS (the default) the runner points --sentry-address, a Service name (no cluster DNS
    // here), at the spec's Sentry on the pod's host end; nothing else differs.
    const injectedArgs = sidecar.container.args!.slice(1);
    const at = injectedArgs.indexOf("--sentry-address");
    expect(at, "injected with mTLS").to.be.greaterThan(0);
    expect(sidecar.argv.slice(1)).to.deep.equal(
      injectedArgs.map((a, i) => (i === at + 1 ? `${sidecar.network.hostIP}:${env.sentry!.grpcPort}` : a)),
    );
    // The Dapr API listens on loopback only: not reachable on the pod address.
    const outside = await fetch(sidecar.url(DAPR_HTTP, "/v1.0/healthz")).then(
      () => "reachable",
      () => "refused",
    );
    expect(outside).to.equal("refused");
  });

  it("loads the components: a state save/get round trip and a publish work", async function () {
    await apply(
      ns.name,
      componentObject("statestore", "state.in-memory"),
      componentObject("pubsub", "pubsub.in-memory"),
    );
    const sidecar = await runDaprPod(env, ns.name, "orders");
    await expectStarted(sidecar);
    expect(Object.fromEntries(await loadedComponents(sidecar))).to.deep.equal({
      statestore: "state.in-memory",
      pubsub: "pubsub.in-memory",
    });
    const save = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/state/statestore", {
      method: "POST",
      body: JSON.stringify([{ key: "order-1", value: { qty: 3 } }]),
      headers: { "content-type": "application/json" },
    });
    expect(save.status, save.body).to.equal(204);
    const get = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/state/statestore/order-1");
    expect(get.status).to.equal(200);
    expect(JSON.parse(get.body)).to.deep.equal({ qty: 3 });
    const publish = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/publish/pubsub/orders", {
      method: "POST",
      body: JSON.stringify({ id: 1 }),
      headers: { "content-type": "application/json" },
    });
    expect(publish.status, publish.body).to.equal(204);
    // And a pubsub that does not exist is an error, so the 204 above means something.
    const missing = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/publish/nope/orders", {
      method: "POST",
      body: "{}",
    });
    expect(missing.status).to.be.greaterThanOrEqual(400);
  });

  it("resolves a secretKeyRef: localstorage writes under the rootPath taken from a Secret", async function () {
    const root = scratchDir("from-secret");
    await apply(
      ns.name,
      secretObject("storage", { root }),
      componentObject("files", "bindings.localstorage", [
        { name: "rootPath", secretKeyRef: { name: "storage", key: "root" } },
      ]),
    );
    const sidecar = await runDaprPod(env, ns.name, "writer");
    await expectStarted(sidecar);
    const res = await invokeBinding(sidecar, "files", {
      operation: "create",
      data: "hello from daprd",
      metadata: { fileName: "greeting.txt" },
    });
    expect(res.status, res.body).to.equal(200);
    expect(readFileSync(`${root}/greeting.txt`, "utf8")).to.contain("hello from daprd");
  });

  it("applies a Configuration: features, tracing with otel headers, metrics and nameResolution", async function () {
    const network = await env.runner.allocateNetwork();
    const receiver = await startOtlpReceiver(network.hostIP);
    try {
      const names = `${scratchDir("names")}/names.db`;
      await apply(
        ns.name,
        secretObject("otel", { tenant: "shop" }),
        componentObject("statestore", "state.in-memory"),
        configurationObject("observed", {
          features: [{ name: "ActorStateTTL", enabled: true }],
          tracing: {
            samplingRate: "1",
            otel: {
              endpointAddress: `${network.hostIP}:${receiver.port}`,
              isSecure: false,
              protocol: "http",
              headers: [
                { name: "x-api-key", value: "k-123" },
                { name: "x-tenant", secretKeyRef: { name: "otel", key: "tenant" } },
              ],
            },
          },
          metric: { enabled: true, latencyDistributionBuckets: [7, 77, 777] },
          nameResolution: { component: "sqlite", version: "v1", configuration: { connectionString: names } },
        }),
      );
      const sidecar = await runDaprPod(
        env,
        ns.name,
        "observed",
        { "dapr.io/config": "observed" },
        { network },
      );
      await expectStarted(sidecar);

      // features: the metadata API lists the enabled ones.
      expect((await metadata(sidecar)).enabledFeatures).to.include("ActorStateTTL");

      // A traced call, so there is a span to export and a latency to record.
      const save = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/state/statestore", {
        method: "POST",
        body: JSON.stringify([{ key: "k", value: "v" }]),
        headers: { "content-type": "application/json" },
      });
      expect(save.status, save.body).to.equal(204);

      // tracing: the exporter posts to the receiver, with both headers (one from the Secret).
      const exported = await eventually(
        async () => {
          const r = receiver.requests.find((q) => q.path === "/v1/traces");
          expect(r, `OTLP requests: ${JSON.stringify(receiver.requests.map((q) => q.path))}`).to.not.equal(
            undefined,
          );
          return r!;
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      );
      expect(exported.method).to.equal("POST");
      expect(exported.bytes).to.be.greaterThan(0);
      expect(exported.headers["x-api-key"]).to.equal("k-123");
      expect(exported.headers["x-tenant"]).to.equal("shop");
      console.log(
        `      otel: ${receiver.requests.length} export request(s), headers x-api-key=${String(exported.headers["x-api-key"])} x-tenant=${String(exported.headers["x-tenant"])}`,
      );

      // metrics: served on the pod address, with the configured latency buckets.
      await eventually(async () => {
        const text = await (await fetch(sidecar.url(METRICS, "/metrics"))).text();
        const buckets = text.split("\n").filter((l) => l.startsWith("dapr_http_server_latency_bucket"));
        expect(
          buckets.some((l) => l.includes('le="77"')),
          "bucket le=77",
        ).to.equal(true);
        expect(
          buckets.some((l) => l.includes('le="777"')),
          "bucket le=777",
        ).to.equal(true);
      });

      // nameResolution: daprd says so, and registered its own address in the sqlite table.
      expect(sidecar.logs()).to.contain("Initialized name resolution to sqlite");
      const db = new DatabaseSync(names, { readOnly: true });
      try {
        const rows = db.prepare("SELECT app_id, address FROM hosts").all() as Array<{
          app_id: string;
          address: string;
        }>;
        expect(rows.map((r) => r.app_id)).to.deep.equal(["observed"]);
        expect(rows[0]?.address).to.match(
          new RegExp(`^${sidecar.network.podIP.replaceAll(".", "\\.")}:\\d+$`),
        );
      } finally {
        db.close();
      }
    } finally {
      receiver.server.close();
    }
  });

  it("starts daprd with a Configuration whose otel headers have a value and a secretKeyRef", async function () {
    await apply(
      ns.name,
      secretObject("otel", { key: "k-456" }),
      configurationObject("otel-headers", {
        tracing: {
          samplingRate: "1",
          otel: {
            endpointAddress: "127.0.0.1:4318",
            isSecure: false,
            protocol: "http",
            headers: [
              { name: "x-tenant", value: "shop" },
              { name: "x-api-key", secretKeyRef: { name: "otel", key: "key" } },
            ],
          },
        },
      }),
    );
    const sidecar = await runDaprPod(env, ns.name, "traced", { "dapr.io/config": "otel-headers" });
    await expectStarted(sidecar);
    await sleep(1000);
    expect(sidecar.exitedWith(), `daprd exited; log:\n${sidecar.logs().slice(-4000)}`).to.equal(undefined);
    expect(sidecar.logs()).to.not.contain("error loading configuration");
  });

  // Four kinds of update are hot-reloaded by the running daprd. The fifth, a changed
  // Configuration, is delivered to the volume as fast, but standalone daprd applies it only when
  // it starts: the layout keeps the Configuration out of the resources path, because there it
  // made daprd restart its runtime on every update and, once in seven runs, exit (docs/sidecar-config.md).
  it("delivers five consecutive updates within 10 s of the Secret write: four hot-reloaded without a restart, the Configuration at daprd's next start", async function () {
    this.timeout(8 * 60_000);
    const roots = Object.fromEntries(
      ["a", "b", "c", "d"].map((k) => {
        const dir = scratchDir(`root-${k}`);
        writeFileSync(`${dir}/marker.txt`, k);
        return [k, dir];
      }),
    );
    await apply(
      ns.name,
      secretObject("storage", { root: roots.a! }),
      configurationObject("reload", { features: [{ name: "ActorStateTTL", enabled: false }] }),
      componentObject("base", "state.in-memory"),
      componentObject("files", "bindings.localstorage", [
        { name: "rootPath", secretKeyRef: { name: "storage", key: "root" } },
      ]),
      componentObject("plain", "bindings.localstorage", [{ name: "rootPath", value: roots.c }]),
    );
    const sidecar = await runDaprPod(env, ns.name, "reload", { "dapr.io/config": "reload" });
    await expectStarted(sidecar);
    const marker = async (binding: string) => {
      const res = await invokeBinding(sidecar, binding, {
        operation: "get",
        metadata: { fileName: "marker.txt" },
      });
      return res.status === 200 ? res.body.replaceAll('"', "") : `HTTP ${res.status}`;
    };
    const components = async () => [...(await loadedComponents(sidecar)).keys()];
    const features = async () => (await metadata(sidecar)).enabledFeatures as string[];
    expect((await components()).sort()).to.deep.equal(["base", "files", "plain"]);
    expect(await marker("files")).to.equal("a");
    expect(await marker("plain")).to.equal("c");
    expect(await features()).to.not.include("ActorStateTTL");

    const configurationFile = () =>
      readFileSync(
        `${sidecar.volumeDir(SIDECAR_CONFIG_VOLUME)}/${SIDECAR_CONFIG_ITEMS.find((i) => i.key === CONFIGURATION_KEY)!.path}`,
        "utf8",
      );
    const updates: Array<{
      what: string;
      change: () => Promise<unknown>;
      seen: () => Promise<boolean>;
      /** Where the update is seen: by the running daprd, or in its mounted file until it next starts. */
      by: "daprd" | "file";
    }> = [
      {
        what: "add a component",
        change: () => apply(ns.name, componentObject("added", "state.in-memory")),
        seen: async () => (await components()).includes("added"),
        by: "daprd",
      },
      {
        what: "change a referenced Secret value",
        change: () => apply(ns.name, secretObject("storage", { root: roots.b! })),
        seen: async () => (await marker("files")) === "b",
        by: "daprd",
      },
      {
        what: "remove a component",
        change: () => deleteComponent(ns.name, "added"),
        seen: async () => !(await components()).includes("added"),
        by: "daprd",
      },
      {
        what: "change the Configuration",
        change: () =>
          apply(
            ns.name,
            configurationObject("reload", { features: [{ name: "ActorStateTTL", enabled: true }] }),
          ),
        seen: async () => /name: ActorStateTTL\n\s+enabled: true/.test(configurationFile()),
        by: "file",
      },
      {
        what: "change a component's metadata",
        change: () =>
          apply(
            ns.name,
            componentObject("plain", "bindings.localstorage", [{ name: "rootPath", value: roots.d }]),
          ),
        seen: async () => (await marker("plain")) === "d",
        by: "daprd",
      },
    ];
    const configurationStale = async () => {
      const status = (await readDaprResource(ns.name, "configurations", "reload")).status;
      const current = status?.conditions?.find((c) => c.type === "SidecarsCurrent");
      return status?.staleSidecars === 1 && current?.status === "False";
    };
    const stalePodMessages = async () =>
      (await podEventMessages(ns.name, "reload", "StaleSidecar")).filter((m) =>
        m.includes("Configuration changed at"),
      );
    const results: Array<{ what: string; ms: number }> = [];
    for (const [i, u] of updates.entries()) {
      const before = performance.now();
      await u.change();
      const write = await sidecar.waitForWrite(before, 30_000);
      let ms = Number.POSITIVE_INFINITY;
      while (performance.now() - write.eventAt < RELOAD_MEASURE_MS && sidecar.exitedWith() === undefined) {
        if (await u.seen().catch(() => false)) {
          ms = performance.now() - write.eventAt;
          break;
        }
        await sleep(100);
      }
      const exited = sidecar.exitedWith();
      results.push({ what: u.what, ms });
      if (u.by === "file" && Number.isFinite(ms)) {
        // daprd keeps the Configuration it started with: the controller must say that this pod
        // runs an older one, on the pod and in the Configuration's status.
        let flaggedMs = Number.POSITIVE_INFINITY;
        while (performance.now() - write.eventAt < RELOAD_MEASURE_MS) {
          if ((await configurationStale()) && (await stalePodMessages()).length > 0) {
            flaggedMs = performance.now() - write.eventAt;
            break;
          }
          await sleep(100);
        }
        results.push({ what: `${u.what}: pod flagged to restart`, ms: flaggedMs });
        console.log(
          `      reload ${i + 1} (${u.what}): the controller flagged the pod as running an older Configuration ${Number.isFinite(flaggedMs) ? `${Math.round(flaggedMs)} ms` : "never, within 70 s,"} after the Secret event: ${(await stalePodMessages()).at(-1) ?? "no Event"}`,
        );
      }
      const outcome = Number.isFinite(ms)
        ? u.by === "daprd"
          ? `daprd used it ${Math.round(ms)} ms after the Secret event`
          : `in daprd's mounted file ${Math.round(ms)} ms after the Secret event (applied at daprd's next start)`
        : exited !== undefined
          ? `daprd exited (${exited}) before using it`
          : `daprd did not use it within ${RELOAD_MEASURE_MS / 1000} s of the Secret event`;
      console.log(
        `      reload ${i + 1} (${u.what}): Secret written ${Math.round(write.eventAt - before)} ms after the API change; ${outcome}`,
      );
      // A daprd that ended will see none of the rest: the kubelet would restart it, the reload failed.
      if (exited !== undefined) break;
    }
    const restarts = sidecar
      .logs()
      .split("\n")
      .filter((l) => l.includes("Received signal 'hangup'")).length;
    console.log(
      `      daprd restarted in process (SIGHUP) ${restarts} time(s) during the ${updates.length} updates`,
    );
    const slow = results.filter((r) => !(r.ms < RELOAD_BOUND_MS));
    // Hot reload, not restarts: the runtime kept running through every update.
    expect(restarts, `daprd restarted its runtime; log:\n${sidecar.logs().slice(-8000)}`).to.equal(0);
    expect(await features(), "the running daprd keeps the Configuration it started with").to.not.include(
      "ActorStateTTL",
    );
    expect(
      sidecar.exitedWith(),
      `daprd ended during the updates; its log:\n${sidecar.logs().slice(-8000)}`,
    ).to.equal(undefined);
    expect(
      slow.map((r) => `${r.what}: ${Number.isFinite(r.ms) ? `${Math.round(r.ms)} ms` : "never"}`),
      `updates slower than ${RELOAD_BOUND_MS / 1000} s; daprd log:\n${sidecar.logs().slice(-8000)}`,
    ).to.deep.equal([]);

    // The container restarting (as after a pod restart) applies the changed Configuration, and
    // the runner reports the restart in the pod's status as the kubelet does: no longer stale.
    await sidecar.stop();
    const restarted = await env.runner.start(ns.name, "reload");
    await expectStarted(restarted);
    expect((await metadata(restarted)).enabledFeatures as string[]).to.include("ActorStateTTL");
    await eventually(
      async () => {
        const status = (await readDaprResource(ns.name, "configurations", "reload")).status;
        expect(status?.staleSidecars, JSON.stringify(status)).to.equal(0);
      },
      { timeoutMs: 15_000 },
    );
  });

  it("answers the injected probes as the kubelet expects; the startup probe passes while the app port is closed", async function () {
    const sidecar = await runDaprPod(env, ns.name, "slow-app", {
      "dapr.io/app-port": "8080",
      "dapr.io/sidecar-liveness-probe-delay-seconds": "1",
      "dapr.io/sidecar-liveness-probe-period-seconds": "1",
    });
    const probes = {
      startup: sidecar.container.startupProbe,
      readiness: sidecar.container.readinessProbe,
      liveness: sidecar.container.livenessProbe,
    };
    expect(probes.startup?.httpGet?.path).to.equal("/v1.0/healthz/outbound");
    expect(probes.readiness?.httpGet?.path).to.equal("/v1.0/healthz");
    expect(probes.liveness?.tcpSocket).to.not.equal(undefined);

    // Nothing listens on the app port inside the pod.
    const app = await sidecar.fetchInPod(8080, "/").then(
      () => "listening",
      () => "closed",
    );
    expect(app).to.equal("closed");

    // The startup probe, at the kubelet's pace, passes anyway: the app containers can start.
    const startup = await sidecar.runProbe("startup");
    expect(startup.ok, `startup probe: ${startup.last.detail}\n${sidecar.logs().slice(-4000)}`).to.equal(
      true,
    );
    expect(sidecar.logs()).to.contain("waiting on port 8080");
    const liveness = await sidecar.runProbe("liveness");
    expect(liveness.ok, `liveness probe: ${liveness.last.detail}`).to.equal(true);
    const notReady = await sidecar.probe("readiness");
    console.log(
      `      app port closed: startup probe passed on attempt ${startup.attempts} (${Math.round(startup.elapsedMs)} ms), liveness passes, readiness ${notReady.detail}`,
    );

    // The app comes up; readiness follows within its failureThreshold.
    const server = spawn(
      "ip",
      ["netns", "exec", sidecar.network.netns, "python3", "-m", "http.server", "8080", "--bind", "127.0.0.1"],
      { stdio: "ignore" },
    );
    try {
      const readiness = await eventually(
        async () => {
          const r = await sidecar.runProbe("readiness");
          expect(r.ok, `readiness probe: ${r.last.detail}`).to.equal(true);
          return r;
        },
        { timeoutMs: 30_000 },
      );
      console.log(`      app listening: readiness passed on attempt ${readiness.attempts}`);
      expect((await sidecar.probe("liveness")).ok).to.equal(true);
    } finally {
      server.kill("SIGTERM");
    }
  });

  it("keeps the Secret volume in the kubelet's layout: a new ..data directory per change, the old one removed", async function () {
    await apply(ns.name, componentObject("one", "state.in-memory"));
    const sidecar = await runDaprPod(env, ns.name, "layout", {}, { verbose: false });
    const dir = sidecar.volumeDir(SIDECAR_CONFIG_VOLUME);
    const visible = [...new Set(SIDECAR_CONFIG_ITEMS.map((i) => i.path.split("/")[0]!))];
    const entries = () => readdirSync(dir).sort();
    const first = readlinkSync(`${dir}/..data`);
    expect(first).to.match(/^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\./);
    expect(entries()).to.deep.equal([first, "..data", ...visible].sort());
    for (const v of visible) expect(readlinkSync(`${dir}/${v}`)).to.equal(`..data/${v}`);
    const before = performance.now();
    await apply(ns.name, componentObject("two", "state.in-memory"));
    await sidecar.waitForWrite(before);
    const second = readlinkSync(`${dir}/..data`);
    expect(second).to.not.equal(first);
    expect(entries(), "the old directory is gone").to.deep.equal([second, "..data", ...visible].sort());
    const componentsPath = SIDECAR_CONFIG_ITEMS.find((i) => i.key === COMPONENTS_KEY)!.path;
    expect(readFileSync(`${dir}/${componentsPath}`, "utf8")).to.contain("two");
  });
});
