import { expect } from "chai";
import type { Configuration, ResourceStatus } from "../apis/types.ts";
import { CALLERS_IDENTIFIED_CONDITION, withAccessControlCondition } from "./access-control-status.ts";

const now = new Date("2026-06-01T00:00:00Z");
const ready: ResourceStatus = {
  observedGeneration: 3,
  conditions: [
    { type: "Ready", status: "True", reason: "Ready", message: "ok", lastTransitionTime: now.toISOString() },
  ],
};
const configuration = (appIds: string[]): Configuration =>
  ({
    apiVersion: "dapr.io/v1alpha1",
    kind: "Configuration",
    metadata: { name: "checkout", generation: 3 },
    spec: {
      accessControl: {
        defaultAction: "deny",
        trustDomain: "cluster.local",
        policies: appIds.map((appId) => ({ appId, namespace: "shop", trustDomain: "cluster.local" })),
      },
    },
  }) as Configuration;

describe("CallersIdentified condition", function () {
  it("says no policy can match when accessControl names apps and mTLS is off", function () {
    const s = withAccessControlCondition(ready, configuration(["frontend", "admin"]), false, now, undefined);
    const c = s.conditions!.find((x) => x.type === CALLERS_IDENTIFIED_CONDITION)!;
    expect(c).to.include({ status: "False", reason: "MTLSDisabled", observedGeneration: 3 });
    expect(c.message).to.contain("accessControl names apps (admin, frontend) but mTLS is off");
    expect(s.conditions!.map((x) => x.type)).to.deep.equal(["Ready", CALLERS_IDENTIFIED_CONDITION]);
  });

  it("says callers are identified when accessControl names apps and mTLS is on (the default)", function () {
    const s = withAccessControlCondition(ready, configuration(["frontend"]), true, now, undefined);
    const c = s.conditions!.find((x) => x.type === CALLERS_IDENTIFIED_CONDITION)!;
    expect(c).to.include({ status: "True", reason: "MTLSEnabled", observedGeneration: 3 });
    expect(c.message).to.contain("accessControl names apps (frontend) and mTLS is on");
  });

  it("turns False into True when mTLS is turned on, with a new transition time", function () {
    const off = withAccessControlCondition(ready, configuration(["frontend"]), false, now, undefined);
    const later = new Date(now.getTime() + 60_000);
    const on = withAccessControlCondition(ready, configuration(["frontend"]), true, later, off);
    const c = on.conditions!.filter((x) => x.type === CALLERS_IDENTIFIED_CONDITION);
    expect(c).to.have.length(1);
    const offTime = off.conditions!.find((x) => x.type === CALLERS_IDENTIFIED_CONDITION)!.lastTransitionTime;
    expect(c[0]!.status).to.equal("True");
    expect(c[0]!.lastTransitionTime).to.not.equal(offTime);
  });

  it("claims nothing without policies naming apps, and removes a condition set before", function () {
    for (const mtls of [true, false]) {
      const before = withAccessControlCondition(ready, configuration(["frontend"]), mtls, now, undefined);
      expect(
        withAccessControlCondition(ready, configuration([]), mtls, now, before).conditions,
      ).to.deep.equal(ready.conditions);
    }
  });

  it("keeps lastTransitionTime while the condition holds", function () {
    const first = withAccessControlCondition(ready, configuration(["frontend"]), false, now, undefined);
    const later = new Date(now.getTime() + 60_000);
    const again = withAccessControlCondition(ready, configuration(["frontend"]), false, later, first);
    const t = (s: ResourceStatus) =>
      s.conditions!.find((x) => x.type === CALLERS_IDENTIFIED_CONDITION)!.lastTransitionTime;
    expect(t(again)).to.equal(t(first));
  });
});
