import { expect } from "chai";
import { WriteTracker } from "./write-tracker.ts";

describe("WriteTracker", () => {
  it("skips writing the same content until the cache has caught up", () => {
    const t = new WriteTracker();
    t.recordWrite("Secret/ns/a", "5", "h1");
    expect(t.alreadyWritten("Secret/ns/a", "h1")).to.equal(true);
    expect(t.observe("Secret/ns/a", "4")).to.equal(false); // an older event
    expect(t.size()).to.equal(1);
    expect(t.observe("Secret/ns/a", "5")).to.equal(true);
    expect(t.size()).to.equal(0);
    expect(t.alreadyWritten("Secret/ns/a", "h1")).to.equal(false);
  });

  it("says an echo needs no reconcile, unless one acted on the stale cache meanwhile", () => {
    const t = new WriteTracker();
    t.recordWrite("Secret/ns/a", "5", "h1");
    expect(t.alreadyWritten("Secret/ns/a", "h1")).to.equal(true); // same content: still skippable
    expect(t.observe("Secret/ns/a", "5")).to.equal(true);

    t.recordWrite("Secret/ns/a", "6", "h2");
    expect(t.alreadyWritten("Secret/ns/a", "h3")).to.equal(false); // wanted other content
    expect(t.observe("Secret/ns/a", "6")).to.equal(false);

    t.recordWrite("Service/ns/a", "7", "h4");
    t.readBehind("Service/ns/a"); // e.g. found nothing to delete
    expect(t.observe("Service/ns/a", "7")).to.equal(false);
  });

  it("is no echo without a recorded write", () => {
    const t = new WriteTracker();
    expect(t.observe("Secret/ns/a", "5")).to.equal(false);
    expect(t.observe("Secret/ns/a", undefined)).to.equal(false);
  });
});
