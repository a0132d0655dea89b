import { expect } from "chai";
import { parseArgs } from "node:util";
import { isProblems } from "../shared/command.ts";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import { controllerCommand, controllerConfig, type ControllerConfig } from "./command.ts";

/** Parses args with the command's own table, as cli.ts does, then builds the config. */
function configOf(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { values } = parseArgs({ args, options: controllerCommand.options, strict: true });
  return controllerConfig(values as Record<string, string>, env);
}

function valid(args: string[], env: NodeJS.ProcessEnv = {}): ControllerConfig {
  const c = configOf(args, env);
  if (isProblems(c)) throw new Error(c.problems.join("; "));
  return c;
}

describe("controllerConfig", () => {
  it("defaults every flag", () => {
    expect(valid([])).to.deep.equal({
      opsAddress: "0.0.0.0:8080",
      lease: { namespace: "outrigger-system", name: "outrigger-controller" },
      leaseSeconds: 15,
      concurrency: 4,
      logLevel: "info",
      sidecarDefaults: builtInSidecarDefaults,
      trustBundleConfigMap: "outrigger-trust-bundle",
      webhookExcludedNamespaces: ["kube-system", "outrigger-system"],
    });
  });

  it("deletes un-injected pods only when asked, at the given rate", () => {
    expect(valid(["--uninjected-pod-deletes-per-minute", "5"]).uninjectedPodDeletesPerMinute).to.equal(
      undefined,
    );
    expect(valid(["--delete-uninjected-pods"]).uninjectedPodDeletesPerMinute).to.equal(20);
    const c = configOf(["--delete-uninjected-pods", "--uninjected-pod-deletes-per-minute", "0"]);
    expect(isProblems(c) && c.problems).to.deep.equal([
      '--uninjected-pod-deletes-per-minute "0": want an integer from 1 to 10000',
    ]);
    expect(
      valid(["--webhook-excluded-namespaces", "a, b,,kube-system"], { POD_NAMESPACE: "ops" })
        .webhookExcludedNamespaces,
    ).to.deep.equal(["a", "b", "kube-system"]);
  });

  it("names Sentry's trust-bundle ConfigMap, and refuses a name that cannot be one", () => {
    expect(valid(["--trust-bundle-configmap", "my-bundle"]).trustBundleConfigMap).to.equal("my-bundle");
    const c = configOf(["--trust-bundle-configmap", "Not_A_Name"]);
    expect(isProblems(c) && c.problems).to.deep.equal([
      '--trust-bundle-configmap "Not_A_Name" is not a ConfigMap name',
    ]);
  });

  it("takes the Lease namespace and log level from the environment unless given", () => {
    const c = valid([], { POD_NAMESPACE: "ops", LOG_LEVEL: "debug" });
    expect(c.lease.namespace).to.equal("ops");
    expect(c.logLevel).to.equal("debug");
    expect(valid(["--leader-election-namespace", "x"], { POD_NAMESPACE: "ops" }).lease.namespace).to.equal(
      "x",
    );
  });

  it("reports every bad flag at once, naming it", () => {
    const c = configOf(["--lease-duration", "1", "--concurrency", "0", "--sidecar-log-level", "loud"]);
    expect(isProblems(c) && c.problems.join("\n"))
      .to.include("--lease-duration")
      .and.include("--concurrency")
      .and.include("--sidecar-log-level");
  });

  it("refuses a sidecar request above its limit", () => {
    const c = configOf(["--sidecar-cpu-request", "2", "--sidecar-cpu-limit", "1"]);
    expect(isProblems(c) && c.problems).to.deep.equal([
      '--sidecar-cpu-request "2" is more than --sidecar-cpu-limit "1"',
    ]);
    const m = configOf(["--sidecar-memory-limit", "100Mi"]);
    expect(isProblems(m) && m.problems).to.deep.equal([
      '--sidecar-memory-request "250Mi" is more than --sidecar-memory-limit "100Mi"',
    ]);
  });
});
