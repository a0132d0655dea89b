// Rendering: the daprd container for resolved sidecar settings, and the pod with it injected.
// Pure; the pod is never changed in place (the result shares its unchanged parts). Names, ports, probes and env follow Dapr's
// injector so tools and apps that know Dapr find what they expect; the differences are the
// standalone mode with a mounted sidecar config, native sidecars, a startup probe, the
// restricted securityContext and `--enable-metrics=false` actually turning metrics off.

import type {
  V1Container,
  V1EnvVar,
  V1Probe,
  V1SecurityContext,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import {
  APP_ID_LABEL,
  SIDECAR_CONFIG_FILE,
  SIDECAR_CONFIG_ITEMS,
  SIDECAR_CONFIG_MOUNT_PATH,
  SIDECAR_CONFIG_VOLUME,
  SIDECAR_RESOURCES_PATH,
  sidecarConfigSecretName,
} from "../sidecar/config-secret.ts";
import { SIDECAR_INJECTED_LABEL, SIDECAR_STATUS_ANNOTATION, type SidecarStatus } from "../sidecar/status.ts";
import { TRUST_ANCHORS_ANNOTATION, anchorFingerprints } from "../sidecar/trust-anchors.ts";
import {
  SIDECAR_CONTAINER_NAME,
  SIDECAR_HTTP_PORT,
  SIDECAR_PUBLIC_PORT,
  UDS_DAPRD_PATH,
  UDS_VOLUME,
  type ResolvedSidecar,
} from "../sidecar/resolve.ts";
import {
  SENTRY_TOKEN_EXPIRY_SECONDS,
  SENTRY_TOKEN_FILE,
  SENTRY_TOKEN_MOUNT_PATH,
  SENTRY_TOKEN_VOLUME,
  sentrySpiffeId,
} from "../sidecar/identity.ts";
import { deepFreeze, frozenWithJson } from "../shared/frozen-json.ts";
import { type JsonObject } from "./decide.ts";

// The controller finds pods the webhook never saw by this label (it lives beside the status annotation).
// The bundle changes when Sentry rotates, not per pod: fingerprint it once per content, not per admission.
let lastBundle: { pem: string; fingerprints: string[] } | undefined;
function fingerprintsOfBundle(pem: string): string[] {
  if (lastBundle?.pem !== pem) lastBundle = { pem, fingerprints: anchorFingerprints(pem) };
  return lastBundle.fingerprints;
}

export { SIDECAR_INJECTED_LABEL };
export const METRICS_ENABLED_LABEL = "dapr.io/metrics-enabled";
export const PORT_NAMES = {
  http: "dapr-http",
  grpc: "dapr-grpc",
  internal: "dapr-internal",
  metrics: "dapr-metrics",
} as const;
/** How long the startup probe lets daprd load its components before the kubelet restarts it. */
export const STARTUP_BUDGET_SECONDS = 180;

const HEALTHZ_PATH = "/v1.0/healthz";
const OUTBOUND_HEALTHZ_PATH = "/v1.0/healthz/outbound";

// Static pieces, built once at module load and shared (frozen) by every rendered pod.
const FIELD_REF_ENV: readonly V1EnvVar[] = deepFreeze([
  { name: "NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
]);
const CONFIG_MOUNT: V1VolumeMount = deepFreeze({
  name: SIDECAR_CONFIG_VOLUME,
  mountPath: SIDECAR_CONFIG_MOUNT_PATH,
  readOnly: true,
});
const UDS_DAPRD_MOUNT: V1VolumeMount = deepFreeze({ name: UDS_VOLUME, mountPath: UDS_DAPRD_PATH });
const UDS_VOLUME_SPEC: V1Volume = deepFreeze({ name: UDS_VOLUME, emptyDir: { medium: "Memory" } });
const CONFIG_ITEMS = deepFreeze(SIDECAR_CONFIG_ITEMS.map((i) => ({ key: i.key, path: i.path })));

/** daprd's command line. `/daprd` is the first arg, not the command, as in Dapr, so images with an ENTRYPOINT still work. */
export function sidecarArgs(s: ResolvedSidecar): string[] {
  const args = ["/daprd", "--mode", "standalone", "--app-id", s.appId, "--app-protocol", s.appProtocol];
  if (s.appPort !== undefined) args.push("--app-port", String(s.appPort));
  if (s.appChannelAddress !== undefined) args.push("--app-channel-address", s.appChannelAddress);
  args.push(
    "--resources-path",
    SIDECAR_RESOURCES_PATH,
    "--config",
    SIDECAR_CONFIG_FILE,
    "--dapr-http-port",
    String(SIDECAR_HTTP_PORT),
    "--dapr-grpc-port",
    String(s.grpcPort),
    "--dapr-internal-grpc-port",
    String(s.internalGrpcPort),
    "--dapr-public-port",
    String(SIDECAR_PUBLIC_PORT),
    "--dapr-listen-addresses",
    s.listenAddresses,
    "--log-level",
    s.logLevel,
  );
  if (s.logAsJson) args.push("--log-as-json");
  // daprd serves metrics unless told otherwise, so "off" must be said explicitly.
  if (s.enableMetrics) args.push("--enable-metrics=true", "--metrics-port", String(s.metricsPort));
  else args.push("--enable-metrics=false");
  // Only when set: without the flag daprd takes the value from the Configuration.
  if (s.enableApiLogging !== undefined) args.push(`--enable-api-logging=${s.enableApiLogging}`);
  if (s.enableProfiling) args.push("--enable-profiling");
  if (s.appMaxConcurrency !== undefined) args.push("--app-max-concurrency", String(s.appMaxConcurrency));
  if (s.maxBodySize !== undefined) args.push("--max-body-size", s.maxBodySize);
  if (s.readBufferSize !== undefined) args.push("--read-buffer-size", s.readBufferSize);
  if (s.gracefulShutdownSeconds !== undefined)
    args.push("--dapr-graceful-shutdown-seconds", String(s.gracefulShutdownSeconds));
  if (s.blockShutdownDuration !== undefined)
    args.push("--dapr-block-shutdown-duration", s.blockShutdownDuration);
  if (s.appHealth !== undefined)
    args.push(
      "--enable-app-health-check",
      "--app-health-check-path",
      s.appHealth.path,
      "--app-health-probe-interval",
      String(s.appHealth.intervalSeconds),
      "--app-health-probe-timeout",
      String(s.appHealth.timeoutMilliseconds),
      "--app-health-threshold",
      String(s.appHealth.threshold),
    );
  if (s.unixDomainSocketPath !== undefined) args.push("--unix-domain-socket", UDS_DAPRD_PATH);
  if (s.placementHostAddress !== undefined) args.push("--placement-host-address", s.placementHostAddress);
  if (s.schedulerHostAddress !== undefined) args.push("--scheduler-host-address", s.schedulerHostAddress);
  if (s.actorsDisseminateTimeout !== undefined)
    args.push("--actors-disseminate-timeout", s.actorsDisseminateTimeout);
  if (s.appBindingOptionsTimeout !== undefined)
    args.push("--app-binding-options-timeout", s.appBindingOptionsTimeout);
  if (s.disableInitEndpoints !== undefined)
    args.push("--disable-init-endpoints", s.disableInitEndpoints.join(","));
  if (s.disableBuiltinK8sSecretStore) args.push("--disable-builtin-k8s-secret-store");
  if (s.mtls)
    args.push(
      "--enable-mtls",
      "--sentry-address",
      s.mtls.sentryAddress,
      "--control-plane-namespace",
      s.mtls.sentryNamespace,
      "--control-plane-trust-domain",
      s.mtls.trustDomain,
    );
  return args;
}

function sidecarEnv(s: ResolvedSidecar, trustAnchorsPem: string | undefined): V1EnvVar[] {
  const env: V1EnvVar[] = [...FIELD_REF_ENV];
  for (const { name, value } of s.env) env.push({ name, value });
  for (const { name, secret, key } of s.envFromSecret)
    env.push({ name, valueFrom: { secretKeyRef: { name: secret, key } } });
  const keys = [...s.env, ...s.envFromSecret].map((e) => e.name);
  // daprd's env secret store may read only the variables listed here.
  if (keys.length > 0) env.push({ name: "DAPR_ENV_KEYS", value: keys.join(" ") });
  if (s.apiTokenSecret !== undefined)
    env.push({
      name: "DAPR_API_TOKEN",
      valueFrom: { secretKeyRef: { name: s.apiTokenSecret, key: "token" } },
    });
  if (s.appTokenSecret !== undefined)
    env.push({
      name: "APP_API_TOKEN",
      valueFrom: { secretKeyRef: { name: s.appTokenSecret, key: "token" } },
    });
  // daprd 1.18 reads its trust anchors from this variable only (no file flag), so they are
  // frozen at injection: a root published later reaches the pod when it is recreated.
  if (s.mtls) {
    env.push({ name: "DAPR_TRUST_ANCHORS", value: trustAnchorsPem ?? "" });
    // With this set, standalone daprd sends the file's token and names the JWKS validator.
    env.push({ name: "DAPR_SENTRY_TOKEN_FILE", value: SENTRY_TOKEN_FILE });
  }
  return env;
}

function securityContext(s: ResolvedSidecar): V1SecurityContext {
  const ctx: V1SecurityContext = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    seccompProfile: { ...s.seccompProfile },
  };
  if (s.runAsUser !== undefined) ctx.runAsUser = s.runAsUser;
  if (s.runAsGroup !== undefined) ctx.runAsGroup = s.runAsGroup;
  return ctx;
}

function resources(s: ResolvedSidecar): V1Container["resources"] | undefined {
  const out: { requests?: Record<string, string>; limits?: Record<string, string> } = {};
  if (Object.keys(s.resources.requests).length > 0) out.requests = { ...s.resources.requests };
  if (Object.keys(s.resources.limits).length > 0) out.limits = { ...s.resources.limits };
  return out.requests || out.limits ? out : undefined;
}

/** The daprd container for these settings (the trust anchors only matter with mTLS). */
export function sidecarContainer(s: ResolvedSidecar, trustAnchorsPem?: string): V1Container {
  const ports: Array<{ name: string; containerPort: number }> = [
    { name: PORT_NAMES.http, containerPort: SIDECAR_HTTP_PORT },
    { name: PORT_NAMES.grpc, containerPort: s.grpcPort },
    { name: PORT_NAMES.internal, containerPort: s.internalGrpcPort },
  ];
  if (s.enableMetrics) ports.push({ name: PORT_NAMES.metrics, containerPort: s.metricsPort });

  const mounts: V1VolumeMount[] = [CONFIG_MOUNT];
  for (const m of s.volumeMounts) mounts.push({ name: m.volume, mountPath: m.path, readOnly: m.readOnly });
  if (s.unixDomainSocketPath !== undefined) mounts.push(UDS_DAPRD_MOUNT);
  if (s.mtls) mounts.push({ name: SENTRY_TOKEN_VOLUME, mountPath: SENTRY_TOKEN_MOUNT_PATH, readOnly: true });

  const readinessProbe: V1Probe = {
    httpGet: { path: HEALTHZ_PATH, port: SIDECAR_PUBLIC_PORT },
    ...s.readiness,
  };
  const livenessProbe: V1Probe = { tcpSocket: { port: SIDECAR_PUBLIC_PORT }, ...s.liveness };

  const container: V1Container = {
    name: SIDECAR_CONTAINER_NAME,
    image: s.image,
    args: sidecarArgs(s),
    env: sidecarEnv(s, trustAnchorsPem),
    ports,
    volumeMounts: mounts,
    readinessProbe,
    livenessProbe,
    securityContext: securityContext(s),
  };
  if (s.imagePullPolicy !== undefined) container.imagePullPolicy = s.imagePullPolicy;
  const res = resources(s);
  if (res !== undefined) container.resources = res;
  if (s.nativeSidecar) {
    container.restartPolicy = "Always";
    // The kubelet starts the app containers only after this passes: the app never runs
    // before its sidecar can serve outbound calls.
    container.startupProbe = {
      httpGet: { path: OUTBOUND_HEALTHZ_PATH, port: SIDECAR_PUBLIC_PORT },
      periodSeconds: s.readiness.periodSeconds,
      timeoutSeconds: s.readiness.timeoutSeconds,
      failureThreshold: Math.ceil(STARTUP_BUDGET_SECONDS / s.readiness.periodSeconds),
    };
  }
  return container;
}

/** The sidecar config Secret volume the controller fills for this app. */
export function sidecarConfigVolume(appId: string): V1Volume {
  return {
    name: SIDECAR_CONFIG_VOLUME,
    secret: { secretName: sidecarConfigSecretName(appId), items: CONFIG_ITEMS.map((i) => ({ ...i })) },
  };
}

/** The projected token daprd shows Sentry: audience Sentry's SPIFFE id (as in Dapr), bound to the pod. */
export function sentryTokenVolume(m: NonNullable<ResolvedSidecar["mtls"]>): V1Volume {
  return {
    name: SENTRY_TOKEN_VOLUME,
    projected: {
      sources: [
        {
          serviceAccountToken: {
            audience: sentrySpiffeId(m.trustDomain, m.sentryNamespace),
            expirationSeconds: SENTRY_TOKEN_EXPIRY_SECONDS,
            path: "token",
          },
        },
      ],
    },
  };
}

/** What injecting adds that depends on the settings and the trust bundle alone. */
interface SidecarAdditions {
  container: V1Container;
  /** The pod volumes the sidecar needs, in the order they are appended. */
  volumes: V1Volume[];
}

function sidecarAdditions(s: ResolvedSidecar, trustAnchorsPem: string | undefined): SidecarAdditions {
  const volumes = [sidecarConfigVolume(s.appId)];
  if (s.unixDomainSocketPath !== undefined) volumes.push(structuredClone(UDS_VOLUME_SPEC));
  if (s.mtls) volumes.push(sentryTokenVolume(s.mtls));
  return { container: sidecarContainer(s, trustAnchorsPem), volumes };
}

// decide hands out one frozen sidecar per distinct annotations (its memo), so pods of one
// template get the same container and volumes: from the second pod on, they are rendered once
// per sidecar and bundle, frozen, with their JSON text recorded for the patch's encoding (about
// half of its bytes). The first pod of a sidecar gets them rendered as usual: freezing and
// keeping them cost about 10 us, which a sidecar seen only once would pay for nothing. A sidecar
// that is not frozen may still change, so it is rendered anew each time.
const additionsBySidecar = new WeakMap<
  ResolvedSidecar,
  { trustAnchorsPem: string | undefined; shared?: SidecarAdditions }
>();

/** `sidecarAdditions`, shared (frozen) between pods with the same frozen sidecar and bundle. */
function sharedSidecarAdditions(s: ResolvedSidecar, trustAnchorsPem: string | undefined): SidecarAdditions {
  if (!Object.isFrozen(s)) return sidecarAdditions(s, trustAnchorsPem);
  const seen = additionsBySidecar.get(s);
  if (seen === undefined || seen.trustAnchorsPem !== trustAnchorsPem) {
    additionsBySidecar.set(s, { trustAnchorsPem });
    return sidecarAdditions(s, trustAnchorsPem);
  }
  if (seen.shared === undefined) {
    const fresh = sidecarAdditions(s, trustAnchorsPem);
    seen.shared = {
      container: frozenWithJson(fresh.container),
      volumes: fresh.volumes.map((v) => frozenWithJson(v)),
    };
  }
  return seen.shared;
}

/** A shallow copy of `v` when it is an object, else a new empty one. */
function objectCopy(v: unknown): JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? { ...(v as JsonObject) } : {};
}

/** A shallow copy of `v` when it is a list, else a new empty one. */
function listCopy<T>(v: unknown): T[] {
  return Array.isArray(v) ? [...(v as T[])] : [];
}

/**
 * A copy of `pod` with the sidecar injected. The pod must have passed `podShapeProblem` and
 * `decide` (no daprd yet, volumes present, reserved names free).
 *
 * Copy-on-write: only the objects on the path to a change are copied; every other subtree is
 * shared with `pod`, so neither may be changed afterwards. The added container and volumes are
 * frozen and shared between calls when `s` is frozen (decide's sidecars are). Sharing is also what keeps the patch
 * cheap: `jsonPatchBetween` skips a shared subtree without walking it.
 */
export function injectedPod(
  pod: JsonObject,
  s: ResolvedSidecar,
  status: SidecarStatus,
  trustAnchorsPem?: string,
): JsonObject {
  const metadata = objectCopy(pod.metadata);
  const spec = objectCopy(pod.spec);

  const additions = sharedSidecarAdditions(s, trustAnchorsPem);
  spec.volumes = [...listCopy<unknown>(spec.volumes), ...additions.volumes];

  const appEnv: V1EnvVar[] = [
    { name: "DAPR_HTTP_PORT", value: String(SIDECAR_HTTP_PORT) },
    { name: "DAPR_GRPC_PORT", value: String(s.grpcPort) },
    { name: "APP_PROTOCOL", value: s.appProtocol },
  ];
  const containers = listCopy<JsonObject>(spec.containers).map((original) => {
    const c = { ...original };
    const env = listCopy<JsonObject>(c.env);
    // The app's own values win, as in Dapr.
    for (const e of appEnv) if (!env.some((x) => x.name === e.name)) env.push({ ...e });
    c.env = env;
    if (s.unixDomainSocketPath !== undefined) {
      const mounts = listCopy<JsonObject>(c.volumeMounts);
      const taken = mounts.some((m) => m.name === UDS_VOLUME || m.mountPath === s.unixDomainSocketPath);
      if (!taken) mounts.push({ name: UDS_VOLUME, mountPath: s.unixDomainSocketPath });
      c.volumeMounts = mounts;
    }
    return c;
  });
  spec.containers = containers;

  const daprd = additions.container;
  if (s.nativeSidecar) spec.initContainers = [...listCopy<unknown>(spec.initContainers), daprd];
  else containers.push(daprd as unknown as JsonObject);

  const labels = objectCopy(metadata.labels);
  labels[SIDECAR_INJECTED_LABEL] = "true";
  labels[APP_ID_LABEL] = s.appId;
  labels[METRICS_ENABLED_LABEL] = String(s.enableMetrics);
  metadata.labels = labels;
  const annotations = objectCopy(metadata.annotations);
  annotations[SIDECAR_STATUS_ANNOTATION] = JSON.stringify(status);
  // What this daprd will trust for its life: the controller reports the pod once Sentry's bundle
  // holds a root it lacks (a rotation it will not survive).
  const anchors = s.mtls ? fingerprintsOfBundle(trustAnchorsPem ?? "") : [];
  if (anchors.length > 0) annotations[TRUST_ANCHORS_ANNOTATION] = anchors.join(",");
  metadata.annotations = annotations;
  return { ...pod, metadata, spec };
}
