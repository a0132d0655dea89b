import { expect } from "chai";
import type { Component, Configuration, Subscription } from "../apis/types.ts";
import type { ComponentResult, ConfigurationResult, SecretProblem } from "./sidecar-config.ts";
import { componentStatus, configurationStatus, statusChanged, withPubsubCondition } from "./status.ts";

const T0 = new Date("2025-03-01T10:00:00.123Z");
const T1 = new Date("2025-03-01T10:05:00.000Z");

const component: Component = {
  metadata: { name: "store", namespace: "shop", generation: 4 },
  spec: { type: "state.redis", version: "v1", metadata: [] },
};
const configuration: Configuration = {
  metadata: { name: "tracing", namespace: "shop", generation: 2 },
  spec: {},
};

const missing: SecretProblem = { reason: "SecretNotFound", item: "redisPassword", secret: "redis" };

function result(served: ComponentResult["served"], problems: SecretProblem[] = [], generation = 4) {
  return { generation, problems, served };
}

describe("componentStatus", () => {
  it("is Ready with the number of apps that include it", () => {
    const s = componentStatus(component, [result("current"), result("current")], T0, undefined);
    expect(s).to.deep.equal({
      observedGeneration: 4,
      appCount: 2,
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Ready",
          message: "Included in the sidecar config of 2 apps",
          observedGeneration: 4,
          lastTransitionTime: "2025-03-01T10:00:00Z",
        },
      ],
    });
  });

  it("says SecretNotFound, names what is missing, and counts the apps that keep the last good version", () => {
    const s = componentStatus(
      component,
      [result("lastGood", [missing]), result("lastGood", [missing]), result("none", [missing])],
      T0,
      undefined,
    );
    expect(s.appCount).to.equal(2);
    expect(s.conditions?.[0]).to.deep.include({
      status: "False",
      reason: "SecretNotFound",
      message:
        'Secret "redis" not found (metadata "redisPassword"); 2 apps keep their last good version; 1 app goes without it',
    });
  });

  it("uses KeyNotFound as the reason when a key is missing", () => {
    const problem: SecretProblem = { reason: "KeyNotFound", item: "p", secret: "redis", key: "pw" };
    const s = componentStatus(component, [result("none", [problem])], T0, undefined);
    expect(s.conditions?.[0]).to.deep.include({
      reason: "KeyNotFound",
      message: 'key "pw" not found in Secret "redis" (metadata "p"); 1 app goes without it',
    });
    expect(s.appCount).to.equal(0);
  });

  it("reports a missing Secret from the resolution even when no app is in scope", () => {
    const s = componentStatus(component, [], T0, undefined, { ok: false, problems: [missing] });
    expect(s.appCount).to.equal(0);
    expect(s.conditions?.[0]).to.deep.include({ status: "False", reason: "SecretNotFound" });
    expect(componentStatus(component, [], T0, undefined).conditions?.[0]).to.deep.include({
      status: "True",
      message: "No app's sidecar config includes it yet",
    });
  });

  it("ignores problems reported for an older generation", () => {
    const s = componentStatus(component, [result("lastGood", [missing], 3)], T0, undefined);
    expect(s.conditions?.[0]?.status).to.equal("True");
  });

  it("keeps lastTransitionTime while the status value stays, and moves it when it flips", () => {
    const first = componentStatus(component, [result("current")], T0, undefined);
    const same = componentStatus(component, [result("current"), result("current")], T1, first);
    expect(same.conditions?.[0]?.lastTransitionTime).to.equal("2025-03-01T10:00:00Z");
    expect(same.conditions?.[0]?.message).to.equal("Included in the sidecar config of 2 apps");
    const flipped = componentStatus(component, [result("none", [missing])], T1, same);
    expect(flipped.conditions?.[0]?.lastTransitionTime).to.equal("2025-03-01T10:05:00Z");
  });
});

describe("configurationStatus", () => {
  const cfg = (served: ConfigurationResult["served"], problems: SecretProblem[] = []) => ({
    generation: 2,
    problems,
    served,
  });

  it("counts the apps whose sidecar config carries it", () => {
    const s = configurationStatus(
      configuration,
      [cfg("current"), cfg("current"), cfg("current")],
      T0,
      undefined,
    );
    expect(s).to.deep.include({ observedGeneration: 2, appCount: 3 });
    expect(s.conditions?.[0]).to.deep.include({ status: "True", reason: "Ready" });
  });

  it("says which apps fell back when a Secret of a header is missing", () => {
    const s = configurationStatus(
      configuration,
      [cfg("lastGood", [missing]), cfg("default", [missing])],
      T0,
      undefined,
    );
    expect(s.appCount).to.equal(1);
    expect(s.conditions?.[0]?.message).to.equal(
      'Secret "redis" not found (metadata "redisPassword"); 1 app keeps its last good version; 1 app uses the default Configuration',
    );
  });
});

describe("statusChanged", () => {
  const s = componentStatus(component, [result("current")], T0, undefined);

  it("is false for the same status computed later", () => {
    expect(statusChanged(s, componentStatus(component, [result("current")], T1, s))).to.equal(false);
  });

  it("is true without a previous status, or when the count, generation or condition changes", () => {
    expect(statusChanged(undefined, s)).to.equal(true);
    expect(
      statusChanged(s, componentStatus(component, [result("current"), result("current")], T1, s)),
    ).to.equal(true);
    const bumped = { ...component, metadata: { ...component.metadata, generation: 5 } };
    expect(statusChanged(s, componentStatus(bumped, [result("current", [], 5)], T1, s))).to.equal(true);
    expect(statusChanged(s, componentStatus(component, [result("none", [missing])], T1, s))).to.equal(true);
  });

  it("does not care about condition order or key order", () => {
    const reordered = JSON.parse(
      JSON.stringify({
        conditions: s.conditions,
        appCount: s.appCount,
        observedGeneration: s.observedGeneration,
      }),
    );
    expect(statusChanged(s, reordered)).to.equal(false);
  });
});

describe("withPubsubCondition", () => {
  const sub: Subscription = {
    metadata: { name: "orders", namespace: "shop", generation: 3 },
    spec: { pubsubname: "pubsub", topic: "orders", routes: { default: "/orders" } },
  };
  const delivered = (
    pubsubMissingFor?: string,
    generation = 3,
    served: ComponentResult["served"] = "current",
  ) => ({
    generation,
    served,
    ...(pubsubMissingFor ? { pubsubMissingFor } : {}),
  });
  const of = (
    results: ReturnType<typeof delivered>[],
    previous?: Parameters<typeof withPubsubCondition>[4],
    now = T0,
  ) =>
    withPubsubCondition(
      componentStatus(
        sub,
        results.map((r) => ({ ...r, problems: [] })),
        now,
        previous,
      ),
      sub,
      results,
      now,
      previous,
    );
  const condition = (s: ReturnType<typeof of>) => s.conditions?.find((c) => c.type === "PubSubInScope");

  it("is False, naming the apps that receive the Subscription but no pub/sub Component of that name; Ready stays True", () => {
    const s = of([delivered("web"), delivered(), delivered("api"), delivered("web")]);
    expect(condition(s)).to.deep.equal({
      type: "PubSubInScope",
      status: "False",
      reason: "PubSubNotFound",
      message:
        'no pub/sub Component "pubsub" is delivered to apps api, web: daprd there subscribes to nothing (the Subscription is delivered all the same)',
      observedGeneration: 3,
      lastTransitionTime: "2025-03-01T10:00:00Z",
    });
    expect(s.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
    expect(s.appCount).to.equal(4);
  });

  it("is True when every app that receives it has the pub/sub, keeping lastTransitionTime while it stays so", () => {
    const first = of([delivered()]);
    expect(condition(first)).to.include({ status: "True", reason: "PubSubFound" });
    const later = of([delivered(), delivered()], first, T1);
    expect(condition(later)?.lastTransitionTime).to.equal("2025-03-01T10:00:00Z");
    const flipped = of([delivered("web")], later, T1);
    expect(condition(flipped)).to.include({ status: "False", lastTransitionTime: "2025-03-01T10:05:00Z" });
  });

  it("says nothing without an app of the current generation that receives it", () => {
    expect(condition(of([]))).to.equal(undefined);
    expect(condition(of([delivered("web", 2)])), "an older generation's result").to.equal(undefined);
    expect(condition(of([delivered("web", 3, "none")])), "not delivered").to.equal(undefined);
  });
});
