import { expect } from "chai";
import { Backoff, backoffDelayMs } from "./backoff.ts";

describe("backoffDelayMs", () => {
  const policy = { baseMs: 100, maxMs: 1_000 };

  it("doubles from the base and stops at the cap", () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(policy, n));
    expect(delays).to.deep.equal([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it("stays at the cap for huge attempt counts instead of overflowing", () => {
    expect(backoffDelayMs(policy, 5_000)).to.equal(1_000);
    expect(backoffDelayMs({ baseMs: 1, maxMs: 30_000, factor: 10 }, 400)).to.equal(30_000);
  });

  it("honours another factor", () => {
    expect([0, 1, 2].map((n) => backoffDelayMs({ baseMs: 10, maxMs: 10_000, factor: 3 }, n))).to.deep.equal([
      10, 30, 90,
    ]);
  });

  it("takes at most the jitter fraction off, never exceeding the cap", () => {
    const jittered = { baseMs: 1_000, maxMs: 4_000, jitter: 0.5 };
    expect(backoffDelayMs(jittered, 0, () => 0)).to.equal(1_000);
    expect(backoffDelayMs(jittered, 0, () => 0.999999)).to.equal(500);
    expect(backoffDelayMs(jittered, 10, () => 0)).to.equal(4_000);
    expect(backoffDelayMs(jittered, 10, () => 0.5)).to.equal(3_000);
  });
});

describe("Backoff", () => {
  it("counts failures and starts over after reset", () => {
    const b = new Backoff({ baseMs: 50, maxMs: 300 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).to.deep.equal([50, 100, 200, 300, 300]);
    expect(b.failures()).to.equal(5);
    b.reset();
    expect(b.failures()).to.equal(0);
    expect(b.next()).to.equal(50);
  });
});
