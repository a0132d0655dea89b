import { expect } from "chai";
import { marginalCosts, type ScalingPoint } from "./controller-scaling.ts";

const point = (
  apps: number,
  unrelatedPods: number,
  rssSettledMiB: number,
  cpuSeconds: number,
): ScalingPoint => ({
  apps,
  unrelatedPods,
  settledSeconds: 1,
  cpuSeconds,
  rssSettledMiB,
  rssPeakMiB: rssSettledMiB,
  appReconcilesPerApp: 1,
  statusReconcilesPerResource: 1,
});

describe("bench controller scaling", () => {
  it("prices an unrelated pod among the smallest loads and an app among the runs without pods", () => {
    const m = marginalCosts([
      point(500, 0, 100, 2),
      point(500, 5000, 110, 2.5),
      point(1000, 0, 150, 4),
      point(2000, 0, 250, 8),
    ]);
    expect(m).to.deep.equal([
      { what: "unrelated pod", from: 0, to: 5000, kib: (10 * 1024) / 5000, cpuMs: 0.1 },
      { what: "app", from: 500, to: 1000, kib: (50 * 1024) / 500, cpuMs: 4 },
      { what: "app", from: 500, to: 2000, kib: (150 * 1024) / 1500, cpuMs: 4 },
    ]);
  });

  it("has no marginal cost with a single point", () => {
    expect(marginalCosts([point(500, 0, 100, 2)])).to.deep.equal([]);
  });
});
