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
    await cluster()
      .kc.makeApiClient(CoreV1Api)
      .createNamespace({
        body: { metadata: { name, labels: { [E2E_NAMESPACE_LABEL]: "true", ...labels } } },
      });
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
