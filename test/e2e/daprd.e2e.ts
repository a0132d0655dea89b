// The real daprd, run by the sidecar runner (harness/sidecar-runner.ts) for pods injected by the
// real injector, fed the sidecar config that the real controller writes.
import { expect } from "chai";
import {
  DAPRD_NAMESPACE_LABELS,
  apply,
  componentObject,
  loadedComponents,
  runDaprPod,
  useDaprdEnvironment,
} from "./harness/daprd-env.ts";
import { useNamespace } from "./harness/namespace.ts";
import type { Sidecar } from "./harness/sidecar-runner.ts";

const DAPR_HTTP = 3500;

async function metadata(sidecar: Sidecar): Promise<Record<string, unknown>> {
  const res = await sidecar.fetchInPod(DAPR_HTTP, "/v1.0/metadata");
  expect(res.status, `metadata API: ${res.body}`).to.equal(200);
  return JSON.parse(res.body) as Record<string, unknown>;
}

describe("daprd (real runtime)", function () {
  const env = useDaprdEnvironment();
  const ns = useNamespace("daprd", DAPRD_NAMESPACE_LABELS);
  afterEach(async function () {
    this.timeout(60_000);
    await env.runner.stopAll();
  });

  it("runs the injected daprd in its own network namespace, and its probes pass", async function () {
    await apply(ns.name, componentObject("store", "state.in-memory"));
    const created = performance.now();
    const sidecar = await runDaprPod(env, ns.name, "hello");
    // At the kubelet's pace: the injected period and failureThreshold.
    const startup = await sidecar.runProbe("startup");
    expect(startup.ok, `startup probe: ${startup.last.detail}\n${sidecar.logs()}`).to.equal(true);
    console.log(
      `      daprd at ${sidecar.network.podIP}: startup probe passed on attempt ${startup.attempts}, ${Math.round(performance.now() - created)} ms after the pod was created`,
    );
    const readiness = await sidecar.runProbe("readiness");
    expect(readiness.ok, `readiness probe: ${readiness.last.detail}`).to.equal(true);
    expect((await sidecar.probe("liveness")).ok, "liveness probe").to.equal(true);
    expect([...(await loadedComponents(sidecar)).keys()]).to.deep.equal(["store"]);
    expect((await metadata(sidecar)).id).to.equal("hello");
    // The container's env as the kubelet resolves it, and its args untouched but for the binary.
    expect(sidecar.env.NAMESPACE).to.equal(ns.name);
    expect(sidecar.env.POD_NAME).to.equal("hello");
    expect(sidecar.argv.slice(1)).to.deep.equal(sidecar.container.args!.slice(1));
    // The Dapr API listens on loopback only: not reachable on the pod address.
    const outside = await fetch(sidecar.url(DAPR_HTTP, "/v1.0/healthz")).then(
      () => "reachable",
      () => "refused",
    );
    expect(outside).to.equal("refused");
  });
});
