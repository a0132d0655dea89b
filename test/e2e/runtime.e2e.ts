// The controller runtime against the real API server: informers that keep up through long
// watches, 410 Gone and an API-server outage, and leader election on a real Lease.
// Specs that stop the kube-apiserver are under a describe named "outage" (grep for it).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { CoordinationV1Api, Watch } from "@kubernetes/client-node";
import { expect } from "chai";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import type { KubernetesObject } from "@kubernetes/client-node";
import { classifyApiError } from "../../src/shared/api-errors.ts";
import { Informer } from "../../src/controller/runtime/informer.ts";
import { createKubeHttp } from "../../src/shared/kube-http.ts";
import {
  LeaderElector,
  kubeLeaseStore,
  type LeadershipEnd,
} from "../../src/controller/runtime/leader-election.ts";
import { runtimeMetrics } from "../../src/controller/runtime/metrics.ts";
import { resources } from "../../src/controller/runtime/resource.ts";
import {
  kubeListerWatcher,
  type ListerWatcher,
  type WatchEvent,
} from "../../src/controller/runtime/watch.ts";
import { cluster, repoRoot } from "./harness/cluster.ts";
import { useNamespace } from "./harness/namespace.ts";
import { eventually, kubectl, sleep } from "./harness/util.ts";

interface ConfigMap extends KubernetesObject {
  data?: Record<string, string>;
}

/** A logger that keeps its lines, printed when a spec fails. */
function capturedLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino({ level: "debug" }, { write: (s: string) => void lines.push(s.trimEnd()) }), lines };
}

/** Handler that records events as "add a", "update a", "delete a", "delete a (missed)". */
function recordEvents(informer: Informer<ConfigMap>): string[] {
  const seen: string[] = [];
  informer.addEventHandler({
    onAdd: (o) => seen.push(`add ${o.metadata!.name}`),
    onUpdate: (o, n) => {
      if (o.metadata!.resourceVersion !== n.metadata!.resourceVersion)
        seen.push(`update ${n.metadata!.name}`);
    },
    onDelete: (o, i) => seen.push(`delete ${o.metadata!.name}${i.finalStateUnknown ? " (missed)" : ""}`),
  });
  return seen;
}

async function metricSum(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

async function configMapVersions(namespace: string): Promise<Record<string, string>> {
  const out = await kubectl(["get", "configmaps", "-o", "json"], { namespace });
  const list = JSON.parse(out.stdout) as { items: ConfigMap[] };
  return Object.fromEntries(
    list.items.map((o) => [o.metadata!.name!, o.metadata!.resourceVersion!] as const),
  );
}

function cacheVersions(informer: Informer<ConfigMap>): Record<string, string> {
  return Object.fromEntries(
    informer.cache.list().map((o) => [o.metadata!.name!, o.metadata!.resourceVersion!] as const),
  );
}

const createCm = (namespace: string, name: string, value = "1") =>
  kubectl(["create", "configmap", name, `--from-literal=v=${value}`], { namespace });
const updateCm = (namespace: string, name: string, value: string) =>
  kubectl(["patch", "configmap", name, "--type=merge", "-p", JSON.stringify({ data: { v: value } })], {
    namespace,
  });
const deleteCm = (namespace: string, name: string) =>
  kubectl(["delete", "configmap", name, "--wait=false"], { namespace });

/**
 * Makes every resourceVersion before now too old: compacts the local cluster's etcd to its
 * current revision, as the API server itself does every 5 minutes. On other providers it does
 * nothing, and specs rely on resourceVersion "1" being long compacted on a cluster in use.
 */
async function compactEtcd(): Promise<void> {
  if (cluster().provider !== "local") return;
  const dir = process.env.OUTRIGGER_CLUSTER_DIR ?? `${repoRoot}.outrigger/local-cluster`;
  const cmd = readFileSync(`${dir}/cmd/etcd`, "utf8");
  const endpoint = /--listen-client-urls (http:\/\/[0-9.:]+)/.exec(cmd)?.[1];
  if (!endpoint) throw new Error(`no etcd client URL in ${dir}/cmd/etcd`);
  // etcd's JSON gateway: read the current revision, then compact up to it.
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${endpoint}${path}`, { method: "POST", body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { header?: { revision?: string } };
  };
  const revision = (await post("/v3/kv/range", { key: Buffer.from("outrigger-e2e").toString("base64") }))
    .header?.revision;
  await post("/v3/kv/compaction", { revision, physical: true });
}

/**
 * Makes resourceVersion "1" too old for the API server's watch cache, which answers 410 only
 * below the oldest version it can replay: on a fresh cluster that is the version it listed at
 * start-up, and until its window fills it still reaches back to "1" (the watch is served, and
 * stays silent). A restarted API server lists again at the current version. Local clusters only;
 * others are long in use.
 */
async function ensureResourceVersionOneIsTooOld(namespace: string): Promise<void> {
  if (cluster().provider !== "local") return;
  const lw = kubeListerWatcher<ConfigMap>(createKubeHttp(cluster().endpoint), resources.configMaps, {
    namespace,
  });
  const outcome = await lw
    .watch("1", () => {}, AbortSignal.timeout(3_000))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  if (classifyApiError(outcome).kind === "gone") return;
  console.log("      the watch cache still reaches back to resourceVersion 1: restarting kube-apiserver");
  await cluster().stopComponent("kube-apiserver");
  await cluster().startComponent("kube-apiserver");
  await eventually(async () => kubectl(["get", "--raw", "/readyz"]), { timeoutMs: 60_000, intervalMs: 500 });
}

/**
 * Wraps the real ListerWatcher so a spec can cut the current watch, hold the next one back
 * (the informer is "disconnected"), and make the next watch start from a long-gone
 * resourceVersion so that the real API server answers 410.
 */
class ControlledListerWatcher<T> implements ListerWatcher<T> {
  readonly watchedFrom: string[] = [];
  staleNextWatch = false;
  private readonly inner: ListerWatcher<T>;
  private current: AbortController | undefined;
  private held: Promise<void> | undefined;
  private letGo: (() => void) | undefined;

  constructor(inner: ListerWatcher<T>) {
    this.inner = inner;
  }

  list(signal: AbortSignal) {
    return this.inner.list(signal);
  }

  async watch(rv: string, onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    if (this.held) {
      const aborted = new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => resolve(), { once: true }),
      );
      await Promise.race([this.held, aborted]);
      if (signal.aborted) throw signal.reason;
    }
    const from = this.staleNextWatch ? "1" : rv;
    this.staleNextWatch = false;
    this.watchedFrom.push(from);
    this.current = new AbortController();
    return this.inner.watch(from, onEvent, AbortSignal.any([signal, this.current.signal]));
  }

  /** Drops the open watch like a reset connection and holds the next one until release(). */
  cutAndHold(): void {
    this.held = new Promise((resolve) => (this.letGo = resolve));
    this.current?.abort(Object.assign(new Error("connection cut by the test"), { code: "ECONNRESET" }));
  }

  release(): void {
    this.held = undefined;
    this.letGo?.();
  }
}

describe("controller runtime: informers", function () {
  const ns = useNamespace("runtime");
  let informer: Informer<ConfigMap> | undefined;
  let logs: string[] = [];

  afterEach(async function () {
    await informer?.stop();
    informer = undefined;
    if (this.currentTest?.state === "failed") process.stderr.write(logs.slice(-200).join("\n") + "\n");
  });

  function start(listerWatcher?: (lw: ListerWatcher<ConfigMap>) => ListerWatcher<ConfigMap>) {
    const captured = capturedLogger();
    logs = captured.lines;
    const registry = new Registry();
    const lw = kubeListerWatcher<ConfigMap>(createKubeHttp(cluster().endpoint), resources.configMaps, {
      namespace: ns.name,
    });
    const i = new Informer<ConfigMap>({
      resource: "configmaps",
      listerWatcher: listerWatcher ? listerWatcher(lw) : lw,
      log: captured.log,
      metrics: runtimeMetrics(registry),
      resyncPeriodMs: 0,
    });
    informer = i;
    const seen = recordEvents(i);
    i.start();
    return { informer: i, seen, registry };
  }

  it("sees creates, updates and deletes of ConfigMaps", async function () {
    await createCm(ns.name, "before-start");
    const { informer, seen } = start();
    await informer.waitForSync();
    expect(seen).to.include("add before-start");

    await createCm(ns.name, "a");
    await updateCm(ns.name, "a", "2");
    await deleteCm(ns.name, "before-start");
    await eventually(
      async () => expect(seen).to.include.members(["add a", "update a", "delete before-start"]),
      { timeoutMs: 10_000 },
    );
    expect(informer.cache.getByName(ns.name, "a")?.data).to.deep.equal({ v: "2" });
    expect(cacheVersions(informer)).to.deep.equal(await configMapVersions(ns.name));
  });

  it("keeps one watch open past 30 s and still delivers events on it", async function () {
    this.timeout(90_000);
    const { informer, seen, registry } = start();
    await informer.waitForSync();

    // For contrast: client-node's Watch on the same collection, quiet for the same time.
    let clientNodeEnded: string | undefined;
    const started = Date.now();
    const req = await new Watch(cluster().kc).watch(
      `/api/v1/namespaces/${ns.name}/configmaps`,
      { allowWatchBookmarks: true },
      () => {},
      (err: unknown) => (clientNodeEnded ??= `${Math.round((Date.now() - started) / 1000)}s: ${String(err)}`),
    );
    await sleep(40_000);
    req.abort();
    console.log(
      `      client-node Watch after 40 s quiet: ${clientNodeEnded ? `ended at ${clientNodeEnded}` : "still open"}`,
    );

    await createCm(ns.name, "after-40s");
    await eventually(async () => expect(seen).to.include("add after-40s"), { timeoutMs: 5_000 });
    // One list and not a single watch restart: the same connection carried the event.
    expect(await metricSum(registry, "outrigger_watch_restarts_total", { resource: "configmaps" })).to.equal(
      0,
    );
    expect(await metricSum(registry, "outrigger_watch_relists_total", { resource: "configmaps" })).to.equal(
      1,
    );
  });

  it("gets 410 from the API server for a too-old resourceVersion", async function () {
    await ensureResourceVersionOneIsTooOld(ns.name);
    await compactEtcd();
    const lw = kubeListerWatcher<ConfigMap>(createKubeHttp(cluster().endpoint), resources.configMaps, {
      namespace: ns.name,
    });
    // Retried only so that an API server restarted by another spec (not yet serving watches)
    // cannot fail this one; the answer that counts is the first one the server gives.
    const err = await eventually(
      async () => {
        const outcome = await lw
          .watch("1", () => {}, AbortSignal.timeout(5_000))
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(classifyApiError(outcome).kind).to.not.be.oneOf(["timeout", "network"]);
        return outcome;
      },
      { timeoutMs: 60_000 },
    );
    expect(classifyApiError(err)).to.include({ kind: "gone", statusCode: 410 });
  });

  it("relists after 410 and notices what changed while it was disconnected, deletes included", async function () {
    await createCm(ns.name, "kept");
    await createCm(ns.name, "changed");
    await createCm(ns.name, "deleted");
    let controlled: ControlledListerWatcher<ConfigMap> | undefined;
    const { informer, seen, registry } = start((lw) => (controlled = new ControlledListerWatcher(lw)));
    await informer.waitForSync();
    await eventually(async () => expect(controlled!.watchedFrom).to.have.length(1), { timeoutMs: 5_000 });
    seen.length = 0;

    controlled!.cutAndHold();
    await deleteCm(ns.name, "deleted");
    await updateCm(ns.name, "changed", "2");
    await createCm(ns.name, "created");
    // The informer comes back after a long absence: its resourceVersion is older than both the
    // API server's watch cache and etcd's history (compacted), so the server answers 410.
    await compactEtcd();
    await ensureResourceVersionOneIsTooOld(ns.name);
    controlled!.staleNextWatch = true;
    controlled!.release();

    await eventually(
      async () => expect(seen).to.have.members(["delete deleted (missed)", "add created", "update changed"]),
      { timeoutMs: 15_000 },
    );
    expect(controlled!.watchedFrom).to.include("1");
    expect(await metricSum(registry, "outrigger_watch_restarts_total", { reason: "expired" })).to.equal(1);
    expect(await metricSum(registry, "outrigger_watch_relists_total", { reason: "expired" })).to.equal(1);
    expect(cacheVersions(informer)).to.deep.equal(await configMapVersions(ns.name));

    // And it goes on watching normally afterwards.
    await createCm(ns.name, "after-relist");
    await eventually(async () => expect(seen).to.include("add after-relist"), { timeoutMs: 10_000 });
  });
});

describe("controller runtime: leader election", function () {
  const ns = useNamespace("lease");
  const electors: LeaderElector[] = [];
  const children: Array<{ kill: () => void }> = [];
  let captured = capturedLogger();

  beforeEach(() => void (captured = capturedLogger()));
  afterEach(async function () {
    for (const c of children.splice(0)) c.kill();
    await Promise.all(electors.splice(0).map((e) => e.release()));
    if (this.currentTest?.state === "failed")
      process.stderr.write(captured.lines.slice(-200).join("\n") + "\n");
  });

  function elector(identity: string) {
    const events: string[] = [];
    const ref = { namespace: ns.name, name: "runtime-e2e" };
    const e = new LeaderElector({
      lease: ref,
      identity,
      store: kubeLeaseStore(createKubeHttp(cluster().endpoint), ref),
      log: captured.log.child({ identity }),
      onStartedLeading: () => events.push("started"),
      onStoppedLeading: () => events.push("stopped"),
    });
    electors.push(e);
    return { e, events, ended: e.run() };
  }

  const readLease = () =>
    cluster()
      .kc.makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: ns.name, name: "runtime-e2e" });

  it("lets exactly one of two electors lead, and hands over at once on release", async function () {
    const a = elector("e2e-a");
    const b = elector("e2e-b");
    const leader = await eventually(
      async () => {
        const leading = [a, b].filter((x) => x.e.isLeader());
        expect(leading).to.have.length(1);
        return leading[0]!;
      },
      { timeoutMs: 10_000 },
    );
    const follower = leader === a ? b : a;
    // Over several renewals, exactly one leads, and it is the one the Lease names.
    for (let i = 0; i < 25; i++) {
      expect([a.e.isLeader(), b.e.isLeader()].filter(Boolean)).to.have.length(1);
      await sleep(200);
    }
    const held = await readLease();
    expect(held.spec?.holderIdentity).to.equal(leader === a ? "e2e-a" : "e2e-b");

    const releasedAt = Date.now();
    await leader.e.release();
    expect(await leader.ended).to.equal("released" satisfies LeadershipEnd);
    expect(leader.events).to.deep.equal(["started", "stopped"]);
    await eventually(async () => expect(follower.e.isLeader()).to.equal(true), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const handover = Date.now() - releasedAt;
    console.log(`      handover after release: ${handover} ms`);
    expect(handover).to.be.lessThan(2_000 * 1.2 + 1_500);
    const taken = await readLease();
    expect(taken.spec?.holderIdentity).to.equal(follower === a ? "e2e-a" : "e2e-b");
    expect(taken.spec?.leaseTransitions).to.equal((held.spec?.leaseTransitions ?? 0) + 1);
  });

  it("takes over within the lease duration plus a few seconds after the leader is killed", async function () {
    this.timeout(90_000);
    // The leader runs in its own process, so that kill -9 is a real crash: no release, no goodbye.
    const script = `
      import { pino } from "pino";
      import { loadApiEndpoint } from "${repoRoot}src/shared/kubeconfig.ts";
      import { createKubeHttp } from "${repoRoot}src/shared/kube-http.ts";
      import { LeaderElector, kubeLeaseStore } from "${repoRoot}src/controller/runtime/leader-election.ts";
      const endpoint = loadApiEndpoint(process.env.KUBECONFIG);
      const ref = { namespace: process.env.LEASE_NAMESPACE, name: "runtime-e2e" };
      await new LeaderElector({
        lease: ref, identity: "e2e-crasher", store: kubeLeaseStore(createKubeHttp(endpoint), ref),
        log: pino({ level: "warn" }, process.stderr),
        onStartedLeading: () => console.log("LEADING"), onStoppedLeading: () => console.log("STOPPED"),
      }).run();
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: cluster().kubeconfigPath, LEASE_NAMESPACE: ns.name },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let childOut = "";
    child.stdout.on("data", (d: Buffer) => (childOut += d.toString()));
    child.stderr.on("data", (d: Buffer) => (childOut += d.toString()));
    const exited = new Promise((resolve) => child.on("exit", resolve));
    children.push({ kill: () => child.kill("SIGKILL") });
    await eventually(async () => expect(childOut).to.include("LEADING"), { timeoutMs: 20_000 });

    const follower = elector("e2e-survivor");
    await sleep(5_000); // several renewals by the leader, each seen by the follower
    expect(follower.e.isLeader()).to.equal(false);
    expect((await readLease()).spec?.holderIdentity).to.equal("e2e-crasher");

    child.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();
    await eventually(async () => expect(follower.e.isLeader()).to.equal(true), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const takeover = Date.now() - killedAt;
    console.log(`      takeover after kill -9: ${takeover} ms (lease duration 15000 ms)`);
    // Not before the lease can have expired (last renewal at most one retry period before the
    // kill), and within lease duration + 5 s.
    expect(takeover).to.be.within(15_000 - 2_000 - 500, 15_000 + 5_000);
    expect((await readLease()).spec?.holderIdentity).to.equal("e2e-survivor");
    expect(childOut).not.to.include("STOPPED");
  });
});

describe("controller runtime: API-server outage", function () {
  const ns = useNamespace("outage");

  it("an informer and a leader ride out a stopped kube-apiserver and catch up afterwards", async function () {
    if (cluster().provider !== "local") this.skip();
    this.timeout(150_000);
    const captured = capturedLogger();
    const registry = new Registry();
    const controlled = new ControlledListerWatcher(
      kubeListerWatcher<ConfigMap>(createKubeHttp(cluster().endpoint), resources.configMaps, {
        namespace: ns.name,
      }),
    );
    const informer = new Informer<ConfigMap>({
      resource: "configmaps",
      listerWatcher: controlled,
      log: captured.log,
      metrics: runtimeMetrics(registry),
      resyncPeriodMs: 0,
    });
    const seen = recordEvents(informer);
    const ref = { namespace: ns.name, name: "outage-e2e" };
    const leaderEvents: string[] = [];
    const elector = new LeaderElector({
      lease: ref,
      identity: "outage-leader",
      store: kubeLeaseStore(createKubeHttp(cluster().endpoint), ref),
      log: captured.log.child({ identity: "outage-leader" }),
      onStartedLeading: () => leaderEvents.push(`started ${Date.now()}`),
      onStoppedLeading: () => leaderEvents.push(`stopped ${Date.now()}`),
    });
    let apiserverDown = false;
    try {
      await createCm(ns.name, "kept");
      await createCm(ns.name, "changed");
      await createCm(ns.name, "deleted");
      informer.start();
      await informer.waitForSync();
      let ended = elector.run();
      await eventually(async () => expect(elector.isLeader()).to.equal(true), { timeoutMs: 10_000 });
      seen.length = 0;

      const stoppedAt = Date.now();
      apiserverDown = true;
      await cluster().stopComponent("kube-apiserver");
      // A leader that cannot renew gives up within its renew deadline (10 s): before the lease
      // (15 s) could let anyone else in. That is the bound asserted: the time also includes
      // stopping the API server, which took 12.8 s on a machine busy building daprd.
      expect(await ended).to.equal("lost" satisfies LeadershipEnd);
      const lostAfter = Date.now() - stoppedAt;
      console.log(`      leader stopped leading ${lostAfter} ms after the API server went down`);
      expect(lostAfter).to.be.lessThan(15_000);
      await sleep(Math.max(0, 10_000 - (Date.now() - stoppedAt)));
      // The informer has been failing against the stopped server all along. Its next attempt
      // is held back until the changes below are made, so that they surely happen while it is
      // not watching (otherwise its backoff decides whether they arrive as events or not).
      controlled.cutAndHold();
      await cluster().startComponent("kube-apiserver");
      await eventually(async () => kubectl(["get", "--raw", "/readyz"]), {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      apiserverDown = false;
      console.log(`      kube-apiserver back after ${Date.now() - stoppedAt} ms`);

      await deleteCm(ns.name, "deleted");
      await updateCm(ns.name, "changed", "2");
      await createCm(ns.name, "created");
      controlled.release();

      await eventually(
        async () => {
          expect(seen).to.include.members(["add created", "update changed"]);
          expect(seen.filter((s) => s.startsWith("delete deleted"))).to.have.length(1);
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(cacheVersions(informer)).to.deep.equal(await configMapVersions(ns.name));
      const restarts = await metricSum(registry, "outrigger_watch_restarts_total", {
        resource: "configmaps",
      });
      const expired = await metricSum(registry, "outrigger_watch_relists_total", { reason: "expired" });
      console.log(
        `      watch restarts: ${restarts}, relists after 410: ${expired}, events: ${seen.join(", ")}`,
      );
      expect(restarts).to.be.greaterThan(0);

      // The elector campaigns again and leads once the API server is back.
      ended = elector.run();
      await eventually(async () => expect(elector.isLeader()).to.equal(true), { timeoutMs: 20_000 });
      expect(leaderEvents.map((e) => e.split(" ")[0])).to.deep.equal(["started", "stopped", "started"]);
    } catch (err) {
      process.stderr.write(captured.lines.slice(-300).join("\n") + "\n");
      throw err;
    } finally {
      if (apiserverDown) await cluster().startComponent("kube-apiserver");
      await elector.release();
      await informer.stop();
    }
  });
});
