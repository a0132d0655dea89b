import type { KubernetesObject } from "@kubernetes/client-node";
import { expect } from "chai";
import pino from "pino";
import { Registry } from "prom-client";
import { newController } from "./controller.ts";
import { Informer } from "./informer.ts";
import { TerminalError } from "./queue.ts";
import type { ListerWatcher, WatchEvent } from "./watch.ts";

const log = pino({ level: "silent" });

/** A ListerWatcher whose objects the test pushes as watch events. */
function pushed(initial: KubernetesObject[]) {
  let emit: ((e: WatchEvent<KubernetesObject>) => void) | undefined;
  const lw: ListerWatcher<KubernetesObject> = {
    list: async () => ({ items: initial, resourceVersion: "1" }),
    watch: (_rv, onEvent, signal) =>
      new Promise<void>((resolve) => {
        emit = onEvent;
        signal.addEventListener("abort", () => resolve());
      }),
  };
  return { lw, emit: (e: WatchEvent<KubernetesObject>) => emit?.(e) };
}

const obj = (kind: string, namespace: string, name: string, rv = "2"): KubernetesObject => ({
  kind,
  metadata: { namespace, name, resourceVersion: rv },
});

async function synced(i: Informer<KubernetesObject>) {
  i.start();
  while (!i.hasSynced()) await new Promise((r) => setTimeout(r, 1));
}

describe("controller builder", () => {
  it("reconciles For objects by namespace/name and Watches through their map, only while running", async () => {
    const primary = pushed([obj("Thing", "a", "one")]);
    const other = pushed([]);
    const things = new Informer<KubernetesObject>({
      resource: "things",
      listerWatcher: primary.lw,
      log,
      resyncPeriodMs: 0,
    });
    const others = new Informer<KubernetesObject>({
      resource: "others",
      listerWatcher: other.lw,
      log,
      resyncPeriodMs: 0,
    });
    const seen: string[] = [];
    const registry = new Registry();
    const c = newController("things", { log, registry })
      .for(things)
      .watches(others, (o) => [`a/${o.metadata?.labels?.thing ?? ""}`])
      .complete(async (key, { log: child }) => {
        if (child.bindings().controller === "things") seen.push(key);
      });
    await Promise.all([synced(things), synced(others)]);
    expect(seen, "not running: nothing queued").to.deep.equal([]);
    c.start();
    c.addAll();
    await c.idle();
    expect(seen).to.deep.equal(["a/one"]);
    other.emit({
      type: "ADDED",
      object: {
        kind: "Other",
        metadata: { namespace: "a", name: "x", resourceVersion: "3", labels: { thing: "two" } },
      },
    });
    await c.idle();
    expect(seen).to.deep.equal(["a/one", "a/two"]);
    const metric = await registry.getSingleMetric("outrigger_controller_reconciles_total")!.get();
    expect(
      metric.values.find((v) => v.labels.controller === "things" && v.labels.result === "success")?.value,
    ).to.equal(2);
    await c.stop({ drain: true });
    primary.emit({ type: "MODIFIED", object: obj("Thing", "a", "one", "9") });
    expect(c.isRunning()).to.equal(false);
    await Promise.all([things.stop(), others.stop()]);
    expect(seen).to.have.length(2);
  });

  it("skips updates its predicate says do not matter, and counts errors; a TerminalError is not retried", async () => {
    const src = pushed([]);
    const things = new Informer<KubernetesObject>({
      resource: "things",
      listerWatcher: src.lw,
      log,
      resyncPeriodMs: 0,
    });
    let runs = 0;
    const registry = new Registry();
    const c = newController("picky", { log, registry })
      .for(things, undefined, { updateMatters: (a, b) => a.metadata?.labels?.v !== b.metadata?.labels?.v })
      .complete(async () => {
        runs++;
        throw new TerminalError("cannot be fixed by retrying");
      });
    await synced(things);
    c.start();
    src.emit({ type: "ADDED", object: obj("Thing", "a", "one", "2") });
    await c.idle();
    src.emit({ type: "MODIFIED", object: obj("Thing", "a", "one", "3") });
    await c.idle();
    expect(runs).to.equal(1);
    const metric = await registry.getSingleMetric("outrigger_controller_reconciles_total")!.get();
    expect(metric.values.find((v) => v.labels.result === "error")?.value).to.equal(1);
    await c.stop({ drain: false });
    await things.stop();
  });
  it("maps an update from the old object too when asked (a map that gives nothing for the new one)", async () => {
    const src = pushed([]);
    const others = new Informer<KubernetesObject>({
      resource: "others",
      listerWatcher: src.lw,
      log,
      resyncPeriodMs: 0,
    });
    const seen: string[] = [];
    const byLabel = (o: KubernetesObject) =>
      o.metadata?.labels?.thing ? [`a/${o.metadata.labels.thing}`] : [];
    const c = newController("old-too", { log, registry: new Registry() })
      .watches(others, byLabel, { mapOldToo: true })
      .complete(async (key) => {
        seen.push(key);
      });
    await synced(others);
    c.start();
    const other = (rv: string, labels: Record<string, string>) => ({
      kind: "Other",
      metadata: { namespace: "a", name: "x", resourceVersion: rv, labels },
    });
    src.emit({ type: "ADDED", object: other("2", { thing: "one" }) });
    await c.idle();
    src.emit({ type: "MODIFIED", object: other("3", {}) });
    await c.idle();
    expect(seen).to.deep.equal(["a/one", "a/one"]);
    await c.stop({ drain: false });
    await others.stop();
  });

  it("holds the keys its term's hold names until released, each once, and tells who listens what it reconciled", async () => {
    const seen: string[] = [];
    const told: string[] = [];
    const c = newController("held", { log, registry: new Registry() }).complete(async (key) => {
      seen.push(key);
    });
    const waiting = new Set(["b"]);
    c.start({ hold: (key) => waiting.has(key.split("/")[0]!) });
    const stopListening = c.onReconciled((key) => told.push(key));
    for (const key of ["a/1", "b/1", "b/1", "b/2"]) c.add(key);
    await c.idle();
    expect(seen).to.deep.equal(["a/1"]);
    c.release(); // b still waits
    await c.idle();
    expect(seen).to.deep.equal(["a/1"]);
    waiting.delete("b");
    c.release();
    await c.idle();
    expect(seen).to.deep.equal(["a/1", "b/1", "b/2"]);
    expect(told).to.deep.equal(["a/1", "b/1", "b/2"]);
    stopListening();
    waiting.add("c");
    c.add("c/1");
    c.release(true); // nothing is held any more
    c.add("c/2");
    await c.idle();
    expect(seen).to.deep.equal(["a/1", "b/1", "b/2", "c/1", "c/2"]);
    expect(told).to.have.length(3);
    await c.stop({ drain: false });
  });
});
