// A tiny run of the injector benchmark, so that it does not rot: the real injector and the
// reference server are started, loaded and checked, with sizes that measure nothing.
import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { injectorReport, runInjectorBench } from "./injector.ts";
import { repoRoot } from "./processes.ts";

describe("injector benchmark (smoke)", function () {
  // Generous: on a loaded shared machine (CI, other suites) the two servers start slowly.
  this.timeout(240_000);

  it("loads the injector and the reference over HTTPS and reports both", async () => {
    const r = await runInjectorBench({
      concurrency: [1, 2],
      rounds: 2,
      warmupMs: 100,
      // Long enough that a loaded machine still completes reviews inside each window.
      durationMs: 1000,
      logLevel: "warn",
      // Enough reviews that the CPU time, counted in 10 ms clock ticks, is not zero.
      cpuReviews: 500,
      cli: join(repoRoot, "src/cli.ts"),
      profile: false,
      outDir: mkdtempSync(join(tmpdir(), "outrigger-bench-smoke-")),
      progress: () => {},
    });
    expect(r.levels.map((l) => l.concurrency)).to.deep.equal([1, 2]);
    expect(r.levels[0]!.roundThroughputs.injector).to.have.length(2);
    expect(r.levels[0]!.injector.throughput).to.equal(Math.max(...r.levels[0]!.roundThroughputs.injector));
    expect(r.halfPeak.roundP99Ms.reference).to.have.length(2);
    for (const l of r.levels) {
      for (const run of [l.injector, l.reference]) {
        expect(run.errors).to.equal(0);
        expect(run.verified).to.be.greaterThan(0);
        expect(run.throughput).to.be.greaterThan(0);
        if (run.latencyMs.count > 0) expect(run.latencyMs.p99).to.be.at.least(run.latencyMs.p50);
      }
    }
    expect(r.halfPeak.perSecond).to.equal(Math.max(1, Math.floor(r.peak.injector / 2)));
    // Verified answers of the fixed-rate run, warm-up included: a starved machine may complete none inside the window.
    expect(r.halfPeak.injector.verified).to.be.greaterThan(0);
    expect(r.halfPeak.injector.errors).to.equal(0);
    expect(r.reviewBytes).to.be.greaterThan(4000);
    // A fixed count: every review is in the window, so the CPU per review is known for both.
    expect(r.cpuPerReview.reviews).to.equal(500);
    expect(r.cpuPerReview.roundMs.injector).to.have.length(2);
    expect(r.cpuPerReview.injectorMs).to.be.greaterThan(0);
    expect(r.cpuPerReview.referenceMs).to.be.greaterThan(0);
    const report = injectorReport(r);
    expect(report)
      .to.include("Injector vs reference")
      .and.to.include("Fixed rate at half the injector's peak")
      .and.to.include("CPU per review");
  });
});
