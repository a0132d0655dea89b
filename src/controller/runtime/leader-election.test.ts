import { expect } from "chai";
import { pino } from "pino";
import { Registry } from "prom-client";
import { KubeApiError } from "../../shared/api-errors.ts";
import { FakeClock, flushPromises } from "./fake-clock.testing.ts";
import {
  LeaderElector,
  leaseNamespaceStateOf,
  microTime,
  type Lease,
  type LeaseStore,
} from "./leader-election.ts";
import { runtimeMetrics } from "./metrics.ts";

const log = pino({ level: "silent" });
const ref = { namespace: "outrigger-system", name: "outrigger-controller" };

/** One Lease with the API server's optimistic concurrency: a stale resourceVersion gets 409. */
class MemoryLeaseStore {
  lease: Lease | undefined;
  private rv = 0;
  writes: Array<{ by: string; holder: string | undefined }> = [];

  /** A store view for one replica; `down` makes its calls fail like an unreachable server. */
  forReplica(name: string): LeaseStore & { down: boolean } {
    const shared = () => this;
    const view = {
      down: false,
      async get() {
        if (view.down) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        const l = shared().lease;
        return l ? structuredClone(l) : undefined;
      },
      async create(lease: Lease) {
        if (view.down) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        if (shared().lease) throw new KubeApiError(409, { reason: "AlreadyExists" });
        return shared().store(lease, name);
      },
      async update(lease: Lease) {
        if (view.down) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        if (lease.metadata.resourceVersion !== shared().lease?.metadata.resourceVersion) {
          throw new KubeApiError(409, { reason: "Conflict" });
        }
        return shared().store(lease, name);
      },
    };
    return view;
  }

  private store(lease: Lease, by: string): Lease {
    this.lease = structuredClone({
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: String(++this.rv) },
    });
    this.writes.push({ by, holder: lease.spec?.holderIdentity });
    return structuredClone(this.lease);
  }
}

function replica(name: string, store: LeaseStore, clock: FakeClock, registry = new Registry()) {
  const events: string[] = [];
  let leadingSignal: AbortSignal | undefined;
  const elector = new LeaderElector({
    lease: ref,
    identity: name,
    store,
    clock,
    log,
    metrics: runtimeMetrics(registry),
    random: () => 0,
    onStartedLeading: (signal) => {
      leadingSignal = signal;
      events.push("started");
    },
    onStoppedLeading: () => events.push("stopped"),
    onNewLeader: (id) => events.push(`leader=${id}`),
  });
  return { elector, events, signal: () => leadingSignal, registry };
}

describe("LeaderElector", () => {
  it("creates a missing Lease and leads", async () => {
    const clock = new FakeClock();
    const mem = new MemoryLeaseStore();
    const a = replica("a", mem.forReplica("a"), clock);
    const ending = a.elector.run();
    await flushPromises();
    expect(a.elector.isLeader()).to.equal(true);
    expect(a.events).to.deep.equal(["leader=a", "started"]);
    expect(mem.lease?.spec).to.include({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
    });
    expect(mem.lease?.spec?.renewTime).to.equal(microTime(clock.now()));
    const metric = await a.registry.getSingleMetric("outrigger_leader_election_is_leader")!.get();
    expect(metric.values[0]?.value).to.equal(1);
    await a.elector.release();
    expect(await ending).to.equal("released");
  });

  it("renews every retry period and keeps the acquire time", async () => {
    const clock = new FakeClock();
    const mem = new MemoryLeaseStore();
    const a = replica("a", mem.forReplica("a"), clock);
    void a.elector.run();
    await flushPromises();
    const acquired = mem.lease!.spec!.acquireTime;
    await clock.advance(2_000);
    expect(mem.lease!.spec!.renewTime).to.equal(microTime(clock.now()));
    await clock.advance(2_000);
    expect(mem.writes.filter((w) => w.by === "a")).to.have.length(3);
    expect(mem.lease!.spec!.acquireTime).to.equal(acquired);
    await a.elector.release();
  });

  it("lets exactly one of two replicas lead", async () => {
    const clock = new FakeClock();
    const mem = new MemoryLeaseStore();
    const a = replica("a", mem.forReplica("a"), clock);
    const b = replica("b", mem.forReplica("b"), clock);
    void a.elector.run();
    void b.elector.run();
    for (let i = 0; i < 10; i++) {
      await clock.advance(1_000);
      expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).to.have.length(1);
    }
    expect(b.events).to.deep.equal(["leader=a"]);
    await a.elector.release();
    await b.elector.release();
  });

  it("hands over on release: the follower takes the lease at its next attempt", async () => {
    const clock = new FakeClock();
    const mem = new MemoryLeaseStore();
    const a = replica("a", mem.forReplica("a"), clock);
    const b = replica("b", mem.forReplica("b"), clock);
    void a.elector.run();
    await flushPromises();
    void b.elector.run();
    await clock.advance(3_000);
    expect(b.elector.isLeader()).to.equal(false);

    await a.elector.release();
    expect(a.events).to.deep.equal(["leader=a", "started", "leader=", "stopped"]);
    expect(a.signal()?.aborted).to.equal(true);
    expect(mem.lease!.spec).to.include({ holderIdentity: "", leaseDurationSeconds: 1 });

    await clock.advance(2_400); // one jittered retry period at most
    expect(b.elector.isLeader()).to.equal(true);
    expect(mem.lease!.spec).to.include({
      holderIdentity: "b",
      leaseTransitions: 1,
      leaseDurationSeconds: 15,
    });
    await b.elector.release();
  });

  it("takes over from a leader that stopped renewing once the lease has expired", async () => {
    const clock = new FakeClock();
    const mem = new MemoryLeaseStore();
    const aStore = mem.forReplica("a");
    const a = replica("a", aStore, clock);
    const b = replica("b", mem.forReplica("b"), clock);
    const aEnd = a.elector.run();
    await flushPromises();
    void b.elector.run();
    await clock.advance(5_000);

    // a is cut off from the API server: its renewals fail from now on.
    aStore.down = true;
    const lastRenewByA = Date.parse(mem.lease!.spec!.renewTime!);
    let aStoppedAt = 0;
    let bLeadsAt = 0;
    for (let t = 0; t < 30_000 && (!aStoppedAt || !bLeadsAt); t += 100) {
      await clock.advance(100);
      if (!aStoppedAt && !a.elector.isLeader()) aStoppedAt = clock.now() - lastRenewByA;
      if (!bLeadsAt && b.elector.isLeader()) bLeadsAt = clock.now() - lastRenewByA;
    }
    expect(await aEnd).to.equal("lost");
    expect(a.signal()?.aborted).to.equal(true);
    // a gives up within its renew deadline, before b may start: never two leaders.
    expect(aStoppedAt).to.be.within(1, 10_000);
    expect(bLeadsAt).to.be.greaterThan(aStoppedAt);
    // b leads within leaseDuration plus about one retry period of the last renewal it saw.
    expect(bLeadsAt).to.be.within(15_000, 15_000 + 2_600);
    expect(mem.lease!.spec).to.include({ holderIdentity: "b", leaseTransitions: 1 });
    await b.elector.release();
  });

  it("stops leading at once when another holder shows up", async () => {
    const clock = new FakeClock();
    const mem = new MemoryLeaseStore();
    const a = replica("a", mem.forReplica("a"), clock);
    const aEnd = a.elector.run();
    await flushPromises();
    // Someone else wrote the Lease (e.g. after a long pause of ours).
    mem.lease = { ...mem.lease!, spec: { ...mem.lease!.spec, holderIdentity: "intruder" } };
    await clock.advance(2_000);
    expect(await aEnd).to.equal("lost");
    expect(a.events.at(-1)).to.equal("stopped");
    expect(mem.lease.spec?.holderIdentity).to.equal("intruder");
  });

  it("treats a 409 as a lost race and tries again", async () => {
    const clock = new FakeClock();
    const mem = new MemoryLeaseStore();
    const store = mem.forReplica("a");
    let conflicts = 1;
    const racing: LeaseStore = {
      get: store.get,
      create: async () => {
        if (conflicts-- > 0) throw new KubeApiError(409, { reason: "AlreadyExists" });
        throw new Error("unreachable");
      },
      update: store.update,
    };
    const a = replica("a", racing, clock);
    void a.elector.run();
    await flushPromises();
    expect(a.elector.isLeader()).to.equal(false);
    // The winner's Lease appears, then expires without renewals.
    mem.lease = {
      metadata: { ...ref, resourceVersion: "77" },
      spec: { holderIdentity: "winner", leaseDurationSeconds: 15, renewTime: microTime(clock.now()) },
    };
    await clock.advance(2_000);
    expect(a.elector.isLeader()).to.equal(false);
    await clock.advance(16_000);
    expect(a.elector.isLeader()).to.equal(true);
    await a.elector.release();
  });

  it("release() before leading ends the campaign without touching the Lease", async () => {
    const clock = new FakeClock();
    const mem = new MemoryLeaseStore();
    mem.lease = {
      metadata: { ...ref, resourceVersion: "1" },
      spec: { holderIdentity: "other", leaseDurationSeconds: 15 },
    };
    const b = replica("b", mem.forReplica("b"), clock);
    const end = b.elector.run();
    await flushPromises();
    await b.elector.release();
    expect(await end).to.equal("stopped-before-leading");
    expect(mem.writes).to.deep.equal([]);
    expect(b.events).to.deep.equal(["leader=other"]);
  });

  it("rejects timings that could let two replicas lead", () => {
    const base = {
      lease: ref,
      identity: "a",
      store: new MemoryLeaseStore().forReplica("a"),
      log,
      onStartedLeading() {},
      onStoppedLeading() {},
    };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).to.throw(
      /leaseDuration/,
    );
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).to.throw(
      /renewDeadline/,
    );
    expect(() => new LeaderElector({ ...base, identity: "" })).to.throw(/identity/);
  });

  it("writes MicroTime with six fractional digits", () => {
    expect(microTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).to.equal("2025-01-02T03:04:05.678000Z");
  });
});

describe("leaseNamespaceStateOf", () => {
  it("tells a missing namespace from a Lease that exists and from what it cannot know", () => {
    const missing = new KubeApiError(404, {
      reason: "NotFound",
      message: 'namespaces "outrigger-system" not found',
      details: { name: "outrigger-system", kind: "namespaces" },
    });
    expect(leaseNamespaceStateOf(missing)).to.equal("missing");
    const exists = new KubeApiError(409, { reason: "AlreadyExists", details: { kind: "leases" } });
    expect(leaseNamespaceStateOf(exists)).to.equal("exists");
    expect(leaseNamespaceStateOf(new KubeApiError(403, { reason: "Forbidden" }))).to.equal("unknown");
    expect(
      leaseNamespaceStateOf(new KubeApiError(404, { reason: "NotFound", details: { kind: "leases" } })),
    ).to.equal("unknown");
    expect(leaseNamespaceStateOf(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }))).to.equal(
      "unknown",
    );
  });
});
