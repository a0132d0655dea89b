import { expect } from "chai";
import { EventRecorder } from "./event-recorder.ts";
import { fakeHttp, silentLog } from "./reconcile.testing.ts";

describe("EventRecorder", () => {
  const pod = (name: string) => ({ kind: "Pod", apiVersion: "v1", namespace: "shop", name });

  it("records an Event once per object, reason and message", async () => {
    const api = fakeHttp();
    const r = new EventRecorder({ http: api.http, log: silentLog, clock: { now: () => 0 } as never });
    await r.record(pod("a"), "Warning", "StaleSidecar", "m");
    await r.record(pod("a"), "Warning", "StaleSidecar", "m");
    await r.record(pod("a"), "Warning", "StaleSidecar", "other");
    expect(api.requests.map((q) => (q.body as { message: string }).message)).to.deep.equal(["m", "other"]);
  });

  it("remembers at most its capacity, forgetting the oldest first", async () => {
    const api = fakeHttp();
    const r = new EventRecorder({
      http: api.http,
      log: silentLog,
      clock: { now: () => 0 } as never,
      capacity: 3,
    });
    for (const n of ["a", "b", "c", "d"]) await r.record(pod(n), "Warning", "R", "m");
    expect(r.remembered()).to.equal(3);
    await r.record(pod("a"), "Warning", "R", "m"); // forgotten: recorded again
    await r.record(pod("d"), "Warning", "R", "m"); // remembered: not again
    expect(api.requests).to.have.length(5);
  });

  it("forgets an Event it could not record, so a later try records it", async () => {
    let fail = true;
    const api = fakeHttp(() => (fail ? 500 : undefined));
    const r = new EventRecorder({ http: api.http, log: silentLog, clock: { now: () => 0 } as never });
    await r.record(pod("a"), "Warning", "R", "m");
    fail = false;
    await r.record(pod("a"), "Warning", "R", "m");
    expect(api.requests).to.have.length(2);
    expect(r.remembered()).to.equal(1);
  });
});
