import { expect } from "chai";
import {
  formatNumber,
  formatTable,
  percentile,
  processCpuSeconds,
  processMemoryMaps,
  processMemoryMiB,
  summarize,
} from "./stats.ts";

describe("bench stats", () => {
  it("takes nearest-rank percentiles", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).to.equal(50);
    expect(percentile(sorted, 99)).to.equal(99);
    expect(percentile(sorted, 100)).to.equal(100);
    expect(percentile([7], 99)).to.equal(7);
    expect(Number.isNaN(percentile([], 50))).to.equal(true);
  });

  it("summarizes unsorted values", () => {
    const s = summarize([5, 1, 3, 2, 4]);
    expect(s).to.include({ count: 5, mean: 3, p50: 3, max: 5 });
    expect(s.p99).to.equal(5);
  });

  it("formats numbers to three significant digits without exponents", () => {
    expect(formatNumber(1234.56)).to.equal("1235");
    expect(formatNumber(45.67)).to.equal("45.7");
    expect(formatNumber(4.567)).to.equal("4.57");
    expect(formatNumber(0.04567)).to.equal("0.046");
    expect(formatNumber(12)).to.equal("12");
    expect(formatNumber(NaN)).to.equal("-");
  });

  it("aligns table columns", () => {
    const t = formatTable(
      "T",
      ["name", "n"],
      [
        ["a", 1],
        ["long name", 1000],
      ],
    ).split("\n");
    expect(t).to.deep.equal([
      "T",
      "name          n",
      "---------  ----",
      "a             1",
      "long name  1000",
    ]);
  });

  it("reads CPU time and memory of a live process from /proc", () => {
    const cpu = processCpuSeconds(process.pid);
    const mem = processMemoryMiB(process.pid);
    expect(cpu).to.be.a("number").and.to.be.greaterThan(0);
    expect(mem?.rss).to.be.greaterThan(10);
    expect(mem!.peak).to.be.at.least(mem!.rss);
    expect(mem!.anon + mem!.file).to.be.closeTo(mem!.rss, 1);
    expect(processCpuSeconds(2 ** 30)).to.equal(undefined);
    const maps = processMemoryMaps(process.pid)!;
    const sum = Object.values(maps).reduce((a, b) => a + b, 0);
    expect(sum).to.be.closeTo(processMemoryMiB(process.pid)!.rss, 5);
    expect(maps["node executable"]).to.be.greaterThan(1);
  });
});
