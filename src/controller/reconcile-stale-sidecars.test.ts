import type { V1Pod } from "@kubernetes/client-node";
import { expect } from "chai";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import { SIDECAR_STATUS_ANNOTATION } from "../sidecar/status.ts";
import { AppResults, type ResourceRef } from "./app-results.ts";
import { fakeEvents, silentLog } from "./reconcile.testing.ts";
import { reconcileStaleSidecars } from "./reconcile-stale-sidecars.ts";
import { StaleSidecarTracker } from "./stale-sidecar-tracker.ts";

const NS = "shop";
/** A pod the injector injected with another image than the current default. */
function oldPod(name: string, appId = "orders"): V1Pod {
  return {
    metadata: {
      name,
      namespace: NS,
      labels: { "dapr.io/app-id": appId },
      annotations: {
        "dapr.io/enabled": "true",
        "dapr.io/app-id": appId,
        [SIDECAR_STATUS_ANNOTATION]: JSON.stringify({
          version: "0.0.1",
          image: "ghcr.io/dapr/daprd:1.0.0",
          settingsHash: "x",
        }),
      },
    },
    status: { phase: "Running" },
  };
}

function setUp() {
  const tracker = new StaleSidecarTracker(builtInSidecarDefaults);
  const results = new AppResults();
  results.set(NS, `${NS}/orders`, {
    components: [{ name: "store" } as never],
    configuration: { name: undefined } as never,
  });
  const events = fakeEvents();
  const requeued: ResourceRef[] = [];
  return {
    tracker,
    results,
    events,
    requeued,
    io: {
      tracker,
      results,
      events,
      requeueStatus: (r: ResourceRef[]) => requeued.push(...r),
      podsOf: () => [],
    },
  };
}

describe("stale-sidecars reconciler", () => {
  it("records an Event per stale pod and requeues the status of what the app uses when the set changes", async () => {
    const t = setUp();
    t.tracker.observe(oldPod("orders-1"));
    t.tracker.observe(oldPod("orders-2"));
    await reconcileStaleSidecars(`${NS}/orders`, t.io, silentLog);
    expect(t.events.events.map((e) => `${e.involved.name} ${e.reason}`)).to.deep.equal([
      "orders-1 StaleSidecar",
      "orders-2 StaleSidecar",
    ]);
    expect(t.requeued).to.deep.equal([{ kind: "Component", namespace: NS, name: "store" }]);
    // Nothing changed: no status work.
    t.requeued.length = 0;
    await reconcileStaleSidecars(`${NS}/orders`, t.io, silentLog);
    expect(t.requeued).to.deep.equal([]);
  });

  it("forgets pods that are gone, and the app once none is stale (bounded memory)", async () => {
    const t = setUp();
    t.tracker.observe(oldPod("orders-1"));
    await reconcileStaleSidecars(`${NS}/orders`, t.io, silentLog);
    expect(t.tracker.remembered()).to.equal(1);
    t.tracker.observe(oldPod("orders-1"), true);
    expect(t.tracker.size()).to.equal(0);
    t.requeued.length = 0;
    await reconcileStaleSidecars(`${NS}/orders`, t.io, silentLog);
    expect(t.requeued).to.have.length(1);
    expect(t.tracker.remembered()).to.equal(0);
  });
});
