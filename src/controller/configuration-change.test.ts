import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import { CONFIGURATION_KEY, COMPONENTS_KEY } from "../sidecar/config-secret.ts";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import {
  CONFIGURATION_CHANGED_ANNOTATION,
  configurationChangedAt,
  daprdStartedAt,
  startedBeforeChange,
  withConfigurationChangedAt,
} from "./configuration-change.ts";
import { StaleSidecarTracker } from "./stale-sidecar-tracker.ts";
import { staleSidecar } from "./stale-sidecars.ts";
import { currentInjectedPod } from "./stale-sidecars.testing.ts";
import { trimmedPod } from "./trim.ts";

const secret = (configuration: string, components = "c1", changedAt?: string): V1Secret => ({
  metadata: {
    name: "orders-dapr-sidecar",
    namespace: "shop",
    annotations: changedAt ? { [CONFIGURATION_CHANGED_ANNOTATION]: changedAt } : {},
  },
  data: { [CONFIGURATION_KEY]: configuration, [COMPONENTS_KEY]: components },
});
const NOW = new Date("2026-12-01T12:00:00.250Z");

/** A current injected pod of app orders whose daprd started at `startedAt`, as a native sidecar. */
function pod(
  startedAt?: string,
  where: "initContainerStatuses" | "containerStatuses" = "initContainerStatuses",
): V1Pod {
  return currentInjectedPod({}, {
    phase: "Running",
    ...(startedAt
      ? { [where]: [{ name: "daprd", state: { running: { startedAt } } }, { name: "other" }] }
      : {}),
  } as V1Pod["status"]);
}

describe("configuration change", () => {
  describe("withConfigurationChangedAt", () => {
    it("records nothing on a first write: no daprd can have started before its Secret existed", () => {
      const out = withConfigurationChangedAt(secret("a"), undefined, NOW);
      expect(out.metadata?.annotations?.[CONFIGURATION_CHANGED_ANNOTATION]).to.equal(undefined);
    });

    it("records now when the Configuration item changed, and keeps the time while it does not", () => {
      const changed = withConfigurationChangedAt(secret("b"), secret("a"), NOW);
      expect(configurationChangedAt(changed)?.toISOString()).to.equal(NOW.toISOString());
      const later = new Date(NOW.getTime() + 60_000);
      const same = withConfigurationChangedAt(secret("b", "c2"), changed, later);
      expect(same.metadata?.annotations?.[CONFIGURATION_CHANGED_ANNOTATION]).to.equal(NOW.toISOString());
      // Other annotations of the desired Secret stay.
      const withHash = withConfigurationChangedAt(
        { ...secret("c"), metadata: { annotations: { "outrigger.dev/config-hash": "h" } } },
        changed,
        later,
      );
      expect(withHash.metadata?.annotations).to.deep.equal({
        "outrigger.dev/config-hash": "h",
        [CONFIGURATION_CHANGED_ANNOTATION]: later.toISOString(),
      });
    });

    it("records nothing when a Secret written before this annotation existed has the same Configuration", () => {
      const out = withConfigurationChangedAt(secret("a", "c2"), secret("a"), NOW);
      expect(out.metadata?.annotations?.[CONFIGURATION_CHANGED_ANNOTATION]).to.equal(undefined);
    });
  });

  it("reads a recorded time, and nothing from a missing or garbled one", () => {
    expect(configurationChangedAt(secret("a", "c", NOW.toISOString()))?.getTime()).to.equal(NOW.getTime());
    expect(configurationChangedAt(secret("a", "c", "yesterday"))).to.equal(undefined);
    expect(configurationChangedAt(undefined)).to.equal(undefined);
  });

  it("reads daprd's start time from a native sidecar or a plain container, and survives trimming", () => {
    expect(daprdStartedAt(pod("2026-12-01T11:00:00Z"))?.toISOString()).to.equal("2026-12-01T11:00:00.000Z");
    expect(daprdStartedAt(pod("2026-12-01T11:00:00Z", "containerStatuses"))?.toISOString()).to.equal(
      "2026-12-01T11:00:00.000Z",
    );
    expect(daprdStartedAt(pod())).to.equal(undefined);
    expect(daprdStartedAt(trimmedPod(pod("2026-12-01T11:00:00Z")))?.toISOString()).to.equal(
      "2026-12-01T11:00:00.000Z",
    );
  });

  it("compares in whole seconds, counting a start in the second of the change as before it", () => {
    const change = new Date("2026-12-01T12:00:00.700Z");
    expect(startedBeforeChange(new Date("2026-12-01T11:59:59Z"), change)).to.equal(true);
    expect(startedBeforeChange(new Date("2026-12-01T12:00:00Z"), change)).to.equal(true);
    expect(startedBeforeChange(new Date("2026-12-01T12:00:01Z"), change)).to.equal(false);
  });

  it("makes a current sidecar stale, reason configuration, while its daprd predates the change", () => {
    const running = pod("2026-12-01T11:00:00Z");
    expect(staleSidecar(running, builtInSidecarDefaults)).to.equal(undefined);
    expect(staleSidecar(running, builtInSidecarDefaults, new Date("2026-12-01T10:00:00Z"))).to.equal(
      undefined,
    );
    const s = staleSidecar(running, builtInSidecarDefaults, NOW);
    expect(s?.reasons).to.deep.equal(["configuration"]);
    expect(s?.message).to.contain("Configuration changed at 2026-12-01T12:00:00.250Z");
    expect(s?.message).to.contain("restart its workload");
    // No start time known (pending pod): nothing is claimed.
    expect(staleSidecar(pod(), builtInSidecarDefaults, NOW)).to.equal(undefined);
  });

  it("the tracker asks for the app's change time and clears the pod once daprd restarted after it", () => {
    const app: { changedAt?: Date } = {};
    const tracker = new StaleSidecarTracker(builtInSidecarDefaults, (ns, appId) =>
      ns === "shop" && appId === "orders" ? app.changedAt : undefined,
    );
    tracker.observe(pod("2026-12-01T11:00:00Z"));
    expect(tracker.size()).to.equal(0);
    app.changedAt = NOW;
    tracker.observe(pod("2026-12-01T11:00:00Z"));
    expect(tracker.staleOf("shop", new Set(["orders"])).map((s) => s.reasons)).to.deep.equal([
      ["configuration"],
    ]);
    tracker.observe(pod("2026-12-01T12:00:05Z"));
    expect(tracker.size()).to.equal(0);
  });
});
