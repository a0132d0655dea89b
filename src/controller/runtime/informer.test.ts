import type { KubernetesObject } from "@kubernetes/client-node";
import { expect } from "chai";
import { pino } from "pino";
import { Registry } from "prom-client";
import { KubeApiError } from "../../shared/api-errors.ts";
import { FakeClock, flushPromises } from "./fake-clock.testing.ts";
import { Informer, enqueueHandler, restartReasonOf, type EventHandler } from "./informer.ts";
import { runtimeMetrics } from "./metrics.ts";
import { WatchDecodeError, type ListResult, type ListerWatcher, type WatchEvent } from "./watch.ts";

const log = pino({ level: "silent" });

interface ConfigMap extends KubernetesObject {
  data?: Record<string, string>;
}

function cm(name: string, rv: string, data: Record<string, string> = {}, ns = "ns"): ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { namespace: ns, name, resourceVersion: rv, uid: `uid-${name}` },
    data,
  };
}

/** A ListerWatcher whose server state and watch stream the test drives. */
class ScriptedServer implements ListerWatcher<ConfigMap> {
  objects = new Map<string, ConfigMap>();
  resourceVersion = "1";
  listError: Error | undefined;
  listCalls = 0;
  watchFrom: string[] = [];
  private stream:
    { onEvent: (e: WatchEvent<ConfigMap>) => void; end: () => void; fail: (e: unknown) => void } | undefined;

  async list(): Promise<ListResult<ConfigMap>> {
    this.listCalls++;
    if (this.listError) throw this.listError;
    return { items: [...this.objects.values()], resourceVersion: this.resourceVersion };
  }

  watch(rv: string, onEvent: (e: WatchEvent<ConfigMap>) => void, signal: AbortSignal): Promise<void> {
    this.watchFrom.push(rv);
    return new Promise((resolve, reject) => {
      this.stream = { onEvent, end: resolve, fail: reject };
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  }

  watching(): boolean {
    return this.stream !== undefined;
  }

  /** Changes server state; with a watch open, also sends the event. */
  async apply(type: "ADDED" | "MODIFIED" | "DELETED", obj: ConfigMap, send = true): Promise<void> {
    this.resourceVersion = obj.metadata!.resourceVersion!;
    if (type === "DELETED") this.objects.delete(obj.metadata!.name!);
    else this.objects.set(obj.metadata!.name!, obj);
    if (send) this.stream?.onEvent({ type, object: obj });
    await flushPromises();
  }

  async bookmark(rv: string): Promise<void> {
    this.stream?.onEvent({ type: "BOOKMARK", object: { metadata: { resourceVersion: rv } } });
    await flushPromises();
  }

  async endWatch(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    s?.end();
    await flushPromises();
  }

  async failWatch(err: unknown): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    s?.fail(err);
    await flushPromises();
  }
}

type Seen = string[];

function recorder(seen: Seen): EventHandler<ConfigMap> {
  const rv = (o: ConfigMap) => o.metadata!.resourceVersion;
  return {
    onAdd: (o, i) => seen.push(`add ${o.metadata!.name}@${rv(o)}${i.initialList ? " initial" : ""}`),
    onUpdate: (o, n, i) =>
      seen.push(`update ${n.metadata!.name} ${rv(o)}->${rv(n)}${i.resync ? " resync" : ""}`),
    onDelete: (o, i) =>
      seen.push(`delete ${o.metadata!.name}@${rv(o)}${i.finalStateUnknown ? " missed" : ""}`),
  };
}

function setup(opts: { resyncPeriodMs?: number; keep?: (o: ConfigMap) => boolean } = {}) {
  const server = new ScriptedServer();
  const clock = new FakeClock();
  const registry = new Registry();
  const informer = new Informer<ConfigMap>({
    resource: "configmaps",
    listerWatcher: server,
    log,
    clock,
    metrics: runtimeMetrics(registry),
    resyncPeriodMs: opts.resyncPeriodMs ?? 0,
    backoff: { baseMs: 1_000, maxMs: 8_000 },
    random: () => 0,
    indexers: { byKey: (o) => Object.keys(o.data ?? {}) },
    ...(opts.keep ? { keep: opts.keep } : {}),
  });
  const seen: Seen = [];
  informer.addEventHandler(recorder(seen));
  return { server, clock, registry, informer, seen };
}

async function counter(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
}

describe("Informer", () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => stop?.());

  it("lists, reports synced, then watches from the list's resourceVersion", async () => {
    const { server, informer, seen } = setup();
    stop = () => informer.stop();
    server.objects.set("a", cm("a", "5"));
    server.resourceVersion = "7";
    expect(informer.hasSynced()).to.equal(false);
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    expect(informer.hasSynced()).to.equal(true);
    expect(seen).to.deep.equal(["add a@5 initial"]);
    expect(server.watchFrom).to.deep.equal(["7"]);
    expect(informer.cache.getByName("ns", "a")?.metadata?.resourceVersion).to.equal("5");
  });

  it("applies adds, updates and deletes from the watch to cache, indexes and handlers", async () => {
    const { server, informer, seen } = setup();
    stop = () => informer.stop();
    informer.start();
    await informer.waitForSync();
    await server.apply("ADDED", cm("a", "2", { x: "1" }));
    await server.apply("MODIFIED", cm("a", "3", { y: "1" }));
    expect(informer.cache.byIndex("byKey", "x")).to.deep.equal([]);
    expect(informer.cache.byIndex("byKey", "y").map((o) => o.metadata!.name)).to.deep.equal(["a"]);
    await server.apply("DELETED", cm("a", "4", { y: "1" }));
    expect(seen).to.deep.equal(["add a@2", "update a 2->3", "delete a@4"]);
    expect(informer.cache.size()).to.equal(0);
    expect(informer.lastSyncResourceVersion()).to.equal("4");
  });

  it("holds only what keep passes: an object that stops passing is deleted, one that starts is added", async () => {
    const { server, informer, seen } = setup({ keep: (o) => o.data?.wanted === "yes" });
    stop = () => informer.stop();
    server.objects.set("listed", cm("listed", "1", { wanted: "yes" }));
    server.objects.set("unwanted", cm("unwanted", "1"));
    server.resourceVersion = "2";
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    expect(seen).to.deep.equal(["add listed@1 initial"]);
    expect(informer.cache.listKeys()).to.deep.equal(["ns/listed"]);

    await server.apply("MODIFIED", cm("unwanted", "3", { other: "1" }));
    await server.apply("MODIFIED", cm("unwanted", "4", { wanted: "yes" }));
    await server.apply("MODIFIED", cm("listed", "5", { wanted: "no" }));
    await server.apply("DELETED", cm("listed", "6", { wanted: "no" }));
    await server.apply("ADDED", cm("new", "7"));
    expect(seen.slice(1)).to.deep.equal(["add unwanted@4", "delete listed@1"]);
    expect(informer.cache.listKeys()).to.deep.equal(["ns/unwanted"]);
    // Events of objects it does not hold still move the watch on.
    expect(informer.lastSyncResourceVersion()).to.equal("7");

    // A relist applies the same filter.
    await server.failWatch(new KubeApiError(410, { reason: "Expired", code: 410 }));
    await flushPromises();
    expect(informer.cache.listKeys()).to.deep.equal(["ns/unwanted"]);
  });

  it("follows bookmarks and resumes a normally closed watch at once from the last resourceVersion", async () => {
    const { server, informer, registry } = setup();
    stop = () => informer.stop();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    await server.apply("ADDED", cm("a", "2"));
    await server.bookmark("9");
    await server.endWatch();
    expect(server.watchFrom).to.deep.equal(["1", "9"]);
    expect(server.listCalls).to.equal(1);
    expect(
      await counter(registry, "outrigger_watch_restarts_total", { resource: "configmaps", reason: "closed" }),
    ).to.equal(1);
  });

  it("restarts a failed watch with capped backoff, from the last resourceVersion, without relisting", async () => {
    const { server, informer, clock, registry } = setup();
    stop = () => informer.stop();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    await server.apply("ADDED", cm("a", "2"));
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    // The first failure follows a healthy watch (it delivered an event): retry at once.
    await server.failWatch(refused);
    expect(server.watchFrom).to.deep.equal(["1", "2"]);
    // Then each immediate failure waits longer: 1 s, 2 s, 4 s, 8 s, 8 s.
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await server.failWatch(refused);
      waits.push(clock.pendingDelays()[0]!);
      await clock.advance(waits[i]!);
    }
    expect(waits).to.deep.equal([1_000, 2_000, 4_000, 8_000, 8_000]);
    expect(server.watchFrom.every((rv, i) => i === 0 || rv === "2")).to.equal(true);
    expect(server.listCalls).to.equal(1);
    expect(
      await counter(registry, "outrigger_watch_restarts_total", {
        resource: "configmaps",
        reason: "network",
      }),
    ).to.equal(6);
  });

  it("relists on 410 Gone and emits the adds, updates and deletes the watch missed", async () => {
    const { server, informer, seen, registry, clock } = setup();
    stop = () => informer.stop();
    server.objects.set("kept", cm("kept", "1"));
    server.objects.set("changed", cm("changed", "1"));
    server.objects.set("removed", cm("removed", "1"));
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    seen.length = 0;

    // While the watch is down, the server moves on.
    await server.failWatch(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
    await server.apply("DELETED", cm("removed", "5"), false);
    await server.apply("MODIFIED", cm("changed", "6"), false);
    await server.apply("ADDED", cm("new", "7"), false);
    await clock.advance(1_000); // the backoff after a watch that failed at once
    expect(server.watchFrom).to.deep.equal(["1", "1"]);
    // The restarted watch is too old: the server answers with an ERROR event carrying 410.
    await server.failWatch(new KubeApiError(410, { reason: "Expired", code: 410 }));
    await flushPromises();

    expect(server.listCalls).to.equal(2);
    expect(seen).to.deep.equal(["delete removed@1 missed", "add new@7", "update changed 1->6"]);
    expect(server.watchFrom.at(-1)).to.equal("7");
    expect(informer.cache.listKeys().sort()).to.deep.equal(["ns/changed", "ns/kept", "ns/new"]);
    expect(
      await counter(registry, "outrigger_watch_relists_total", { resource: "configmaps", reason: "expired" }),
    ).to.equal(1);
    expect(
      await counter(registry, "outrigger_watch_restarts_total", {
        resource: "configmaps",
        reason: "expired",
      }),
    ).to.equal(1);
  });

  it("relists after a 410 HTTP status as well", async () => {
    const { server, informer } = setup();
    stop = () => informer.stop();
    informer.start();
    await informer.waitForSync();
    await flushPromises();
    await server.failWatch(Object.assign(new Error("Gone"), { statusCode: 410 }));
    expect(server.listCalls).to.equal(2);
    expect(server.watching()).to.equal(true);
  });

  it("retries a failing list with backoff and only then reports synced", async () => {
    const { server, informer, clock, registry } = setup();
    stop = () => informer.stop();
    server.listError = new KubeApiError(503, { reason: "ServiceUnavailable" });
    informer.start();
    await flushPromises();
    expect(informer.hasSynced()).to.equal(false);
    expect(clock.pendingDelays()).to.deep.equal([1_000]);
    server.listError = undefined;
    await clock.advance(1_000);
    expect(informer.hasSynced()).to.equal(true);
    expect(server.listCalls).to.equal(2);
    expect(await counter(registry, "outrigger_watch_list_errors_total", { resource: "configmaps" })).to.equal(
      1,
    );
  });

  it("re-delivers every cached object on resync", async () => {
    const { server, informer, clock, seen } = setup({ resyncPeriodMs: 60_000 });
    stop = () => informer.stop();
    server.objects.set("a", cm("a", "3"));
    informer.start();
    await informer.waitForSync();
    seen.length = 0;
    await clock.advance(60_000);
    expect(seen).to.deep.equal(["update a 3->3 resync"]);
    await clock.advance(60_000);
    expect(seen).to.have.length(2);
  });

  it("gives a handler added after sync the objects already cached", async () => {
    const { server, informer } = setup();
    stop = () => informer.stop();
    server.objects.set("a", cm("a", "3"));
    informer.start();
    await informer.waitForSync();
    const late: Seen = [];
    const remove = informer.addEventHandler(recorder(late));
    expect(late).to.deep.equal(["add a@3 initial"]);
    remove();
    await server.apply("ADDED", cm("b", "4"));
    expect(late).to.have.length(1);
  });

  it("keeps delivering to other handlers when one throws", async () => {
    const { server, informer, seen } = setup();
    stop = () => informer.stop();
    informer.addEventHandler({
      onAdd: () => {
        throw new Error("handler bug");
      },
    });
    const after: Seen = [];
    informer.addEventHandler(recorder(after));
    informer.start();
    await informer.waitForSync();
    await server.apply("ADDED", cm("a", "2"));
    expect(seen).to.deep.equal(["add a@2"]);
    expect(after).to.deep.equal(["add a@2"]);
    expect(server.watching()).to.equal(true);
  });

  it("ignores a watch event that repeats the cached resourceVersion", async () => {
    const { server, informer, seen } = setup();
    stop = () => informer.stop();
    server.objects.set("a", cm("a", "3"));
    informer.start();
    await informer.waitForSync();
    seen.length = 0;
    await server.apply("MODIFIED", cm("a", "3"));
    expect(seen).to.deep.equal([]);
  });

  it("stop() ends the loop and cancels pending backoff", async () => {
    const { server, informer, clock } = setup();
    informer.start();
    await informer.waitForSync();
    await server.failWatch(new KubeApiError(500, {}));
    await server.failWatch(new KubeApiError(500, {}));
    expect(clock.pendingTimers()).to.equal(1);
    await informer.stop();
    expect(clock.pendingTimers()).to.equal(0);
    const watches = server.watchFrom.length;
    await clock.advance(60_000);
    expect(server.watchFrom.length).to.equal(watches);
  });

  it("waitForSync rejects when its signal aborts first", async () => {
    const { informer } = setup();
    const ac = new AbortController();
    const waiting = informer.waitForSync(ac.signal);
    ac.abort(new Error("gave up"));
    let error: unknown;
    await waiting.catch((e: unknown) => (error = e));
    expect((error as Error).message).to.equal("gave up");
  });
});

describe("restartReasonOf", () => {
  it("maps errors to the closed set of restart reasons", () => {
    expect(restartReasonOf(new KubeApiError(410, {}))).to.equal("expired");
    expect(restartReasonOf(new KubeApiError(500, {}))).to.equal("http-error");
    expect(restartReasonOf(new KubeApiError(504, {}))).to.equal("http-error");
    expect(restartReasonOf(new WatchDecodeError("x"))).to.equal("decode");
    expect(restartReasonOf(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).to.equal("network");
    expect(restartReasonOf(new DOMException("t", "TimeoutError"))).to.equal("timeout");
  });
});

describe("enqueueHandler", () => {
  it("adds the keys of old and new objects once each, and of deleted ones", () => {
    const added: string[] = [];
    const h = enqueueHandler<ConfigMap>({ add: (k) => added.push(k) }, (o) => Object.keys(o.data ?? {}));
    h.onAdd!(cm("a", "1", { x: "" }), { initialList: false });
    h.onUpdate!(cm("a", "1", { x: "", y: "" }), cm("a", "2", { y: "", z: "" }), { resync: false });
    h.onDelete!(cm("a", "3", { w: "" }), { finalStateUnknown: true });
    expect(added).to.deep.equal(["x", "x", "y", "z", "w"]);
  });

  it("can leave resyncs out", () => {
    const added: string[] = [];
    const h = enqueueHandler<ConfigMap>({ add: (k) => added.push(k) }, (o) => [o.metadata!.name!], {
      skipResync: true,
    });
    const obj = cm("a", "1");
    h.onUpdate!(obj, obj, { resync: true });
    expect(added).to.deep.equal([]);
    h.onUpdate!(obj, cm("a", "2"), { resync: false });
    expect(added).to.deep.equal(["a"]);
  });
});
