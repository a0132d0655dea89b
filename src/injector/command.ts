// `outrigger injector`: flags and process wiring for the admission webhook. The pieces live
// beside it: the pure core (admit.ts), the HTTPS shell (server.ts), certificates (certs.ts,
// certificate-sources.ts) and the webhook registration (webhook-config.ts). docs/injector.md has the
// whole picture.
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { Registry, collectDefaultMetrics } from "prom-client";
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
import { admit } from "./admit.ts";
import {
  fileCertificateSource,
  managedCertificateSource,
  type ActiveCertificates,
  type CertificateSource,
} from "./certificate-sources.ts";
import {
  LOOPBACK_HOSTS,
  certificateTimes,
  isSignedBy,
  serviceDnsNames,
  splitPemBundle,
  type CertificatePolicy,
  type RotationChange,
} from "./certs.ts";
import { secretClient, webhookConfigClient } from "./kube-clients.ts";
import { countRotation, createInjectorMetrics, type InjectorMetrics } from "./metrics.ts";
import {
  DEFAULT_MAX_REQUEST_BYTES,
  createWebhookHandler,
  startWebhookServer,
  type WebhookServer,
} from "./server.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { sidecarDefaultsFlags, sidecarDefaultsFromFlags } from "../sidecar/flags.ts";
import { INJECTOR_TRUST_ANCHORS_FILE, hasTrustAnchors } from "../sidecar/identity.ts";
import { webhookPublisher, type WebhookPublisher, type WebhookTarget } from "./webhook-config.ts";
import { CONVERSION_CRD, conversionPublisher, crdClient } from "./crd-conversion.ts";

const str = stringFlag;
/** The kubelet refreshes a mounted ConfigMap within a minute or so; this adds little to that. */
const ANCHORS_REREAD_MS = 5000;

const options: Record<string, Flag> = {
  kubeconfig: str("Path to a kubeconfig (default: $KUBECONFIG or in-cluster)"),
  namespace: str(
    "Namespace of the injector: its certificate Secret lives here, and its pods are never injected",
    "outrigger-system",
  ),
  "listen-address": str("Address of the HTTPS webhook server (POST /mutate)", "0.0.0.0:8443"),
  "ops-address": str("Address of /healthz, /readyz and /metrics (plain HTTP)", "0.0.0.0:8081"),
  "log-level": str("Log level of the injector: debug, info, warn, error (default: $LOG_LEVEL or info)"),
  "log-format": logFormatFlag,
  // Certificates
  "tls-cert-file": str("Serve this certificate (PEM) instead of managing one; reloaded when it changes"),
  "tls-key-file": str("Private key (PEM) of --tls-cert-file"),
  "tls-ca-file": str("With --tls-cert-file: CA bundle (PEM) to write into the webhook's caBundle"),
  "cert-secret-name": str(
    "Secret holding the injector's CA and serving certificate",
    "outrigger-injector-tls",
  ),
  "service-name": str(
    "Service in front of the injector; its DNS names go into the serving certificate",
    "outrigger-injector",
  ),
  "cert-validity": str("Lifetime of a serving certificate; renewed at two thirds", "8760h"),
  "ca-validity": str("Lifetime of the CA; a successor is published at two thirds", "87600h"),
  "resync-interval": str(
    "Re-read the certificate Secret or files and the webhook configuration at least this often",
    "1m",
  ),
  // Webhook registration
  "webhook-config-name": str(
    "MutatingWebhookConfiguration to publish the CA bundle into (empty: none)",
    "outrigger-injector",
  ),
  "webhook-url": str(
    "Local runs: register the whole webhook configuration pointing at this https URL, and remove it on exit",
  ),
  "webhook-timeout-seconds": str("With --webhook-url: timeoutSeconds of the webhook (1-30)", "5"),
  "webhook-namespace-selector": str("With --webhook-url: only namespaces with these labels (key=value,...)"),
  // HTTP shell
  "max-request-bytes": str(
    "Largest AdmissionReview body accepted (larger: 413)",
    String(DEFAULT_MAX_REQUEST_BYTES),
  ),
  "shutdown-delay": str("On SIGTERM, stay ready-but-draining this long before closing the listener", "0s"),
  "drain-timeout": str("On SIGTERM, wait at most this long for in-flight requests", "25s"),
  // Sidecar defaults (SidecarDefaults); pod annotations override them
  ...sidecarDefaultsFlags,
  "trust-anchors-file": str(
    "With --mtls: Sentry's trust bundle (PEM), re-read every few seconds (the chart mounts the outrigger-trust-bundle ConfigMap here)",
    INJECTOR_TRUST_ANCHORS_FILE,
  ),
};

/** Everything the process needs, validated. */
export interface InjectorConfig {
  kubeconfig?: string;
  namespace: string;
  listen: { host: string; port: number };
  opsAddress: string;
  logLevel: string;
  /** undefined: pretty when stdout is a terminal, else json. */
  logFormat?: LogFormat;
  certificates:
    | { kind: "files"; certFile: string; keyFile: string; caFile?: string }
    | { kind: "managed"; secretName: string; policy: CertificatePolicy };
  resyncMs: number;
  webhook: WebhookTarget | undefined;
  maxRequestBytes: number;
  shutdownDelayMs: number;
  drainTimeoutMs: number;
  settings: SidecarDefaults;
  trustAnchorsFile: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Flags to config; the problems are listed all at once. */
export function injectorConfig(
  values: FlagValues,
  env: NodeJS.ProcessEnv = process.env,
): InjectorConfig | Problems {
  const problems: string[] = [];
  const reader = flagReader(options, values, problems);
  const { get, need, integer } = reader;
  const duration = (k: string, min: number) => reader.duration(k, min, "30s, 90m, 8760h");
  const address = (k: string) => reader.address(k);

  const namespace = need("namespace");
  if (!DNS_LABEL.test(namespace))
    problems.push(`--namespace ${JSON.stringify(namespace)} is not a namespace name`);
  const listen = address("listen-address");
  address("ops-address");
  const logFormat = logFormatFlagValue(get("log-format"), problems);
  const logLevel = get("log-level") ?? env.LOG_LEVEL ?? "info";
  if (!(PROCESS_LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`--log-level ${JSON.stringify(logLevel)}: want debug, info, warn or error`);
  }

  // Certificates
  const certFile = get("tls-cert-file");
  const keyFile = get("tls-key-file");
  const caFile = get("tls-ca-file");
  let certificates: InjectorConfig["certificates"];
  if (certFile || keyFile) {
    if (!certFile || !keyFile) problems.push("--tls-cert-file and --tls-key-file go together");
    certificates = {
      kind: "files",
      certFile: certFile ?? "",
      keyFile: keyFile ?? "",
      ...(caFile ? { caFile } : {}),
    };
  } else {
    if (caFile) problems.push("--tls-ca-file needs --tls-cert-file and --tls-key-file");
    const service = need("service-name");
    if (!DNS_LABEL.test(service))
      problems.push(`--service-name ${JSON.stringify(service)} is not a Service name`);
    const secretName = need("cert-secret-name");
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(secretName)) {
      problems.push(`--cert-secret-name ${JSON.stringify(secretName)} is not a Secret name`);
    }
    const servingValidityMs = duration("cert-validity", 10_000);
    const caValidityMs = duration("ca-validity", 10_000);
    if (caValidityMs < servingValidityMs) problems.push("--ca-validity must be at least --cert-validity");
    const hosts: { dnsNames: string[]; ipAddresses: string[] } = {
      dnsNames: [...serviceDnsNames(service, namespace), ...LOOPBACK_HOSTS.dnsNames],
      ipAddresses: [...LOOPBACK_HOSTS.ipAddresses],
    };
    // A local run reached at another host name or address needs it in the certificate too.
    const urlHost = urlHostOf(get("webhook-url"));
    if (urlHost && isIP(urlHost) && !hosts.ipAddresses.includes(urlHost)) hosts.ipAddresses.push(urlHost);
    if (urlHost && !isIP(urlHost) && !hosts.dnsNames.includes(urlHost)) hosts.dnsNames.push(urlHost);
    certificates = {
      kind: "managed",
      secretName,
      policy: { ...hosts, caCommonName: `${service}.${namespace} CA`, caValidityMs, servingValidityMs },
    };
  }
  const resyncMs = duration("resync-interval", 1000);

  // Webhook registration
  const configName = need("webhook-config-name");
  const url = get("webhook-url");
  let webhook: WebhookTarget | undefined;
  if (url !== undefined) {
    const problem = webhookUrlProblem(url);
    if (problem) problems.push(`--webhook-url ${JSON.stringify(url)}: ${problem}`);
    if (!configName) problems.push("--webhook-url needs a --webhook-config-name");
    const timeoutSeconds = integer("webhook-timeout-seconds", 1, 30) ?? 5;
    const namespaceLabels = parseLabels(get("webhook-namespace-selector") ?? "", problems);
    webhook = {
      kind: "local",
      registration: {
        configName,
        url,
        namespace,
        timeoutSeconds,
        ...(namespaceLabels ? { namespaceLabels } : {}),
      },
    };
  } else {
    if (get("webhook-namespace-selector") !== undefined)
      problems.push("--webhook-namespace-selector needs --webhook-url");
    if (configName) webhook = { kind: "chart", configName };
  }

  const settings = sidecarDefaultsFromFlags(values, problems);

  const maxRequestBytes =
    integer("max-request-bytes", 64 * 1024, 64 * 1024 * 1024) ?? DEFAULT_MAX_REQUEST_BYTES;
  const shutdownDelayMs = duration("shutdown-delay", 0);
  const drainTimeoutMs = duration("drain-timeout", 0);
  if (problems.length > 0) return { problems };
  return {
    ...(get("kubeconfig") ? { kubeconfig: get("kubeconfig") } : {}),
    namespace,
    listen,
    opsAddress: need("ops-address"),
    logLevel,
    ...(logFormat ? { logFormat } : {}),
    certificates,
    resyncMs,
    webhook,
    maxRequestBytes,
    shutdownDelayMs,
    drainTimeoutMs,
    settings,
    trustAnchorsFile: need("trust-anchors-file"),
  };
}

function urlHostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, "$1");
  } catch {
    return undefined;
  }
}

/** The API server's rules for clientConfig.url. */
export function webhookUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "not a URL";
  }
  if (u.protocol !== "https:") return "the scheme must be https";
  if (u.username || u.password) return "user info is not allowed";
  if (u.search || u.hash || url.includes("?") || url.includes("#"))
    return "query and fragment are not allowed";
  return undefined;
}

function parseLabels(text: string, problems: string[]): Record<string, string> | undefined {
  if (text.trim() === "") return undefined;
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    const m = /^\s*([A-Za-z0-9][-A-Za-z0-9_./]*)=([-A-Za-z0-9_.]*)\s*$/.exec(part);
    if (!m) problems.push(`--webhook-namespace-selector: ${JSON.stringify(part)} is not key=value`);
    else out[m[1]!] = m[2]!;
  }
  return out;
}

function recordCertificateMetrics(metrics: InjectorMetrics, certs: ActiveCertificates): void {
  const serving = certificateTimes(certs.serving.certPem);
  if (serving) metrics.certificateNotAfter.set({ certificate: "serving" }, serving.notAfter.getTime() / 1000);
  const issuer = splitPemBundle(certs.caBundlePem ?? "").find((ca) => isSignedBy(certs.serving.certPem, ca));
  const ca = issuer && certificateTimes(issuer);
  if (ca) metrics.certificateNotAfter.set({ certificate: "ca" }, ca.notAfter.getTime() / 1000);
}

/** Runs the injector until SIGTERM/SIGINT. */
export async function runInjector(config: InjectorConfig, log: Logger, registry: Registry): Promise<number> {
  const metrics = createInjectorMetrics(registry);
  const now = () => new Date();
  // Settings are bound once: nothing static is rebuilt per request.
  const settings = Object.freeze({ ...config.settings });
  // With mTLS, each daprd gets the trust bundle as it is when its pod is admitted.
  let trustAnchorsPem: string | undefined;
  // Latched: once a bundle was read the injector stays ready, so a bundle that goes missing later
  // denies only Dapr pods (no-trust-anchors), never every pod the webhook sees.
  let anchorsSeen = !settings.mtls;
  const readAnchors = async () => {
    const pem = await readFile(config.trustAnchorsFile, "utf8").catch(() => undefined);
    if (pem !== trustAnchorsPem)
      log.info({ file: config.trustAnchorsFile, present: hasTrustAnchors(pem) }, "trust anchors changed");
    trustAnchorsPem = pem;
    if (hasTrustAnchors(pem)) anchorsSeen = true;
  };
  let anchorsTimer: NodeJS.Timeout | undefined;
  if (settings.mtls) {
    await readAnchors();
    anchorsTimer = setInterval(() => void readAnchors(), ANCHORS_REREAD_MS);
  }
  const handler = createWebhookHandler({
    admit: (request) => admit(request, settings, trustAnchorsPem),
    log,
    metrics,
    maxRequestBytes: config.maxRequestBytes,
  });

  // The API is needed only to manage the certificate Secret or the webhook configuration.
  let http: KubeHttp | undefined;
  if (config.certificates.kind === "managed" || config.webhook !== undefined) {
    try {
      const endpoint = loadApiEndpoint(config.kubeconfig);
      log.info({ server: endpoint.server, kubeconfig: endpoint.source }, "using the Kubernetes API");
      http = createKubeHttp(endpoint);
    } catch (err) {
      if (!(err instanceof KubeconfigError)) throw err;
      console.error(`outrigger injector: ${err.message}`);
      return 2;
    }
  }
  const kube = (): KubeHttp => {
    if (!http) throw new Error("the Kubernetes API is not configured");
    return http;
  };

  let server: WebhookServer | undefined;
  let draining = false;
  const publisher: WebhookPublisher | undefined = config.webhook
    ? webhookPublisher({
        api: webhookConfigClient(kube()),
        target: config.webhook,
        log,
        onError: () => metrics.certificateErrors.inc({ operation: "webhook-configuration" }),
        resyncMs: config.resyncMs,
        retryMs: 1000,
        now,
      })
    : undefined;
  // The Subscription CRD's conversion webhook (POST /convert): its caBundle follows the same CA.
  const conversion = config.webhook
    ? conversionPublisher({
        api: crdClient(kube()),
        crdName: CONVERSION_CRD,
        log,
        resyncMs: config.resyncMs,
        retryMs: 1000,
        now,
      })
    : undefined;

  const ops = await startOpsServer({
    address: config.opsAddress,
    registry,
    // Ready: serving a certificate, (when it manages one) its CA is in the webhook configuration,
    // and with mTLS it has had Sentry's trust bundle: on a first install the chart's rollout (and
    // `helm install --wait`) finishes only once Dapr pods can be admitted.
    isReady: () => server !== undefined && !draining && (publisher?.isPublished() ?? true) && anchorsSeen,
    log,
  });

  let latest: ActiveCertificates | undefined;
  const onChange = async (certs: ActiveCertificates, changes: RotationChange[]) => {
    for (const c of changes) countRotation(metrics, c);
    recordCertificateMetrics(metrics, certs);
    // Trust first, then serve: the API server must know the CA before it sees the certificate.
    await publisher?.setCaBundle(certs.caBundlePem);
    await conversion?.setCaBundle(certs.caBundlePem);
    if (server && certs.serving.certPem !== latest?.serving.certPem) {
      server.setCertificate(certs.serving);
      log.info({ notAfter: certificateTimes(certs.serving.certPem)?.notAfter }, "serving a new certificate");
    }
    latest = certs;
  };
  const common = { log, onChange, resyncMs: config.resyncMs, retryMs: 1000, now };
  const source: CertificateSource =
    config.certificates.kind === "files"
      ? fileCertificateSource({
          ...common,
          ...config.certificates,
          onError: (op) => metrics.certificateErrors.inc({ operation: op }),
        })
      : managedCertificateSource({
          ...common,
          core: secretClient(kube()),
          namespace: config.namespace,
          secretName: config.certificates.secretName,
          policy: config.certificates.policy,
          onError: (op) => metrics.certificateErrors.inc({ operation: op }),
        });

  return serveUntilShutdown({
    log,
    what: "the webhook server",
    start: () => source.start(),
    serve: async () => {
      if (!latest) return;
      const first = latest;
      server = await startWebhookServer({
        handler,
        host: config.listen.host,
        port: config.listen.port,
        certificate: first.serving,
        log,
      });
      // A renewal that landed while the listener was starting.
      if (latest !== first) server.setCertificate(latest.serving);
      log.info({ settings }, "injector ready");
    },
    stop: async (signal) => {
      log.info({ signal, inFlight: server?.inFlight() ?? 0 }, "shutting down: not ready, draining");
      draining = true;
      if (config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
      // Certificates first: a rotation in progress may still publish; nothing writes after this.
      clearInterval(anchorsTimer);
      await source.stop();
      await publisher?.stop();
      await conversion?.stop();
      await server?.close(config.drainTimeoutMs);
      await publisher?.unregister();
      ops.close();
      log.info("stopped");
    },
  });
}

export const injectorCommand: Command<InjectorConfig> = {
  summary: "Serve the mutating admission webhook that injects the daprd sidecar",
  usage: "outrigger injector [flags]",
  options,
  config: injectorConfig,
  async run(config) {
    const log = processLogger("injector", config.logLevel, config.logFormat);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    return runInjector(config, log, registry);
  },
};
