// `outrigger injector`: flags and process wiring for the admission webhook.
import { Registry, collectDefaultMetrics } from "prom-client";
import type { Command } from "../cli.ts";
import { createLogger } from "../shared/log.ts";
import { startOpsServer, waitForShutdownSignal } from "../shared/ops-server.ts";

export const injectorCommand: Command = {
  summary: "Serve the mutating admission webhook that injects the daprd sidecar",
  usage: "outrigger injector [flags]",
  options: {
    kubeconfig: { type: "string", description: "Path to a kubeconfig (default: $KUBECONFIG or in-cluster)" },
    "ops-address": {
      type: "string",
      default: "0.0.0.0:8081",
      description: "Address of /healthz, /readyz, /metrics",
    },
  },
  async run(values) {
    const log = createLogger("injector");
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const ops = await startOpsServer({
      address: values["ops-address"] as string,
      registry,
      isReady: () => true,
      log,
    });
    const sig = await waitForShutdownSignal();
    log.info({ signal: sig }, "shutting down");
    ops.close();
    return 0;
  },
};
