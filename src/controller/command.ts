// `outrigger controller`: flags and process wiring. The reconcile logic lives beside it.
import { VersionApi } from "@kubernetes/client-node";
import { Registry, collectDefaultMetrics } from "prom-client";
import type { Command } from "../cli.ts";
import { loadKubeConfig } from "../shared/kube.ts";
import { createLogger } from "../shared/log.ts";
import { startOpsServer, waitForShutdownSignal } from "../shared/ops-server.ts";

export const controllerCommand: Command = {
  summary: "Reconcile Components and Configurations into per-app sidecar configs",
  usage: "outrigger controller [flags]",
  options: {
    kubeconfig: { type: "string", description: "Path to a kubeconfig (default: $KUBECONFIG or in-cluster)" },
    "ops-address": {
      type: "string",
      default: "0.0.0.0:8080",
      description: "Address of /healthz, /readyz, /metrics",
    },
  },
  async run(values) {
    const log = createLogger("controller");
    const kc = loadKubeConfig(values.kubeconfig as string | undefined);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const version = await kc.makeApiClient(VersionApi).getCode();
    log.info({ server: kc.getCurrentCluster()?.server, serverVersion: version.gitVersion }, "connected");
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
