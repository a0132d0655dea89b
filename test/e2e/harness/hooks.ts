// Mocha root hooks for the e2e suite: one cluster per run, CRDs applied, everything stopped at the end.
import { existsSync, readdirSync } from "node:fs";
import { VersionApi } from "@kubernetes/client-node";
import { repoRoot, startCluster, stopCluster } from "./cluster.ts";
import { stopAllOutrigger } from "./outrigger.ts";
import { kubectl } from "./util.ts";

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60 * 60 * 1000); // the first local run builds Kubernetes from source
    const c = await startCluster();
    const version = await c.kc.makeApiClient(VersionApi).getCode();
    console.log(
      `e2e: provider=${c.provider} server=${c.kc.getCurrentCluster()?.server} version=${version.gitVersion}`,
    );
    const crds = `${repoRoot}crds`;
    if (existsSync(crds) && readdirSync(crds).some((f) => f.endsWith(".yaml"))) {
      await kubectl(["apply", "--server-side", "--force-conflicts", "-f", crds]);
      await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", crds]);
    }
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    await stopAllOutrigger();
    await stopCluster();
  },
};
