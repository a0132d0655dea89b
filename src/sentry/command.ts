// `outrigger sentry`: flags and process wiring for the CA that daprd asks for its SVID. The
// pieces: validate.ts (the decision), x509.ts (certificates), ca.ts (rotation policy), ca-store.ts
// (its Secret and the trust-bundle ConfigMap), service.ts (the gRPC shell). docs/identity.md.
import { Registry, collectDefaultMetrics } from "prom-client";
import { renewalReason } from "../shared/cert-renewal.ts";
import {
  PROCESS_LOG_LEVELS,
  flagReader,
  stringFlag,
  type Command,
  type Flag,
  type FlagValues,
  type Problems,
} from "../shared/command.ts";
import { createKubeHttp, type KubeHttp } from "../shared/kube-http.ts";
import { KubeconfigError, loadApiEndpoint } from "../shared/kubeconfig.ts";
import {
  logFormatFlag,
  logFormatFlagValue,
  processLogger,
  type LogFormat,
  type Logger,
} from "../shared/log.ts";
import { serveUntilShutdown, startOpsServer } from "../shared/ops-server.ts";
import {
  DEFAULT_TRUST_DOMAIN,
  SENTRY_SERVICE,
  TRUST_BUNDLE_CONFIGMAP,
  sentrySpiffeId,
  trustDomainProblem,
} from "../sidecar/identity.ts";
import type { CaPolicy, CaRotation } from "./ca.ts";
import { caStore } from "./ca-store.ts";
import { configMapObjects, readPod, reviewToken, secretObjects } from "./kube.ts";
import { countCaChange, createSentryMetrics } from "./metrics.ts";
import { startSentryServer, type SentryServer, type SigningCa } from "./service.ts";
import { certificateInfo, newServingSvid, type CertKeyPair } from "./x509.ts";

const str = stringFlag;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const options: Record<string, Flag> = {
  kubeconfig: str("Path to a kubeconfig (default: $KUBECONFIG or in-cluster)"),
  namespace: str(
    "Namespace of Sentry: its CA Secret and the trust-bundle ConfigMap live here",
    "outrigger-system",
  ),
  "listen-address": str("Address of the gRPC (TLS) server daprd calls", "0.0.0.0:50001"),
  "ops-address": str("Address of /healthz, /readyz and /metrics (plain HTTP)", "0.0.0.0:8082"),
  "log-level": str("Log level of Sentry: debug, info, warn, error (default: $LOG_LEVEL or info)"),
  "log-format": logFormatFlag,
  "trust-domain": str("SPIFFE trust domain of the SVIDs", DEFAULT_TRUST_DOMAIN),
  "workload-cert-ttl": str("Lifetime of a workload SVID (Dapr's default); daprd renews at half", "24h"),
  "allowed-clock-skew": str("notBefore of every certificate lies this far back (Dapr's default)", "15m"),
  "root-validity": str("Lifetime of a root; a successor is published at two thirds", "8760h"),
  "issuer-validity": str("Lifetime of the issuer that signs SVIDs; renewed at two thirds", "720h"),
  "root-publish-period": str(
    "A successor root is in the trust bundle at least this long before it signs (restart sidecars in between)",
    "168h",
  ),
  "ca-secret-name": str("Secret holding the roots and the issuer", "outrigger-sentry-ca"),
  "trust-bundle-configmap": str(
    "ConfigMap the trust bundle is published to (key ca.crt)",
    TRUST_BUNDLE_CONFIGMAP,
  ),
  "service-name": str("Service in front of Sentry; its DNS names go into the serving SVID", SENTRY_SERVICE),
  "resync-interval": str("Re-read the CA Secret at least this often", "1m"),
};

export interface SentryConfig {
  kubeconfig?: string;
  namespace: string;
  listen: { host: string; port: number };
  opsAddress: string;
  logLevel: string;
  /** undefined: pretty when stdout is a terminal, else json. */
  logFormat?: LogFormat;
  trustDomain: string;
  workloadTtlMs: number;
  skewMs: number;
  caPolicy: CaPolicy;
  secretName: string;
  bundleConfigMap: string;
  serviceName: string;
  resyncMs: number;
}

export function sentryConfig(
  values: FlagValues,
  env: NodeJS.ProcessEnv = process.env,
): SentryConfig | Problems {
  const problems: string[] = [];
  const reader = flagReader(options, values, problems);
  const { get, need } = reader;
  const duration = (k: string, min: number) => reader.duration(k, min, "30s, 15m, 24h");
  const address = (k: string) => reader.address(k);
  const name = (k: string) => {
    const v = need(k);
    if (!DNS_LABEL.test(v))
      problems.push(`--${k} ${JSON.stringify(v)}: want a DNS label (lowercase, digits, '-')`);
    return v;
  };
  const namespace = name("namespace");
  const listen = address("listen-address");
  address("ops-address");
  const logFormat = logFormatFlagValue(get("log-format"), problems);
  const logLevel = get("log-level") ?? env.LOG_LEVEL ?? "info";
  if (!(PROCESS_LOG_LEVELS as readonly string[]).includes(logLevel))
    problems.push(`--log-level ${JSON.stringify(logLevel)}: want debug, info, warn or error`);
  const trustDomain = need("trust-domain");
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem) problems.push(`--trust-domain ${JSON.stringify(trustDomain)}: ${tdProblem}`);
  const workloadTtlMs = duration("workload-cert-ttl", 10_000);
  const skewMs = duration("allowed-clock-skew", 0);
  const rootValidityMs = duration("root-validity", 60_000);
  const issuerValidityMs = duration("issuer-validity", 30_000);
  const minPublishedMs = duration("root-publish-period", 0);
  if (issuerValidityMs > rootValidityMs) problems.push("--issuer-validity must not exceed --root-validity");
  if (workloadTtlMs > issuerValidityMs)
    problems.push("--workload-cert-ttl must not exceed --issuer-validity");
  const secretName = name("ca-secret-name");
  const bundleConfigMap = name("trust-bundle-configmap");
  const serviceName = name("service-name");
  const resyncMs = duration("resync-interval", 1000);
  if (problems.length > 0) return { problems };
  return {
    ...(get("kubeconfig") ? { kubeconfig: get("kubeconfig") } : {}),
    namespace,
    listen,
    opsAddress: need("ops-address"),
    logLevel,
    ...(logFormat ? { logFormat } : {}),
    trustDomain,
    workloadTtlMs,
    skewMs,
    caPolicy: {
      trustDomain,
      sentryId: sentrySpiffeId(trustDomain, namespace),
      rootValidityMs,
      issuerValidityMs,
      skewMs,
      minPublishedMs,
    },
    secretName,
    bundleConfigMap,
    serviceName,
    resyncMs,
  };
}

/** Runs Sentry until SIGTERM/SIGINT. */
export async function runSentry(config: SentryConfig, log: Logger, registry: Registry): Promise<number> {
  const metrics = createSentryMetrics(registry);
  const now = () => new Date();
  let http: KubeHttp;
  try {
    const endpoint = loadApiEndpoint(config.kubeconfig);
    log.info({ server: endpoint.server, kubeconfig: endpoint.source }, "using the Kubernetes API");
    http = createKubeHttp(endpoint);
  } catch (err) {
    if (!(err instanceof KubeconfigError)) throw err;
    console.error(`outrigger sentry: ${err.message}`);
    return 2;
  }

  const sentryId = config.caPolicy.sentryId;
  const dnsNames = [
    `${config.serviceName}.${config.namespace}.svc`,
    `${config.serviceName}.${config.namespace}.svc.cluster.local`,
  ];
  let signing: SigningCa | undefined;
  let serving: CertKeyPair | undefined;
  let server: SentryServer | undefined;
  let draining = false;
  const servingValidity = () => ({ now: now(), validityMs: config.workloadTtlMs, skewMs: config.skewMs });
  const renewServing = (issuer: CertKeyPair) => {
    serving = newServingSvid(issuer, sentryId, dnsNames, servingValidity());
    const chain = { certPem: serving.certPem + issuer.certPem, keyPem: serving.keyPem };
    server?.setCertificate(chain);
    return chain;
  };
  const onChange = (ca: CaRotation["ca"], changes: CaRotation["changes"]) => {
    for (const c of changes) countCaChange(metrics, c);
    for (const [certificate, pem] of [
      ["root", ca.root.certPem],
      ["issuer", ca.issuer.certPem],
    ] as const) {
      const info = certificateInfo(pem);
      if (info) metrics.certificateNotAfter.set({ certificate }, info.notAfter.getTime() / 1000);
    }
    const issuerChanged = signing?.issuer.certPem !== ca.issuer.certPem;
    signing = { issuer: ca.issuer, trustBundlePem: ca.trustBundlePem };
    if (issuerChanged) renewServing(ca.issuer);
  };
  const store = caStore({
    secrets: secretObjects(http),
    configMaps: configMapObjects(http),
    namespace: config.namespace,
    secretName: config.secretName,
    bundleConfigMap: config.bundleConfigMap,
    policy: config.caPolicy,
    now,
    log,
    onChange,
    onError: (operation) => metrics.errors.inc({ operation }),
    resyncMs: config.resyncMs,
    retryMs: 1000,
  });
  const ops = await startOpsServer({
    address: config.opsAddress,
    registry,
    isReady: () => server !== undefined && !draining,
    log,
  });

  // The serving SVID lives as long as a workload's; renewed at two thirds like the CA.
  const servingTimer = setInterval(
    () => {
      const info = serving && certificateInfo(serving.certPem);
      if (signing && info && renewalReason(info, now())) renewServing(signing.issuer);
    },
    Math.min(config.resyncMs, 60_000),
  );
  return serveUntilShutdown({
    log,
    what: "the gRPC server",
    start: () => store.start(),
    serve: async () => {
      if (!signing) return;
      const first = renewServing(signing.issuer);
      server = await startSentryServer({
        host: config.listen.host,
        port: config.listen.port,
        certificate: first,
        deps: {
          policy: { trustDomain: config.trustDomain, audience: sentryId },
          reviewToken: (token, audience) => reviewToken(http, token, audience),
          readPod: (namespace, name) => readPod(http, namespace, name),
          ca: () => signing!,
          now,
          workloadTtlMs: config.workloadTtlMs,
          skewMs: config.skewMs,
          metrics,
          log,
        },
      });
      log.info({ port: server.port, trustDomain: config.trustDomain, sentryId }, "sentry ready");
    },
    stop: async (signal) => {
      log.info({ signal }, "shutting down");
      draining = true;
      clearInterval(servingTimer);
      store.stop();
      await server?.close();
      ops.close();
      log.info("stopped");
    },
  });
}

export const sentryCommand: Command<SentryConfig> = {
  summary: "Serve Dapr Sentry's CA API: sign SVIDs for sidecars whose tokens prove their app-id",
  usage: "outrigger sentry [flags]",
  options,
  config: sentryConfig,
  async run(config) {
    const log = processLogger("sentry", config.logLevel, config.logFormat);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    return runSentry(config, log, registry);
  },
};
