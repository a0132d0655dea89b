// The one table of `dapr.io/*` pod annotations: key, strict parser, default and meaning.
// It drives parsing, validation, warnings and docs/annotations.md; nothing else spells a key.
// Dapr's own injector ignores values it cannot parse; here a bad value denies the pod, so a
// typo surfaces at `kubectl apply` instead of as a silently different sidecar.

import { isIPv4, isIPv6 } from "node:net";
import type { InjectorSettings } from "./settings.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface Parser<T> {
  /** Short human description of the accepted syntax, for the docs. */
  syntax: string;
  parse(raw: string): Parsed<T>;
}

export interface AnnotationSpec<T> {
  key: string;
  parser: Parser<T>;
  /** Value used when the annotation is absent; undefined means "not set" (no flag, no field). */
  default?: T;
  /** How the default is shown in the docs when it is not a constant, e.g. an injector setting. */
  defaultDoc?: string | ((settings: InjectorSettings) => string);
  doc: string;
  /** Set on keys kept for compatibility: the pod is admitted with a warning naming the replacement. */
  deprecated?: string;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (problem: string): Parsed<never> => ({ ok: false, problem });

// ---------------------------------------------------------------------------------------------
// Parsers. Each returns the problem as the tail of a message: `<key>: "<raw>" <problem>`.

const TRUE_WORDS = new Set(["true", "t", "yes", "y", "on", "1"]);
const FALSE_WORDS = new Set(["false", "f", "no", "n", "off", "0"]);

/** true/false in any case; Dapr's yes/no/on/off/1/0 synonyms are kept so existing manifests work. */
export const boolean: Parser<boolean> = {
  syntax: "`true` or `false`",
  parse(raw) {
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return ok(true);
    if (FALSE_WORDS.has(word)) return ok(false);
    return bad("is not a boolean (true or false)");
  },
};

const DIGITS = /^[0-9]+$/;
const INT32_MAX = 2147483647;

export const port: Parser<number> = {
  syntax: "port number (1-65535)",
  parse(raw) {
    const s = raw.trim();
    const n = DIGITS.test(s) && s.length <= 5 ? Number(s) : NaN;
    return n >= 1 && n <= 65535 ? ok(n) : bad("is not a port number (1-65535)");
  },
};

function integerAtLeast(min: number, syntax: string, problem: string): Parser<number> {
  return {
    syntax,
    parse(raw) {
      const s = raw.trim();
      const n = DIGITS.test(s) && s.length <= 10 ? Number(s) : NaN;
      return n >= min && n <= INT32_MAX ? ok(n) : bad(problem);
    },
  };
}

export const positiveInt = integerAtLeast(1, "integer ≥ 1", "is not a positive integer");
export const nonNegativeInt = integerAtLeast(0, "integer ≥ 0", "is not a non-negative integer");

// Go's time.ParseDuration syntax, which daprd uses for its duration flags.
const GO_DURATION =
  /^(0|([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*)$/;

export const duration: Parser<string> = {
  syntax: "Go duration (`500ms`, `5s`, `1m30s`)",
  parse(raw) {
    const s = raw.trim();
    return GO_DURATION.test(s) ? ok(s) : bad("is not a duration (e.g. 500ms, 5s, 1m30s)");
  },
};

// Kubernetes resource.Quantity, non-negative (a negative request or body size means nothing here).
const QUANTITY = /^(?<num>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;
const BINARY_SUFFIX: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL_SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The numeric value of a quantity that `quantity` accepted; only used to compare requests with limits. */
export function quantityValue(q: string): number {
  const m = QUANTITY.exec(q);
  if (!m?.groups) return NaN;
  const num = Number(m.groups.num);
  const suffix = m.groups.suffix ?? "";
  if (suffix in BINARY_SUFFIX) return num * (BINARY_SUFFIX[suffix] ?? NaN);
  if (suffix in DECIMAL_SUFFIX) return num * (DECIMAL_SUFFIX[suffix] ?? NaN);
  return num * 10 ** Number(suffix.slice(1));
}

export const quantity: Parser<string> = {
  syntax: "Kubernetes quantity (`100m`, `0.5`, `256Mi`, `1G`)",
  parse(raw) {
    const s = raw.trim();
    return QUANTITY.test(s) ? ok(s) : bad("is not a Kubernetes quantity (e.g. 100m, 256Mi)");
  },
};

function oneOf<const T extends string>(values: readonly T[]): Parser<T> {
  const byLower = new Map(values.map((v) => [v.toLowerCase(), v]));
  return {
    syntax: values.map((v) => `\`${v}\``).join(", "),
    parse(raw) {
      const v = byLower.get(raw.trim().toLowerCase());
      return v === undefined ? bad(`is not one of: ${values.join(", ")}`) : ok(v);
    },
  };
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** The longest app-id whose Service `<app-id>-dapr` is still a DNS-1123 label. */
export const MAX_APP_ID_LENGTH = 63 - "-dapr".length;

/** Why `id` cannot be an app-id, or undefined when it can. */
export function appIdProblem(id: string): string | undefined {
  if (id.length === 0) return "is empty";
  if (id.length > MAX_APP_ID_LENGTH)
    return `is ${id.length} characters long; an app-id has at most ${MAX_APP_ID_LENGTH} so that its Service "<app-id>-dapr" fits the 63-character limit`;
  if (!DNS1123_LABEL.test(id))
    return "is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)";
  return undefined;
}

export const appId: Parser<string> = {
  syntax: `DNS-1123 label, at most ${MAX_APP_ID_LENGTH} characters`,
  parse(raw) {
    const problem = appIdProblem(raw);
    return problem === undefined ? ok(raw) : bad(problem);
  },
};

/** Names of Kubernetes objects such as Secrets and Configurations. */
export const objectName: Parser<string> = {
  syntax: "Kubernetes object name (DNS-1123 subdomain)",
  parse(raw) {
    const s = raw.trim();
    return s.length <= 253 && DNS1123_SUBDOMAIN.test(s)
      ? ok(s)
      : bad("is not a Kubernetes object name (lowercase DNS-1123 subdomain)");
  },
};

const NO_SPACE = /^\S+$/;

export const image: Parser<string> = {
  syntax: "container image reference",
  parse(raw) {
    const s = raw.trim();
    return s.length > 0 && s.length <= 1024 && NO_SPACE.test(s)
      ? ok(s)
      : bad("is not a container image reference");
  },
};

export const absolutePath: Parser<string> = {
  syntax: "absolute path",
  parse(raw) {
    const s = raw.trim();
    return s.startsWith("/") && NO_SPACE.test(s) && !s.includes(",") && !s.includes(":")
      ? ok(s)
      : bad("is not an absolute path (starting with /, without spaces, commas or colons)");
  },
};

export const httpPath: Parser<string> = {
  syntax: "HTTP path starting with `/`",
  parse(raw) {
    const s = raw.trim();
    return s.startsWith("/") && NO_SPACE.test(s) ? ok(s) : bad("is not an HTTP path starting with /");
  },
};

function splitList(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const HOSTNAME = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;

function isHost(host: string): boolean {
  if (host.startsWith("[") && host.endsWith("]")) return isIPv6(host.slice(1, -1));
  return isIPv4(host) || (host.length <= 253 && HOSTNAME.test(host));
}

export const host: Parser<string> = {
  syntax: "IP address or DNS name",
  parse(raw) {
    const s = raw.trim();
    return isHost(s) || isIPv6(s) ? ok(s) : bad("is not an IP address or DNS name");
  },
};

export const listenAddresses: Parser<string> = {
  syntax: "comma-separated IP addresses (`127.0.0.1`, `[::1]`, `0.0.0.0`, `[::]`)",
  parse(raw) {
    const items = splitList(raw);
    const isAddress = (a: string) =>
      isIPv4(a) || a === "localhost" || (a.startsWith("[") && a.endsWith("]") && isIPv6(a.slice(1, -1)));
    if (items.length === 0 || !items.every(isAddress))
      return bad("is not a comma-separated list of IP addresses (e.g. [::1],127.0.0.1)");
    return ok(items.join(","));
  },
};

/** `host:port` list; empty is allowed and means "none" (Dapr's way to turn placement off). */
export const hostPortList: Parser<string> = {
  syntax: "comma-separated `host:port` list, or empty for none",
  parse(raw) {
    const items = splitList(raw.trim().replace(/^["']|["']$/g, ""));
    for (const item of items) {
      const colon = item.lastIndexOf(":");
      if (colon <= 0 || !isHost(item.slice(0, colon)) || !port.parse(item.slice(colon + 1)).ok)
        return bad("is not a comma-separated list of host:port addresses");
    }
    return ok(items.join(","));
  },
};

function enumList<const T extends string>(values: readonly T[]): Parser<T[]> {
  const one = oneOf(values);
  return {
    syntax: `comma-separated list of ${one.syntax}`,
    parse(raw) {
      const out: T[] = [];
      for (const item of splitList(raw)) {
        const p = one.parse(item);
        if (!p.ok) return bad(`is not a comma-separated list of: ${values.join(", ")}`);
        if (!out.includes(p.value)) out.push(p.value);
      }
      return out.length > 0 ? ok(out) : bad(`is not a comma-separated list of: ${values.join(", ")}`);
    },
  };
}

// --- env lists ------------------------------------------------------------------------------

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Dapr splits `A=1,B=x,y` at a comma only when a `NAME=` follows, so values may hold commas.
const ENV_ITEM_START = /,\s*(?=[A-Za-z_][A-Za-z0-9_]*=)/;

export interface EnvPair {
  name: string;
  value: string;
}

function parsePairs(raw: string, what: string): Parsed<EnvPair[]> {
  const pairs: EnvPair[] = [];
  for (const part of raw.split(ENV_ITEM_START)) {
    const item = part.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    const name = eq < 0 ? item : item.slice(0, eq).trim();
    if (eq < 0 || !ENV_NAME.test(name)) return bad(`is not a list of ${what}: "${item}" is not NAME=value`);
    if (pairs.some((p) => p.name === name)) return bad(`sets ${name} twice`);
    pairs.push({ name, value: item.slice(eq + 1) });
  }
  return pairs.length > 0 ? ok(pairs) : bad(`is not a list of ${what}`);
}

export const envList: Parser<EnvPair[]> = {
  syntax: "`NAME=value` pairs separated by commas (a value may contain commas)",
  parse: (raw) => parsePairs(raw, "NAME=value pairs"),
};

export interface SecretEnv {
  name: string;
  secret: string;
  key: string;
}

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export const envFromSecretList: Parser<SecretEnv[]> = {
  syntax: "`NAME=secret` or `NAME=secret:key` pairs separated by commas (key defaults to the secret name)",
  parse(raw) {
    const pairs = parsePairs(raw, "NAME=secret[:key] pairs");
    if (!pairs.ok) return pairs;
    const out: SecretEnv[] = [];
    for (const { name, value } of pairs.value) {
      const [secretRaw = "", keyRaw, extra] = value.split(":");
      const secret = secretRaw.trim();
      const key = keyRaw === undefined ? secret : keyRaw.trim();
      if (extra !== undefined || !objectName.parse(secret).ok || !SECRET_KEY.test(key))
        return bad(
          `is not a list of NAME=secret[:key] pairs: "${name}=${value}" names no valid secret and key`,
        );
      out.push({ name, secret, key });
    }
    return ok(out);
  },
};

// --- volume mounts --------------------------------------------------------------------------

export interface VolumeMountRef {
  volume: string;
  path: string;
}

export const volumeMountList: Parser<VolumeMountRef[]> = {
  syntax: "`volume:/path` pairs separated by commas",
  parse(raw) {
    const out: VolumeMountRef[] = [];
    for (const item of splitList(raw)) {
      const [volume = "", path = "", extra] = item.split(":").map((s) => s.trim());
      if (extra !== undefined || !isDns1123Label(volume) || !absolutePath.parse(path).ok)
        return bad(`is not a list of volume:/path pairs: "${item}" is not volume:/absolute/path`);
      out.push({ volume, path });
    }
    return out.length > 0 ? ok(out) : bad("is not a list of volume:/path pairs");
  },
};

// --- seccomp --------------------------------------------------------------------------------

export type SeccompProfile =
  { type: "RuntimeDefault" } | { type: "Unconfined" } | { type: "Localhost"; localhostProfile: string };

export const seccompProfile: Parser<SeccompProfile> = {
  syntax: "`RuntimeDefault`, `Unconfined` or `Localhost/<profile path>`",
  parse(raw) {
    const s = raw.trim();
    if (s.toLowerCase() === "runtimedefault") return ok({ type: "RuntimeDefault" });
    if (s.toLowerCase() === "unconfined") return ok({ type: "Unconfined" });
    const m = /^localhost\/(\S+)$/i.exec(s);
    if (m?.[1]) return ok({ type: "Localhost", localhostProfile: m[1] });
    if (s.toLowerCase() === "localhost")
      return bad("names no profile: write Localhost/<path relative to the kubelet's seccomp directory>");
    return bad("is not one of: RuntimeDefault, Unconfined, Localhost/<profile path>");
  },
};

// ---------------------------------------------------------------------------------------------
// The table. Defaults here are the ones the sidecar gets; `defaultDoc` marks those that come
// from the injector's settings instead.

export const LOG_LEVEL_VALUES = ["debug", "info", "warn", "error", "fatal"] as const;
export const APP_PROTOCOL_VALUES = ["http", "grpc", "https", "grpcs", "h2c"] as const;
export const INIT_ENDPOINT_VALUES = ["config", "subscribe"] as const;

// The overload keeps "has a default" in the type, so resolved settings need no `!`.
function annotation<T>(
  spec: Omit<AnnotationSpec<T>, "default"> & { default: NoInfer<T> },
): AnnotationSpec<T> & { default: T };
function annotation<T>(spec: Omit<AnnotationSpec<T>, "default">): AnnotationSpec<T>;
function annotation<T>(spec: AnnotationSpec<T>): AnnotationSpec<T> {
  return spec;
}

const settingDoc = (value: string | undefined) =>
  value === undefined ? "injector setting (none)" : `injector setting (\`${value}\`)`;
const probeDoc = (probe: string, what: string) => `${what} of the sidecar's ${probe} probe.`;

export const annotations = {
  enabled: annotation({
    key: "dapr.io/enabled",
    parser: boolean,
    default: false,
    doc: "Inject the daprd sidecar into this pod.",
  }),
  appId: annotation({
    key: "dapr.io/app-id",
    parser: appId,
    defaultDoc: "the pod's name (required when the pod has only `generateName`, as pods of Deployments do)",
    doc: "The app's identity: service invocation address, state key prefix, pub/sub consumer and the name of its sidecar config.",
  }),
  appPort: annotation({
    key: "dapr.io/app-port",
    parser: port,
    doc: "Port the app listens on. Unset: daprd does not call the app.",
  }),
  appProtocol: annotation({
    key: "dapr.io/app-protocol",
    parser: oneOf(APP_PROTOCOL_VALUES),
    default: "http",
    doc: "Protocol daprd uses to call the app. Also given to app containers as `APP_PROTOCOL`.",
  }),
  appSsl: annotation({
    key: "dapr.io/app-ssl",
    parser: boolean,
    default: false,
    deprecated: "use dapr.io/app-protocol: https or grpcs",
    doc: "Call the app over TLS: turns `http` into `https` and `grpc` into `grpcs`.",
  }),
  appChannelAddress: annotation({
    key: "dapr.io/app-channel-address",
    parser: host,
    doc: "Address daprd uses to reach the app. Unset: localhost.",
  }),
  config: annotation({
    key: "dapr.io/config",
    parser: objectName,
    doc: "Name of the Configuration (in the pod's namespace) the controller compiles into the app's sidecar config.",
  }),
  logLevel: annotation({
    key: "dapr.io/log-level",
    parser: oneOf(LOG_LEVEL_VALUES),
    defaultDoc: (s) => `injector setting (\`${s.logLevel}\`)`,
    doc: "daprd log level.",
  }),
  logAsJson: annotation({
    key: "dapr.io/log-as-json",
    parser: boolean,
    defaultDoc: (s) => `injector setting (\`${s.logAsJson}\`)`,
    doc: "Write daprd logs as JSON.",
  }),
  enableApiLogging: annotation({
    key: "dapr.io/enable-api-logging",
    parser: boolean,
    doc: "Log every API call daprd serves. Unset: the Configuration decides.",
  }),
  enableProfiling: annotation({
    key: "dapr.io/enable-profiling",
    parser: boolean,
    default: false,
    doc: "Serve pprof profiles on port 7777 of the sidecar's listen addresses.",
  }),
  enableMetrics: annotation({
    key: "dapr.io/enable-metrics",
    parser: boolean,
    default: true,
    doc: "Serve Prometheus metrics on the metrics port.",
  }),
  metricsPort: annotation({
    key: "dapr.io/metrics-port",
    parser: port,
    default: 9090,
    doc: "Port of daprd's metrics endpoint (`dapr-metrics`).",
  }),
  grpcPort: annotation({
    key: "dapr.io/grpc-port",
    parser: port,
    default: 50001,
    doc: "Port of the Dapr gRPC API (`dapr-grpc`); given to app containers as `DAPR_GRPC_PORT`.",
  }),
  internalGrpcPort: annotation({
    key: "dapr.io/internal-grpc-port",
    parser: port,
    default: 50002,
    doc: "Port daprd sidecars use to call each other (`dapr-internal`). All apps must agree on it.",
  }),
  sidecarListenAddresses: annotation({
    key: "dapr.io/sidecar-listen-addresses",
    parser: listenAddresses,
    default: "[::1],127.0.0.1",
    doc: "Addresses the Dapr HTTP and gRPC APIs listen on. The default keeps them inside the pod.",
  }),
  sidecarImage: annotation({
    key: "dapr.io/sidecar-image",
    parser: image,
    defaultDoc: (s) => `injector setting (\`${s.sidecarImage}\`)`,
    doc: "daprd image for this pod.",
  }),
  sidecarCpuRequest: annotation({
    key: "dapr.io/sidecar-cpu-request",
    parser: quantity,
    defaultDoc: (s) => settingDoc(s.resources.cpuRequest),
    doc: "CPU request of the sidecar.",
  }),
  sidecarCpuLimit: annotation({
    key: "dapr.io/sidecar-cpu-limit",
    parser: quantity,
    defaultDoc: (s) => settingDoc(s.resources.cpuLimit),
    doc: "CPU limit of the sidecar.",
  }),
  sidecarMemoryRequest: annotation({
    key: "dapr.io/sidecar-memory-request",
    parser: quantity,
    defaultDoc: (s) => settingDoc(s.resources.memoryRequest),
    doc: "Memory request of the sidecar.",
  }),
  sidecarMemoryLimit: annotation({
    key: "dapr.io/sidecar-memory-limit",
    parser: quantity,
    defaultDoc: (s) => settingDoc(s.resources.memoryLimit),
    doc: "Memory limit of the sidecar.",
  }),
  env: annotation({
    key: "dapr.io/env",
    parser: envList,
    doc: "Extra environment variables of the sidecar. Their names are listed in `DAPR_ENV_KEYS`, which allows the env secret store to read them.",
  }),
  envFromSecret: annotation({
    key: "dapr.io/env-from-secret",
    parser: envFromSecretList,
    doc: "Sidecar environment variables read from Secrets in the pod's namespace (`secretKeyRef`).",
  }),
  volumeMounts: annotation({
    key: "dapr.io/volume-mounts",
    parser: volumeMountList,
    doc: "Pod volumes mounted read-only into the sidecar. A volume the pod does not have denies the pod.",
  }),
  volumeMountsRw: annotation({
    key: "dapr.io/volume-mounts-rw",
    parser: volumeMountList,
    doc: "Pod volumes mounted read-write into the sidecar. A volume the pod does not have denies the pod.",
  }),
  unixDomainSocketPath: annotation({
    key: "dapr.io/unix-domain-socket-path",
    parser: absolutePath,
    doc: "Directory, in the app containers, where daprd's Unix domain sockets appear (an in-memory `emptyDir` shared with the sidecar).",
  }),
  appMaxConcurrency: annotation({
    key: "dapr.io/app-max-concurrency",
    parser: positiveInt,
    doc: "Most requests and events daprd hands to the app at once. Unset: no limit.",
  }),
  maxBodySize: annotation({
    key: "dapr.io/max-body-size",
    parser: quantity,
    doc: "Largest request body the Dapr HTTP and gRPC servers accept. Unset: daprd's default (4Mi).",
  }),
  httpMaxRequestSize: annotation({
    key: "dapr.io/http-max-request-size",
    parser: positiveInt,
    deprecated: "use dapr.io/max-body-size (a quantity such as 16Mi)",
    doc: "Largest request body, in MiB. Ignored when `dapr.io/max-body-size` is set.",
  }),
  readBufferSize: annotation({
    key: "dapr.io/read-buffer-size",
    parser: quantity,
    doc: "Size of the HTTP read buffer, which bounds the request headers. Unset: daprd's default (4Ki).",
  }),
  httpReadBufferSize: annotation({
    key: "dapr.io/http-read-buffer-size",
    parser: positiveInt,
    deprecated: "use dapr.io/read-buffer-size (a quantity such as 16Ki)",
    doc: "HTTP read buffer size, in KiB. Ignored when `dapr.io/read-buffer-size` is set.",
  }),
  gracefulShutdownSeconds: annotation({
    key: "dapr.io/graceful-shutdown-seconds",
    parser: nonNegativeInt,
    doc: "Seconds daprd waits for in-flight work on shutdown. Keep it below the pod's `terminationGracePeriodSeconds`. Unset: daprd's default (5).",
  }),
  blockShutdownDuration: annotation({
    key: "dapr.io/block-shutdown-duration",
    parser: duration,
    doc: "After SIGTERM, keep the Dapr APIs serving for this long, or until the app turns unhealthy.",
  }),
  enableAppHealthCheck: annotation({
    key: "dapr.io/enable-app-health-check",
    parser: boolean,
    default: false,
    doc: "Let daprd probe the app and stop delivering work while it is unhealthy.",
  }),
  appHealthCheckPath: annotation({
    key: "dapr.io/app-health-check-path",
    parser: httpPath,
    default: "/healthz",
    doc: "Path of the app's health endpoint (HTTP apps). Used when app health checks are on.",
  }),
  appHealthProbeInterval: annotation({
    key: "dapr.io/app-health-probe-interval",
    parser: positiveInt,
    default: 5,
    doc: "Seconds between app health probes. Used when app health checks are on.",
  }),
  appHealthProbeTimeout: annotation({
    key: "dapr.io/app-health-probe-timeout",
    parser: positiveInt,
    default: 500,
    doc: "Timeout of an app health probe, in milliseconds. Used when app health checks are on.",
  }),
  appHealthThreshold: annotation({
    key: "dapr.io/app-health-threshold",
    parser: positiveInt,
    default: 3,
    doc: "Consecutive failed probes after which the app counts as unhealthy. Used when app health checks are on.",
  }),
  sidecarLivenessProbeDelaySeconds: annotation({
    key: "dapr.io/sidecar-liveness-probe-delay-seconds",
    parser: nonNegativeInt,
    default: 180,
    doc: probeDoc("liveness", "`initialDelaySeconds`"),
  }),
  sidecarLivenessProbeTimeoutSeconds: annotation({
    key: "dapr.io/sidecar-liveness-probe-timeout-seconds",
    parser: positiveInt,
    default: 3,
    doc: probeDoc("liveness", "`timeoutSeconds`"),
  }),
  sidecarLivenessProbePeriodSeconds: annotation({
    key: "dapr.io/sidecar-liveness-probe-period-seconds",
    parser: positiveInt,
    default: 10,
    doc: probeDoc("liveness", "`periodSeconds`"),
  }),
  sidecarLivenessProbeThreshold: annotation({
    key: "dapr.io/sidecar-liveness-probe-threshold",
    parser: positiveInt,
    default: 5,
    doc: probeDoc("liveness", "`failureThreshold`"),
  }),
  sidecarReadinessProbeDelaySeconds: annotation({
    key: "dapr.io/sidecar-readiness-probe-delay-seconds",
    parser: nonNegativeInt,
    default: 1,
    doc: probeDoc("readiness", "`initialDelaySeconds`"),
  }),
  sidecarReadinessProbeTimeoutSeconds: annotation({
    key: "dapr.io/sidecar-readiness-probe-timeout-seconds",
    parser: positiveInt,
    default: 1,
    doc: probeDoc("readiness", "`timeoutSeconds`") + " Also used by the startup probe.",
  }),
  sidecarReadinessProbePeriodSeconds: annotation({
    key: "dapr.io/sidecar-readiness-probe-period-seconds",
    parser: positiveInt,
    default: 1,
    doc: probeDoc("readiness", "`periodSeconds`") + " Also used by the startup probe.",
  }),
  sidecarReadinessProbeThreshold: annotation({
    key: "dapr.io/sidecar-readiness-probe-threshold",
    parser: positiveInt,
    default: 5,
    doc: probeDoc("readiness", "`failureThreshold`"),
  }),
  apiTokenSecret: annotation({
    key: "dapr.io/api-token-secret",
    parser: objectName,
    doc: "Secret whose `token` key the Dapr APIs require from callers (`DAPR_API_TOKEN`).",
  }),
  appTokenSecret: annotation({
    key: "dapr.io/app-token-secret",
    parser: objectName,
    doc: "Secret whose `token` key daprd sends to the app (`APP_API_TOKEN`).",
  }),
  placementHostAddress: annotation({
    key: "dapr.io/placement-host-address",
    parser: hostPortList,
    doc: "Actor placement servers. Unset or empty: no placement, so no actors.",
  }),
  schedulerHostAddress: annotation({
    key: "dapr.io/scheduler-host-address",
    parser: hostPortList,
    doc: "Scheduler servers for jobs, actor reminders and workflows. Unset or empty: none.",
  }),
  actorsDisseminateTimeout: annotation({
    key: "dapr.io/actors-disseminate-timeout",
    parser: duration,
    doc: "How long daprd waits for a placement dissemination round. Unset: daprd's default.",
  }),
  appBindingOptionsTimeout: annotation({
    key: "dapr.io/app-binding-options-timeout",
    parser: duration,
    doc: "Timeout of daprd's start-up call asking the app which input bindings it serves. Unset: daprd's default.",
  }),
  disableInitEndpoints: annotation({
    key: "dapr.io/disable-init-endpoints",
    parser: enumList(INIT_ENDPOINT_VALUES),
    doc: "Start-up calls to the app that daprd skips.",
  }),
  disableBuiltinK8sSecretStore: annotation({
    key: "dapr.io/disable-builtin-k8s-secret-store",
    parser: boolean,
    default: false,
    doc: "Leave out daprd's built-in `kubernetes` secret store.",
  }),
  sidecarSeccompProfileType: annotation({
    key: "dapr.io/sidecar-seccomp-profile-type",
    parser: seccompProfile,
    default: { type: "RuntimeDefault" },
    doc: "Seccomp profile of the sidecar. Anything but RuntimeDefault or Localhost fails the `restricted` Pod Security Standard.",
  }),
  enableNativeSidecar: annotation({
    key: "dapr.io/enable-native-sidecar",
    parser: boolean,
    defaultDoc: (s) => `injector setting (\`${s.nativeSidecar}\`)`,
    doc: "Run daprd as a native sidecar: an init container with `restartPolicy: Always` and a startup probe, so app containers start once daprd is up and Jobs complete. `false`: a regular container.",
  }),
} as const;

export type AnnotationTable = typeof annotations;
export type AnnotationName = keyof AnnotationTable;
export type AnnotationValues = {
  [K in AnnotationName]?: AnnotationTable[K] extends AnnotationSpec<infer T> ? T : never;
};

/**
 * Dapr annotations that exist upstream but do nothing under Outrigger. They are admitted with a
 * warning saying why, so nobody believes they took effect.
 */
export const ignoredAnnotations: Readonly<Record<string, string>> = {
  "dapr.io/enable-debug": "debugging needs Dapr's debug image and dlv; set dapr.io/sidecar-image instead",
  "dapr.io/debug-port": "debugging needs Dapr's debug image and dlv; set dapr.io/sidecar-image instead",
  "dapr.io/pluggable-components": "pluggable components are not injected by Outrigger",
  "dapr.io/pluggable-components-sockets-folder": "pluggable components are not injected by Outrigger",
  "dapr.io/component-container": "pluggable components are not injected by Outrigger",
  "dapr.io/inject-pluggable-components": "pluggable components are not injected by Outrigger",
  "dapr.io/sentry-request-jwt-audiences": "Outrigger runs no Sentry; sidecars run in standalone mode",
  "dapr.io/sidecar-svc-annotations": "the injector does not manage the <app-id>-dapr Service",
};

export const ANNOTATION_PREFIX = "dapr.io/";

export const annotationEntries: ReadonlyArray<[AnnotationName, AnnotationSpec<unknown>]> = Object.entries(
  annotations,
) as Array<[AnnotationName, AnnotationSpec<unknown>]>;

const nameByKey: ReadonlyMap<string, AnnotationName> = new Map(annotationEntries.map(([n, s]) => [s.key, n]));

export interface ParsedAnnotations {
  values: AnnotationValues;
  /** One per invalid annotation, message `<key>: "<raw>" <problem>`. Non-empty means deny. */
  errors: Array<{ key: string; message: string }>;
  /** Deprecated, ignored and unknown `dapr.io/*` keys. */
  warnings: string[];
}

/** Parses every `dapr.io/*` annotation of a pod against the table; other keys are not looked at. */
export function parseAnnotations(podAnnotations: Readonly<Record<string, string>>): ParsedAnnotations {
  const values: Record<string, unknown> = {};
  const errors: ParsedAnnotations["errors"] = [];
  const warnings: string[] = [];
  for (const [key, raw] of Object.entries(podAnnotations)) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const name = nameByKey.get(key);
    if (name === undefined) {
      const why = ignoredAnnotations[key];
      if (why !== undefined) warnings.push(`${key} has no effect: ${why}`);
      else warnings.push(unknownKeyWarning(key));
      continue;
    }
    const spec = annotations[name] as AnnotationSpec<unknown>;
    const parsed = spec.parser.parse(raw);
    if (!parsed.ok) {
      errors.push({ key, message: `${key}: ${JSON.stringify(truncate(raw, 100))} ${parsed.problem}` });
      continue;
    }
    values[name] = parsed.value;
    if (spec.deprecated !== undefined) warnings.push(`${key} is deprecated: ${spec.deprecated}`);
  }
  return { values: values as AnnotationValues, errors, warnings };
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

const knownKeys: readonly string[] = [...nameByKey.keys(), ...Object.keys(ignoredAnnotations)];

function unknownKeyWarning(key: string): string {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of knownKeys) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  const hint = best === undefined ? "" : `; did you mean ${best}?`;
  return `${truncate(key, 100)} is not a Dapr annotation Outrigger knows, so it has no effect${hint}`;
}

/** Levenshtein distance, for "did you mean" hints on misspelt keys. */
export function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? Infinity;
}
