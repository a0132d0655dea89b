// A tiny run of the controller benchmark on the e2e cluster, so that it does not rot: one
// namespace (the controller then watches only it, so it shares the cluster safely), two apps,
// three Components, three updates. It measures nothing; it checks that every number is there
// and that the controller wrote exactly what the changes required.
import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cluster } from "../test/e2e/harness/cluster.ts";
import { controllerReport, runControllerBench } from "./controller.ts";
import { repoRoot } from "./processes.ts";

describe("controller benchmark (smoke)", function () {
  this.timeout(300_000);

  it("renders every config, propagates updates and counts the writes", async () => {
    const r = await runControllerBench({
      namespaces: 1,
      apps: 2,
      components: 3,
      unrelatedPods: 4,
      updates: 3,
      controllerConcurrency: 2,
      cli: join(repoRoot, "src/cli.ts"),
      kubeconfig: cluster().kubeconfigPath,
      keepCluster: true,
      heapSnapshot: false,
      nodeOptions: [],
      profile: false,
      outDir: mkdtempSync(join(tmpdir(), "outrigger-bench-smoke-")),
      progress: () => {},
    });
    expect(r.cluster).to.equal("given");
    expect(r.shape.watchNamespace).to.be.a("string");
    expect(r.cold.convergedSeconds).to.be.greaterThan(0);
    expect(r.cold.writes).to.include({ "secrets/create": 2, "services/create": 2 });
    expect(r.shape.unrelatedPods).to.equal(4);
    expect(r.cold.reconcilesPerKey["sidecar-config"]).to.be.greaterThan(0);
    expect(r.cold.reconcilesPerKey.status).to.be.greaterThan(0);
    expect(r.cold.cpuSecondsSettled).to.be.greaterThan(0);
    expect(r.cold.rssPeakMiB).to.be.greaterThan(10);
    expect(r.targets.map((t) => t.name)).to.include("app reconciles per app");
    if (!r.propagation || !r.burst) throw new Error("a full run has updates and a burst");
    expect(r.propagation.updates).to.equal(3);
    expect(r.propagation.toEveryAppMs.count).to.equal(3);
    expect(r.propagation.appsAffected).to.equal(6);
    expect(r.propagation.secretWrites).to.equal(r.propagation.appsAffected);
    expect(r.propagation.outOfScopeSecretChanges).to.equal(0);
    expect(r.burst.appsAffected).to.equal(2);
    expect(r.burst.writes["secrets/update"]).to.equal(2);
    expect(r.memoryMiB.peak).to.be.greaterThan(10);
    expect(controllerReport(r)).to.include("Controller targets");
  });
});
