// deploy/manifests/outrigger.yaml is the chart rendered with its default values; it must not
// drift from the chart, or `kubectl apply -f` users get a different Outrigger than Helm users.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { helm, parseManifests, render, repoRoot } from "./helm.ts";

const run = promisify(execFile);
const manifestsFile = join(repoRoot, "deploy/manifests/outrigger.yaml");

describe("deploy/manifests/outrigger.yaml", function () {
  // Each test runs helm, a separate process: on a busy 2-core machine one call took over 10 s.
  this.timeout(60_000);
  before(async function () {
    this.timeout(30 * 60_000); // the first run builds helm
    await helm();
  });

  it("is what hack/render-manifests.sh renders from the chart now", async function () {
    const { stdout } = await run(join(repoRoot, "hack/render-manifests.sh"), ["-"], { maxBuffer: 1 << 26 });
    const committed = readFileSync(manifestsFile, "utf8");
    expect(
      committed === stdout,
      "deploy/manifests/outrigger.yaml is stale: run hack/render-manifests.sh",
    ).to.equal(true);
  });

  it("creates its namespace first, under the restricted Pod Security Standard, then the chart's objects", async function () {
    const objects = parseManifests(readFileSync(manifestsFile, "utf8"));
    const [first, ...rest] = objects;
    expect(first?.kind).to.equal("Namespace");
    expect(first?.metadata.name).to.equal("outrigger-system");
    expect(first?.metadata.labels["pod-security.kubernetes.io/enforce"]).to.equal("restricted");
    const chart = await render({ namespace: "outrigger-system" });
    expect(rest).to.deep.equal(chart.objects);
  });
});
