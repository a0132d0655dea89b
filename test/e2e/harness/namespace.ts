// One fresh namespace per test. When a test fails, print what is needed to see why: the
// logs of Outrigger's processes, the namespace's events and the objects in it.
import { CoreV1Api } from "@kubernetes/client-node";
import { cluster } from "./cluster.ts";
import { runningOutriggerProcesses } from "./outrigger.ts";
import { sidecarLogsFor } from "./sidecar-runner.ts";
import { kubectl } from "./util.ts";

export const E2E_NAMESPACE_LABEL = "outrigger.dev/e2e";

export interface TestNamespace {
  /** The namespace of the current test. */
  readonly name: string;
}

let counter = 0;

export function useNamespace(prefix: string, labels: Record<string, string> = {}): TestNamespace {
  let name = "";
  beforeEach(async function () {
    name = `${prefix}-${process.pid}-${++counter}`.slice(0, 63);
    const core = cluster().kc.makeApiClient(CoreV1Api);
    await core.createNamespace({
      body: { metadata: { name, labels: { [E2E_NAMESPACE_LABEL]: "true", ...labels } } },
    });
    await defaultServiceAccount(core, name);
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") await dumpNamespace(name);
    if (process.env.OUTRIGGER_E2E_KEEP_NAMESPACES === "1") return;
    await cluster()
      .kc.makeApiClient(CoreV1Api)
      .deleteNamespace({ name })
      .catch(() => undefined);
  });
  return {
    get name() {
      return name;
    },
  };
}

/**
 * Waits for the namespace's `default` ServiceAccount, as Kubernetes' own e2e framework does: the
 * API server refuses pods until kube-controller-manager has made it, and after an API server
 * restart (runtime.e2e's outage spec) that took longer than the next test's first pod.
 */
async function defaultServiceAccount(core: CoreV1Api, namespace: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ name: "default", namespace });
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(
          `namespace ${namespace}: no default ServiceAccount after ${timeoutMs} ms: ${String(err)}`,
          { cause: err },
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Prints the diagnostics of a failed test to stderr. */
export async function dumpNamespace(namespace: string): Promise<void> {
  const out: string[] = [`\n===== diagnostics for namespace ${namespace} =====`];
  for (const p of runningOutriggerProcesses()) {
    out.push(
      `----- logs of outrigger ${p.name} (last 200 lines) -----`,
      p.logs().split("\n").slice(-200).join("\n"),
    );
  }
  for (const s of sidecarLogsFor(namespace)) {
    out.push(`----- logs of ${s.name} (last 200 lines) -----`, s.logs.split("\n").slice(-200).join("\n"));
  }
  const events = await kubectl(["get", "events", "--sort-by=.lastTimestamp"], { namespace, allowFail: true });
  out.push("----- events -----", events.stdout + events.stderr);
  const kinds = "all,secrets,configmaps,components.dapr.io,configurations.dapr.io";
  const objects = await kubectl(["get", kinds, "-o", "yaml"], { namespace, allowFail: true });
  out.push("----- objects -----", objects.stdout + objects.stderr);
  process.stderr.write(out.join("\n") + "\n");
}
