// `outrigger controller`: flags and process wiring. Every replica keeps warm caches; only the
// holder of the Lease reconciles, so two replicas never write at once.
import { Registry, collectDefaultMetrics } from "prom-client";
import type { Command } from "../shared/command.ts";
import { KubeconfigError, loadApiEndpoint, type ApiEndpoint } from "../shared/kubeconfig.ts";
import { createLogger } from "../shared/log.ts";
import { startOpsServer, waitForShutdownSignal } from "../shared/ops-server.ts";
import { sidecarDefaultsFlags, sidecarDefaultsFromFlags } from "../sidecar/flags.ts";
import { Manager } from "./manager.ts";
import { createKubeHttp } from "../shared/kube-http.ts";
import { LeaderElector, defaultIdentity, kubeLeaseStore } from "./runtime/leader-election.ts";
import { runtimeMetrics } from "./runtime/metrics.ts";

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
    "leader-election-namespace": {
      type: "string",
      default: process.env.POD_NAMESPACE ?? "outrigger-system",
      description: "Namespace of the leader-election Lease",
    },
    "leader-election-name": {
      type: "string",
      default: "outrigger-controller",
      description: "Name of the leader-election Lease",
    },
    "lease-duration": { type: "string", default: "15", description: "Lease duration in seconds" },
    "watch-namespace": {
      type: "string",
      description: "Watch and reconcile only this namespace (default: all namespaces)",
    },
    concurrency: { type: "string", default: "4", description: "Keys reconciled at once per queue" },
    "log-level": { type: "string", default: process.env.LOG_LEVEL ?? "info", description: "pino log level" },
    // The injector's sidecar settings: pods injected with other ones are reported as stale.
    ...sidecarDefaultsFlags,
  },
  async run(values) {
    const log = createLogger("controller", values["log-level"] as string);
    let endpoint: ApiEndpoint;
    try {
      endpoint = loadApiEndpoint(values.kubeconfig as string | undefined);
    } catch (err) {
      if (!(err instanceof KubeconfigError)) throw err;
      console.error(`outrigger controller: ${err.message}`);
      return 2;
    }
    log.info({ server: endpoint.server, kubeconfig: endpoint.source }, "using the Kubernetes API");
    const http = createKubeHttp(endpoint);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const leaseSeconds = Number(values["lease-duration"]);
    const concurrency = Number(values.concurrency);
    const problems: string[] = [];
    if (!Number.isInteger(leaseSeconds) || leaseSeconds < 2)
      problems.push("--lease-duration: want an integer >= 2");
    if (!Number.isInteger(concurrency) || concurrency < 1)
      problems.push("--concurrency: want an integer >= 1");
    const sidecarDefaults = sidecarDefaultsFromFlags(values, problems);
    if (problems.length > 0) {
      console.error(`outrigger controller: ${problems.join("\n")}`);
      return 2;
    }
    const namespace = values["watch-namespace"] as string | undefined;
    const manager = new Manager({
      http,
      log,
      registry,
      concurrency,
      sidecarDefaults,
      ...(namespace ? { namespace } : {}),
    });
    const ops = await startOpsServer({
      address: values["ops-address"] as string,
      registry,
      isReady: () => manager.hasSynced(),
      log,
    });
    manager.startInformers();
    const identity = defaultIdentity();
    const elector = new LeaderElector({
      lease: {
        namespace: values["leader-election-namespace"] as string,
        name: values["leader-election-name"] as string,
      },
      identity,
      store: kubeLeaseStore(http, {
        namespace: values["leader-election-namespace"] as string,
        name: values["leader-election-name"] as string,
      }),
      leaseDurationMs: leaseSeconds * 1000,
      renewDeadlineMs: Math.round(leaseSeconds * 666),
      retryPeriodMs: Math.max(500, Math.round(leaseSeconds * 133)),
      log,
      metrics: runtimeMetrics(registry),
      onStartedLeading: (signal) => {
        log.info({ identity }, "leading: starting reconcilers");
        manager.waitForSync(signal).then(
          () => manager.startReconciling(),
          () => undefined,
        );
      },
      // A leader that could not renew stops writing at once and campaigns again: another
      // replica may lead now. The caches stay warm, so a new term starts quickly.
      onStoppedLeading: () => {
        log.warn({ identity }, "stopped leading: stopping reconcilers");
        void manager.stopReconciling();
      },
    });
    let shuttingDown = false;
    const campaign = (async () => {
      while (!shuttingDown) {
        const end = await elector.run();
        if (end !== "lost") break;
      }
    })();

    const signal = await waitForShutdownSignal();
    shuttingDown = true;
    log.info({ signal }, "shutting down");
    await manager.stop();
    await elector.release();
    await campaign;
    ops.close();
    return 0;
  },
};
