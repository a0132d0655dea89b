// The injection decision: a pure function from (pod, injector settings) to inject, skip or deny.
// Precedence, top to bottom (the first row that matches wins):
//
//   | pod                                                    | decision                     |
//   |--------------------------------------------------------|------------------------------|
//   | dapr.io/enabled absent or false                        | skip    not-enabled          |
//   | dapr.io/enabled not a boolean                          | deny    invalid-annotation   |
//   | a `daprd` container in containers or initContainers    | skip    already-injected     |
//   | spec not shaped like a Pod                             | deny    invalid-object       |
//   | any dapr.io/* value invalid                            | deny    invalid-annotation   |
//   | no app-id and no name (generateName only)              | deny    missing-app-id       |
//   | app-id (given or defaulted) not a short DNS-1123 label | deny    invalid-app-id       |
//   | volume-mounts name a volume the pod lacks              | deny    missing-volume       |
//   | values that contradict each other or the pod           | deny    invalid-annotation   |
//   | otherwise                                              | inject                       |
//
// The app-id defaults to the pod's name, as in Dapr. Pods of Deployments, Jobs and the like
// have only generateName at admission time, so they must set dapr.io/app-id.

import { SIDECAR_CONFIG_MOUNT_PATH, SIDECAR_CONFIG_VOLUME } from "../shared/sidecar-config.ts";
import {
  annotations,
  appIdProblem,
  parseAnnotations,
  quantityValue,
  type AnnotationValues,
  type EnvPair,
  type SecretEnv,
  type SeccompProfile,
} from "./annotations.ts";
import type { ImagePullPolicy, InjectorSettings } from "./settings.ts";
import { hashOfSidecarSettings } from "./settings-hash.ts";

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
]);

export type AppProtocol = "http" | "grpc" | "https" | "grpcs" | "h2c";

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
export interface SidecarSettings {
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
}

export type SkipReason = "not-enabled" | "already-injected";
export type DenyReason =
  "invalid-object" | "invalid-annotation" | "invalid-app-id" | "missing-app-id" | "missing-volume";

export type Decision =
  | { kind: "inject"; sidecar: SidecarSettings; settingsHash: string; warnings: string[] }
  | { kind: "skip"; reason: SkipReason }
  | { kind: "deny"; reason: DenyReason; message: string; appId?: string };

/** A JSON object as it came off the wire: nothing is trusted until checked. */
export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The string-valued entries of metadata.annotations; anything else is not an annotation. */
export function podAnnotations(pod: unknown): Record<string, string> {
  const metadata = isObject(pod) ? pod.metadata : undefined;
  const raw = isObject(metadata) ? metadata.annotations : undefined;
  const out: Record<string, string> = {};
  if (isObject(raw)) for (const [k, v] of Object.entries(raw)) if (typeof v === "string") out[k] = v;
  return out;
}

function containerNames(list: unknown): string[] {
  return Array.isArray(list)
    ? list
        .filter(isObject)
        .map((c) => c.name)
        .filter((n) => typeof n === "string")
    : [];
}

/** True when a daprd container is already there, injected by us, by Dapr, or written by hand. */
export function hasSidecar(pod: unknown): boolean {
  const spec = isObject(pod) ? pod.spec : undefined;
  if (!isObject(spec)) return false;
  return [...containerNames(spec.containers), ...containerNames(spec.initContainers)].includes(
    SIDECAR_CONTAINER_NAME,
  );
}

/**
 * What is wrong with the parts of the object the injector reads and writes, or undefined.
 * Checked before rendering so that rendering can trust the shape and never throw.
 */
export function podShapeProblem(pod: unknown): string | undefined {
  if (!isObject(pod)) return "request.object is not a Pod object";
  const { metadata, spec } = pod;
  if (metadata !== undefined && !isObject(metadata)) return "metadata is not an object";
  if (isObject(metadata)) {
    for (const field of ["labels", "annotations"] as const) {
      const m = metadata[field];
      if (m !== undefined && m !== null && !isObject(m)) return `metadata.${field} is not an object`;
    }
    for (const field of ["name", "generateName", "namespace"] as const) {
      const v = metadata[field];
      if (v !== undefined && v !== null && typeof v !== "string") return `metadata.${field} is not a string`;
    }
  }
  if (!isObject(spec)) return "spec is not an object";
  if (!Array.isArray(spec.containers)) return "spec.containers is not a list";
  for (const field of ["containers", "initContainers"] as const) {
    const list = spec[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) return `spec.${field} is not a list`;
    for (const [i, c] of list.entries()) {
      if (!isObject(c) || typeof c.name !== "string")
        return `spec.${field}[${i}] is not a container with a name`;
      for (const sub of ["env", "volumeMounts", "ports"] as const) {
        const v = c[sub];
        if (v !== undefined && v !== null && (!Array.isArray(v) || !v.every(isObject)))
          return `spec.${field}[${i}].${sub} is not a list of objects`;
      }
    }
  }
  const volumes = spec.volumes;
  if (volumes !== undefined && volumes !== null) {
    if (!Array.isArray(volumes) || !volumes.every((v) => isObject(v) && typeof v.name === "string"))
      return "spec.volumes is not a list of named volumes";
  }
  return undefined;
}

function stringField(obj: unknown, field: string): string | undefined {
  const v = isObject(obj) ? obj[field] : undefined;
  return typeof v === "string" && v !== "" ? v : undefined;
}

export type ResolveResult =
  | { ok: true; sidecar: SidecarSettings; warnings: string[] }
  | { ok: false; reason: DenyReason; message: string; appId?: string };

/**
 * Resolves the sidecar settings from a pod's annotations, its name (the app-id default) and the
 * injector settings. Pure, so the controller can ask what would be injected now.
 */
export function resolveSidecarSettings(
  podAnnotationMap: Readonly<Record<string, string>>,
  podName: string | undefined,
  settings: InjectorSettings,
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
    if (podName === undefined)
      return {
        ok: false,
        reason: "missing-app-id",
        message: `${appIdKey} is required: the pod has no name yet (only generateName) to use as its app-id; set the ${appIdKey} annotation, in the pod template for workloads`,
      };
    const problem = appIdProblem(podName);
    if (problem !== undefined)
      return {
        ok: false,
        reason: "invalid-app-id",
        message: `the pod name ${JSON.stringify(podName)}, used as the app-id because ${appIdKey} is not set, ${problem}; set the ${appIdKey} annotation`,
        appId: podName,
      };
    appId = podName;
  }

  const conflict = conflictProblem(v);
  if (conflict !== undefined) return { ok: false, reason: "invalid-annotation", message: conflict, appId };

  const resources = resolvedResources(v, settings);
  if (typeof resources === "string")
    return { ok: false, reason: "invalid-annotation", message: resources, appId };

  const sidecar: SidecarSettings = {
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
  settings: InjectorSettings,
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

/**
 * The whole decision for a Pod CREATE. `pod` is request.object, untrusted. Never throws.
 */
export function decide(pod: unknown, settings: InjectorSettings): Decision {
  const podAnnotationMap = podAnnotations(pod);
  const enabledKey = annotations.enabled.key;
  const enabledRaw = podAnnotationMap[enabledKey];
  if (enabledRaw === undefined) return { kind: "skip", reason: "not-enabled" };
  const enabled = annotations.enabled.parser.parse(enabledRaw);
  if (!enabled.ok)
    return {
      kind: "deny",
      reason: "invalid-annotation",
      message: `${enabledKey}: ${JSON.stringify(enabledRaw)} ${enabled.problem}`,
    };
  if (!enabled.value) return { kind: "skip", reason: "not-enabled" };
  if (hasSidecar(pod)) return { kind: "skip", reason: "already-injected" };

  const shape = podShapeProblem(pod);
  if (shape !== undefined || !isObject(pod))
    return {
      kind: "deny",
      reason: "invalid-object",
      message: `not a valid Pod: ${shape ?? "not an object"}`,
    };

  const resolved = resolveSidecarSettings(podAnnotationMap, stringField(pod.metadata, "name"), settings);
  if (!resolved.ok)
    return { kind: "deny", reason: resolved.reason, message: resolved.message, appId: resolved.appId };
  const { sidecar, warnings } = resolved;

  const spec = pod.spec as JsonObject;
  const podVolumes = new Set(
    Array.isArray(spec.volumes) ? spec.volumes.map((v) => (v as JsonObject).name as string) : [],
  );
  for (const m of sidecar.volumeMounts) {
    if (!podVolumes.has(m.volume)) {
      const key = m.readOnly ? annotations.volumeMounts.key : annotations.volumeMountsRw.key;
      return {
        kind: "deny",
        reason: "missing-volume",
        message: `${key}: the pod has no volume named ${JSON.stringify(m.volume)}; add it to spec.volumes or remove it from ${key}`,
        appId: sidecar.appId,
      };
    }
  }
  for (const reserved of [SIDECAR_CONFIG_VOLUME, ...(sidecar.unixDomainSocketPath ? [UDS_VOLUME] : [])]) {
    if (podVolumes.has(reserved))
      return {
        kind: "deny",
        reason: "invalid-object",
        message: `spec.volumes: the volume name ${reserved} is reserved for the injected sidecar; rename the pod's volume`,
        appId: sidecar.appId,
      };
  }

  return { kind: "inject", sidecar, settingsHash: hashOfSidecarSettings(sidecar), warnings };
}

export type SettingsHashResult =
  { ok: true; settingsHash: string; image: string } | { ok: false; message: string };

/**
 * The image and settings hash that injecting a pod with these annotations would record now.
 * The controller compares them with a pod's status annotation to find stale sidecars.
 */
export function currentSidecarStatus(
  podAnnotationMap: Readonly<Record<string, string>>,
  podName: string | undefined,
  settings: InjectorSettings,
): SettingsHashResult {
  const resolved = resolveSidecarSettings(podAnnotationMap, podName, settings);
  if (!resolved.ok) return { ok: false, message: resolved.message };
  return { ok: true, settingsHash: hashOfSidecarSettings(resolved.sidecar), image: resolved.sidecar.image };
}
