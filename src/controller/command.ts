// `outrigger controller`: flags and process wiring. Every replica keeps warm caches; only the
// holder of the Lease reconciles, so two replicas never write at once.
import { Registry, collectDefaultMetrics } from "prom-client";
import {
  PROCESS_LOG_LEVELS,
  flagReader,
  stringFlag as str,
  type Command,
  type Flag,
  type FlagValues,
  type Problems,
} from "../shared/command.ts";
import { KubeconfigError, loadApiEndpoint, type ApiEndpoint } from "../shared/kubeconfig.ts";
import { logFormatFlag, logFormatFlagValue, processLogger, type LogFormat } from "../shared/log.ts";
import { parseAddress, startOpsServer, waitForShutdownSignal } from "../shared/ops-server.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { TRUST_BUNDLE_CONFIGMAP } from "../sidecar/identity.ts";
import { sidecarDefaultsFlags, sidecarDefaultsFromFlags } from "../sidecar/flags.ts";
import { Manager } from "./manager.ts";
import { createKubeHttp } from "../shared/kube-http.ts";
import {
  LeaderElector,
  defaultIdentity,
  kubeLeaseStore,
  leaseNamespaceState,
} from "./runtime/leader-election.ts";
import { runtimeMetrics } from "./runtime/metrics.ts";

const options: Record<string, Flag> = {
  kubeconfig: str("Path to a kubeconfig (default: $KUBECONFIG or in-cluster)"),
  "ops-address": str("Address of /healthz, /readyz, /metrics", "0.0.0.0:8080"),
  "leader-election-namespace": str(
    "Namespace of the leader-election Lease (default: $POD_NAMESPACE, else outrigger-system)",
  ),
  "leader-election-name": str("Name of the leader-election Lease", "outrigger-controller"),
  "lease-duration": str("Lease duration in seconds", "15"),
  "watch-namespace": str("Watch and reconcile only this namespace (default: all namespaces)"),
  concurrency: str("Keys reconciled at once per queue", "4"),
  "log-level": str("pino log level (default: $LOG_LEVEL, else info)"),
  "log-format": logFormatFlag,
  // Un-injected pods (pods asking for a sidecar that the webhook never saw).
  "webhook-excluded-namespaces": str(
    "Namespaces the injector's webhook never sees, comma-separated; their un-injected pods are reported with that reason (default: kube-system and the leader-election namespace)",
  ),
  "delete-uninjected-pods": {
    type: "boolean",
    default: false,
    description:
      "Delete pods that ask for a sidecar and have none, when a controller owns them, so that it recreates them through the webhook",
  },
  "uninjected-pod-deletes-per-minute": str(
    "With --delete-uninjected-pods: at most this many deletions a minute",
    "20",
  ),
  // The cluster-wide sidecar defaults: pods injected with other ones are reported as stale.
  ...sidecarDefaultsFlags,
  "trust-bundle-configmap": str(
    "With --mtls: Sentry's trust-bundle ConfigMap in --sentry-namespace; pods whose trust anchors lack one of its roots are reported stale",
    TRUST_BUNDLE_CONFIGMAP,
  ),
};

/** Everything the controller process needs, validated. */
export interface ControllerConfig {
  kubeconfig?: string;
  opsAddress: string;
  lease: { namespace: string; name: string };
  leaseSeconds: number;
  watchNamespace?: string;
  concurrency: number;
  logLevel: string;
  /** undefined: pretty when stdout is a terminal, else json. */
  logFormat?: LogFormat;
  sidecarDefaults: SidecarDefaults;
  /** Watched only with mTLS on. */
  trustBundleConfigMap: string;
  webhookExcludedNamespaces: string[];
  /** Set with --delete-uninjected-pods. */
  uninjectedPodDeletesPerMinute?: number;
}

/** Flags to config; the problems are listed all at once, each naming its flag. */
export function controllerConfig(
  values: FlagValues,
  env: NodeJS.ProcessEnv = process.env,
): ControllerConfig | Problems {
  const problems: string[] = [];
  const { get, need, integer } = flagReader(options, values, problems);
  const opsAddress = need("ops-address");
  try {
    parseAddress(opsAddress);
  } catch (err) {
    problems.push(`--ops-address: ${(err as Error).message}`);
  }
  const leaseSeconds = Number(need("lease-duration"));
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 2)
    problems.push("--lease-duration: want an integer >= 2");
  const concurrency = Number(need("concurrency"));
  if (!Number.isInteger(concurrency) || concurrency < 1) problems.push("--concurrency: want an integer >= 1");
  const logFormat = logFormatFlagValue(get("log-format"), problems);
  const logLevel = get("log-level") ?? env.LOG_LEVEL ?? "info";
  if (!(PROCESS_LOG_LEVELS as readonly string[]).includes(logLevel))
    problems.push(`--log-level ${JSON.stringify(logLevel)}: want ${PROCESS_LOG_LEVELS.join(", ")}`);
  const sidecarDefaults = sidecarDefaultsFromFlags(values, problems);
  const deletesPerMinute = integer("uninjected-pod-deletes-per-minute", 1, 10_000);
  const trustBundleConfigMap = need("trust-bundle-configmap");
  if (!/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(trustBundleConfigMap))
    problems.push(`--trust-bundle-configmap ${JSON.stringify(trustBundleConfigMap)} is not a ConfigMap name`);
  if (problems.length > 0) return { problems };
  const kubeconfig = get("kubeconfig");
  const watchNamespace = get("watch-namespace");
  const leaseNamespace = get("leader-election-namespace") ?? env.POD_NAMESPACE ?? "outrigger-system";
  const excluded = get("webhook-excluded-namespaces");
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    opsAddress,
    lease: { namespace: leaseNamespace, name: need("leader-election-name") },
    leaseSeconds,
    ...(watchNamespace ? { watchNamespace } : {}),
    concurrency,
    logLevel,
    ...(logFormat ? { logFormat } : {}),
    sidecarDefaults,
    trustBundleConfigMap,
    webhookExcludedNamespaces:
      excluded === undefined
        ? [...new Set(["kube-system", leaseNamespace])]
        : excluded
            .split(",")
            .map((n) => n.trim())
            .filter((n) => n !== ""),
    ...(values["delete-uninjected-pods"] === true && deletesPerMinute !== undefined
      ? { uninjectedPodDeletesPerMinute: deletesPerMinute }
      : {}),
  };
}

export const controllerCommand: Command<ControllerConfig> = {
  summary: "Reconcile Components and Configurations into per-app sidecar configs",
  usage: "outrigger controller [flags]",
  options,
  config: controllerConfig,
  async run(config) {
    const log = processLogger("controller", config.logLevel, config.logFormat);
    let endpoint: ApiEndpoint;
    try {
      endpoint = loadApiEndpoint(config.kubeconfig);
    } catch (err) {
      if (!(err instanceof KubeconfigError)) throw err;
      console.error(`outrigger controller: ${err.message}`);
      return 2;
    }
    log.info({ server: endpoint.server, kubeconfig: endpoint.source }, "using the Kubernetes API");
    const http = createKubeHttp(endpoint);
    // Without its namespace the Lease can never be created: the controller would campaign
    // forever and reconcile nothing. The namespace is the installer's to create, not ours.
    if ((await leaseNamespaceState(http, config.lease)) === "missing") {
      console.error(
        `outrigger controller: the leader-election namespace ${JSON.stringify(config.lease.namespace)} does not exist: ` +
          `create it (kubectl create namespace ${config.lease.namespace}) or name another with --leader-election-namespace`,
      );
      return 2;
    }
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const { leaseSeconds } = config;
    const manager = new Manager({
      http,
      log,
      registry,
      concurrency: config.concurrency,
      sidecarDefaults: config.sidecarDefaults,
      trustBundleConfigMap: config.trustBundleConfigMap,
      webhookExcludedNamespaces: config.webhookExcludedNamespaces,
      ...(config.uninjectedPodDeletesPerMinute
        ? { uninjectedPodDeletesPerMinute: config.uninjectedPodDeletesPerMinute }
        : {}),
      ...(config.watchNamespace ? { namespace: config.watchNamespace } : {}),
    });
    const ops = await startOpsServer({
      address: config.opsAddress,
      registry,
      isReady: () => manager.hasSynced(),
      log,
    });
    manager.startInformers();
    const identity = defaultIdentity();
    const elector = new LeaderElector({
      lease: config.lease,
      identity,
      store: kubeLeaseStore(http, config.lease),
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
