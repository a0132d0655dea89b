// Per-pod resolution: a pod's annotations and name, over the cluster-wide sidecar defaults,
// resolved into the one sidecar that injecting it would add. Pure. The injector injects what
// this returns; the controller asks it what would be injected now to find stale sidecars.

import { SIDECAR_CONFIG_MOUNT_PATH, SIDECAR_CONFIG_VOLUME } from "./config-secret.ts";
import { annotations, parseAnnotations, type AnnotationValues } from "./annotations.ts";
import type { MtlsSettings, SidecarDefaults } from "./defaults.ts";
import {
  appIdProblem,
  quantityValue,
  type AppProtocol,
  type EnvPair,
  type ImagePullPolicy,
  type SecretEnv,
  type SeccompProfile,
} from "./parsers.ts";

export const SIDECAR_CONTAINER_NAME = "daprd";
/** daprd's HTTP API port; not configurable by annotation (as in Dapr). Apps get it as DAPR_HTTP_PORT. */
export const SIDECAR_HTTP_PORT = 3500;
/** daprd's public port: health and metadata endpoints, reachable by the kubelet's probes. */
export const SIDECAR_PUBLIC_PORT = 3501;
/** daprd's profiling port when dapr.io/enable-profiling is on. */
export const SIDECAR_PROFILE_PORT = 7777;
/** Volume shared by daprd and the app for Unix domain sockets, and where daprd sees it. */
export const UDS_VOLUME = "dapr-unix-domain-socket";
export const UDS_DAPRD_PATH = "/var/run/dapr-sockets";
/** Env vars the injector sets on daprd itself; annotations may not redefine them. */
export const RESERVED_SIDECAR_ENV: ReadonlySet<string> = new Set([
  "NAMESPACE",
  "POD_NAME",
  "DAPR_ENV_KEYS",
  "DAPR_API_TOKEN",
  "APP_API_TOKEN",
  "DAPR_TRUST_ANCHORS",
  "DAPR_SENTRY_TOKEN_FILE",
]);

export interface ProbeTiming {
  initialDelaySeconds: number;
  timeoutSeconds: number;
  periodSeconds: number;
  failureThreshold: number;
}

/**
 * Everything that shapes the injected sidecar, with every default resolved. It is plain JSON:
 * its hash is the `settingsHash` of the status annotation.
 */
export interface ResolvedSidecar {
  appId: string;
  image: string;
  imagePullPolicy?: ImagePullPolicy;
  nativeSidecar: boolean;
  appPort?: number;
  appProtocol: AppProtocol;
  appChannelAddress?: string;
  config?: string;
  logLevel: string;
  logAsJson: boolean;
  enableApiLogging?: boolean;
  enableProfiling: boolean;
  enableMetrics: boolean;
  metricsPort: number;
  grpcPort: number;
  internalGrpcPort: number;
  listenAddresses: string;
  resources: {
    requests: { cpu?: string; memory?: string };
    limits: { cpu?: string; memory?: string };
  };
  env: EnvPair[];
  envFromSecret: SecretEnv[];
  volumeMounts: Array<{ volume: string; path: string; readOnly: boolean }>;
  unixDomainSocketPath?: string;
  appMaxConcurrency?: number;
  maxBodySize?: string;
  readBufferSize?: string;
  gracefulShutdownSeconds?: number;
  blockShutdownDuration?: string;
  appHealth?: { path: string; intervalSeconds: number; timeoutMilliseconds: number; threshold: number };
  liveness: ProbeTiming;
  readiness: ProbeTiming;
  apiTokenSecret?: string;
  appTokenSecret?: string;
  placementHostAddress?: string;
  schedulerHostAddress?: string;
  actorsDisseminateTimeout?: string;
  appBindingOptionsTimeout?: string;
  disableInitEndpoints?: string[];
  disableBuiltinK8sSecretStore: boolean;
  seccompProfile: SeccompProfile;
  runAsUser?: number;
  runAsGroup?: number;
  mtls?: MtlsSettings;
}

/**
 * The app-id of a pod that does not set dapr.io/app-id: its name, as in Dapr. Pods of workloads
 * have only generateName at admission, so they have none. The injector and the controller both
 * default through here, so they agree on which app a pod belongs to.
 */
export function defaultAppId(
  podName: string | undefined,
): { kind: "ok"; appId: string } | { kind: "missing" } | { kind: "invalid"; problem: string } {
  if (podName === undefined) return { kind: "missing" };
  const problem = appIdProblem(podName);
  return problem === undefined ? { kind: "ok", appId: podName } : { kind: "invalid", problem };
}

export type ResolveResult =
  | { ok: true; sidecar: ResolvedSidecar; warnings: string[] }
  | { ok: false; reason: ResolveProblem; message: string; appId?: string };

/** Why a pod's annotations resolve to no sidecar; the injector denies such pods with this reason. */
export type ResolveProblem = "invalid-annotation" | "invalid-app-id" | "missing-app-id";

/**
 * Resolves the sidecar settings from a pod's annotations, its name (the app-id default) and the
 * cluster-wide sidecar defaults. Pure, so the controller can ask what would be injected now.
 */
export function resolveSidecar(
  podAnnotationMap: Readonly<Record<string, string>>,
  podName: string | undefined,
  settings: SidecarDefaults,
): ResolveResult {
  const { values: v, errors, warnings } = parseAnnotations(podAnnotationMap);
  const appIdKey = annotations.appId.key;
  if (errors.length > 0)
    return {
      ok: false,
      reason: errors.some((e) => e.key === appIdKey) ? "invalid-app-id" : "invalid-annotation",
      message: errors.map((e) => e.message).join("; "),
    };

  let appId = v.appId;
  if (appId === undefined) {
    const defaulted = defaultAppId(podName);
    if (defaulted.kind === "missing")
      return {
        ok: false,
        reason: "missing-app-id",
        message: `${appIdKey} is required: the pod has no name yet (only generateName) to use as its app-id; set the ${appIdKey} annotation, in the pod template for workloads`,
      };
    if (defaulted.kind === "invalid")
      return {
        ok: false,
        reason: "invalid-app-id",
        message: `the pod name ${JSON.stringify(podName)}, used as the app-id because ${appIdKey} is not set, ${defaulted.problem}; set the ${appIdKey} annotation`,
        appId: podName,
      };
    appId = defaulted.appId;
  }

  const conflict = conflictProblem(v);
  if (conflict !== undefined) return { ok: false, reason: "invalid-annotation", message: conflict, appId };

  const resources = resolvedResources(v, settings);
  if (typeof resources === "string")
    return { ok: false, reason: "invalid-annotation", message: resources, appId };

  const sidecar: ResolvedSidecar = {
    appId,
    image: v.sidecarImage ?? settings.sidecarImage,
    imagePullPolicy: settings.sidecarImagePullPolicy,
    nativeSidecar: v.enableNativeSidecar ?? settings.nativeSidecar,
    appPort: v.appPort,
    appProtocol: withTls(v.appProtocol ?? annotations.appProtocol.default, v.appSsl ?? false),
    appChannelAddress: v.appChannelAddress,
    config: v.config,
    logLevel: v.logLevel ?? settings.logLevel,
    logAsJson: v.logAsJson ?? settings.logAsJson,
    enableApiLogging: v.enableApiLogging,
    enableProfiling: v.enableProfiling ?? annotations.enableProfiling.default,
    enableMetrics: v.enableMetrics ?? annotations.enableMetrics.default,
    metricsPort: v.metricsPort ?? annotations.metricsPort.default,
    grpcPort: v.grpcPort ?? annotations.grpcPort.default,
    internalGrpcPort: v.internalGrpcPort ?? annotations.internalGrpcPort.default,
    listenAddresses: v.sidecarListenAddresses ?? annotations.sidecarListenAddresses.default,
    resources,
    env: v.env ?? [],
    envFromSecret: v.envFromSecret ?? [],
    volumeMounts: [
      ...(v.volumeMounts ?? []).map((m) => ({ ...m, readOnly: true })),
      ...(v.volumeMountsRw ?? []).map((m) => ({ ...m, readOnly: false })),
    ],
    unixDomainSocketPath: v.unixDomainSocketPath,
    appMaxConcurrency: v.appMaxConcurrency,
    maxBodySize: v.maxBodySize ?? mebibytes(v.httpMaxRequestSize, "Mi"),
    readBufferSize: v.readBufferSize ?? mebibytes(v.httpReadBufferSize, "Ki"),
    gracefulShutdownSeconds: v.gracefulShutdownSeconds,
    blockShutdownDuration: v.blockShutdownDuration,
    appHealth:
      (v.enableAppHealthCheck ?? annotations.enableAppHealthCheck.default)
        ? {
            path: v.appHealthCheckPath ?? annotations.appHealthCheckPath.default,
            intervalSeconds: v.appHealthProbeInterval ?? annotations.appHealthProbeInterval.default,
            timeoutMilliseconds: v.appHealthProbeTimeout ?? annotations.appHealthProbeTimeout.default,
            threshold: v.appHealthThreshold ?? annotations.appHealthThreshold.default,
          }
        : undefined,
    liveness: {
      initialDelaySeconds:
        v.sidecarLivenessProbeDelaySeconds ?? annotations.sidecarLivenessProbeDelaySeconds.default,
      timeoutSeconds:
        v.sidecarLivenessProbeTimeoutSeconds ?? annotations.sidecarLivenessProbeTimeoutSeconds.default,
      periodSeconds:
        v.sidecarLivenessProbePeriodSeconds ?? annotations.sidecarLivenessProbePeriodSeconds.default,
      failureThreshold: v.sidecarLivenessProbeThreshold ?? annotations.sidecarLivenessProbeThreshold.default,
    },
    readiness: {
      initialDelaySeconds:
        v.sidecarReadinessProbeDelaySeconds ?? annotations.sidecarReadinessProbeDelaySeconds.default,
      timeoutSeconds:
        v.sidecarReadinessProbeTimeoutSeconds ?? annotations.sidecarReadinessProbeTimeoutSeconds.default,
      periodSeconds:
        v.sidecarReadinessProbePeriodSeconds ?? annotations.sidecarReadinessProbePeriodSeconds.default,
      failureThreshold:
        v.sidecarReadinessProbeThreshold ?? annotations.sidecarReadinessProbeThreshold.default,
    },
    apiTokenSecret: v.apiTokenSecret,
    appTokenSecret: v.appTokenSecret,
    placementHostAddress: v.placementHostAddress || undefined,
    schedulerHostAddress: v.schedulerHostAddress || undefined,
    actorsDisseminateTimeout: v.actorsDisseminateTimeout,
    appBindingOptionsTimeout: v.appBindingOptionsTimeout,
    disableInitEndpoints: v.disableInitEndpoints,
    disableBuiltinK8sSecretStore:
      v.disableBuiltinK8sSecretStore ?? annotations.disableBuiltinK8sSecretStore.default,
    seccompProfile: v.sidecarSeccompProfileType ?? annotations.sidecarSeccompProfileType.default,
    runAsUser: settings.runAsUser,
    runAsGroup: settings.runAsGroup,
    ...(settings.mtls ? { mtls: { ...settings.mtls } } : {}),
  };
  if (v.httpMaxRequestSize !== undefined && v.maxBodySize !== undefined)
    warnings.push(
      `${annotations.httpMaxRequestSize.key} is ignored because ${annotations.maxBodySize.key} is set`,
    );
  if (v.httpReadBufferSize !== undefined && v.readBufferSize !== undefined)
    warnings.push(
      `${annotations.httpReadBufferSize.key} is ignored because ${annotations.readBufferSize.key} is set`,
    );
  return { ok: true, sidecar, warnings };
}

function withTls(protocol: AppProtocol, appSsl: boolean): AppProtocol {
  if (!appSsl) return protocol;
  if (protocol === "http") return "https";
  if (protocol === "grpc") return "grpcs";
  return protocol;
}

function mebibytes(n: number | undefined, unit: "Mi" | "Ki"): string | undefined {
  return n === undefined ? undefined : `${n}${unit}`;
}

/** Ports and paths that would collide inside the pod's network namespace or the sidecar. */
function conflictProblem(v: AnnotationValues): string | undefined {
  const ports: Array<[string, number]> = [
    ["daprd's HTTP port", SIDECAR_HTTP_PORT],
    ["daprd's public health port", SIDECAR_PUBLIC_PORT],
    [annotations.grpcPort.key, v.grpcPort ?? annotations.grpcPort.default],
    [annotations.internalGrpcPort.key, v.internalGrpcPort ?? annotations.internalGrpcPort.default],
  ];
  if (v.enableMetrics ?? annotations.enableMetrics.default)
    ports.push([annotations.metricsPort.key, v.metricsPort ?? annotations.metricsPort.default]);
  if (v.enableProfiling ?? false) ports.push(["daprd's profiling port", SIDECAR_PROFILE_PORT]);
  if (v.appPort !== undefined) ports.push([annotations.appPort.key, v.appPort]);
  for (let i = 0; i < ports.length; i++) {
    for (let j = 0; j < i; j++) {
      const [a, pa] = ports[i] ?? ["", 0];
      const [b, pb] = ports[j] ?? ["", 0];
      if (pa === pb) return `${a}: ${pa} is already taken by ${b}; pick another port`;
    }
  }

  // Kubernetes rejects two mounts at one path; a mount inside the read-only config volume
  // could not even be created. Nesting elsewhere is fine, as is one volume at two paths.
  const ownMounts: Array<[string, string]> = [
    [SIDECAR_CONFIG_MOUNT_PATH, "the sidecar config volume"],
    [UDS_DAPRD_PATH, "the Unix domain socket volume"],
  ];
  const userPaths = new Map<string, string>();
  const lists = [
    [annotations.volumeMounts.key, v.volumeMounts ?? []],
    [annotations.volumeMountsRw.key, v.volumeMountsRw ?? []],
  ] as const;
  for (const [key, list] of lists) {
    for (const m of list) {
      const own = ownMounts.find(([p]) => m.path === p || isUnder(m.path, p));
      if (own) return `${key}: ${m.volume}:${m.path} is inside ${own[1]} at ${own[0]}; mount it elsewhere`;
      const same = userPaths.get(m.path);
      if (same !== undefined) return `${key}: ${m.volume}:${m.path} uses the same path as ${same}`;
      if (m.volume === SIDECAR_CONFIG_VOLUME || m.volume === UDS_VOLUME)
        return `${key}: the volume ${m.volume} is reserved for the injected sidecar`;
      userPaths.set(m.path, `${m.volume}:${m.path}`);
    }
  }

  const names = new Set<string>();
  for (const [spec, list] of [
    [annotations.env, v.env ?? []],
    [annotations.envFromSecret, v.envFromSecret ?? []],
  ] as const) {
    for (const { name } of list) {
      if (RESERVED_SIDECAR_ENV.has(name))
        return `${spec.key}: ${name} is set by the injector and cannot be overridden`;
      if (names.has(name)) return `${spec.key}: ${name} is also set by ${annotations.env.key}`;
      names.add(name);
    }
  }
  return undefined;
}

function isUnder(path: string, dir: string): boolean {
  return path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

type ResourceSide = { cpu?: string; memory?: string };

/**
 * Requests and limits from annotations, else from the injector defaults. An explicit value
 * always wins: a default request above an explicit limit is lowered to it, and a default limit
 * below an explicit request is raised to it. An explicit request above an explicit limit denies.
 */
function resolvedResources(
  v: AnnotationValues,
  settings: SidecarDefaults,
): { requests: ResourceSide; limits: ResourceSide } | string {
  const d = settings.resources;
  const requests: ResourceSide = {};
  const limits: ResourceSide = {};
  const pairs = [
    [
      "cpu",
      annotations.sidecarCpuRequest,
      v.sidecarCpuRequest,
      d.cpuRequest,
      annotations.sidecarCpuLimit,
      v.sidecarCpuLimit,
      d.cpuLimit,
    ],
    [
      "memory",
      annotations.sidecarMemoryRequest,
      v.sidecarMemoryRequest,
      d.memoryRequest,
      annotations.sidecarMemoryLimit,
      v.sidecarMemoryLimit,
      d.memoryLimit,
    ],
  ] as const;
  for (const [resource, reqSpec, reqSet, reqDefault, limSpec, limSet, limDefault] of pairs) {
    let request = reqSet ?? reqDefault;
    let limit = limSet ?? limDefault;
    if (request !== undefined && limit !== undefined && quantityValue(request) > quantityValue(limit)) {
      if (reqSet !== undefined && limSet !== undefined)
        return `${reqSpec.key}: ${JSON.stringify(reqSet)} is more than ${limSpec.key} ${JSON.stringify(limSet)}`;
      if (limSet !== undefined) request = limit;
      else limit = request;
    }
    if (request !== undefined) requests[resource] = request;
    if (limit !== undefined) limits[resource] = limit;
  }
  return { requests, limits };
}
