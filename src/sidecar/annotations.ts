// The one table of `dapr.io/*` pod annotations: key, strict parser, default and meaning.
// It drives parsing, validation, warnings and docs/annotations.md; nothing else spells a key.
// Dapr's own injector ignores values it cannot parse; here a bad value denies the pod, so a
// typo surfaces at `kubectl apply` instead of as a silently different sidecar.

import type { SidecarDefaults } from "./defaults.ts";
import {
  oneOf,
  enumList,
  APP_PROTOCOL_VALUES,
  INIT_ENDPOINT_VALUES,
  LOG_LEVEL_VALUES,
  type Parser,
  absolutePath,
  appId,
  boolean,
  duration,
  envFromSecretList,
  envList,
  host,
  hostPortList,
  httpPath,
  image,
  listenAddresses,
  nonNegativeInt,
  objectName,
  port,
  positiveInt,
  quantity,
  seccompProfile,
  volumeMountList,
} from "./parsers.ts";

export interface AnnotationSpec<T> {
  key: string;
  parser: Parser<T>;
  /** Value used when the annotation is absent; undefined means "not set" (no flag, no field). */
  default?: T;
  /** How the default is shown in the docs when it is not a constant, e.g. an injector setting. */
  defaultDoc?: string | ((settings: SidecarDefaults) => string);
  doc: string;
  /** Set on keys kept for compatibility: the pod is admitted with a warning naming the replacement. */
  deprecated?: string;
}

// ---------------------------------------------------------------------------------------------
// The table. Defaults here are the ones the sidecar gets; `defaultDoc` marks those that come
// from the injector's settings instead.

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
  "dapr.io/sentry-request-jwt-audiences": "outrigger sentry issues no JWT SVIDs, only X.509 ones",
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
  for (const key of Object.keys(podAnnotations)) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const raw = podAnnotations[key]!;
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
