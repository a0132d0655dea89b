// The cluster-wide sidecar defaults: what the sidecar looks like when a pod's annotations say
// nothing. Both processes read them from the same flags (flags.ts) once at start-up: the
// injector injects with them, the controller compares running sidecars against them.

import {
  IMAGE_PULL_POLICY_VALUES,
  LOG_LEVEL_VALUES,
  image,
  quantity,
  quantityValue,
  type ImagePullPolicy,
  type LogLevel,
  type Parser,
} from "./parsers.ts";
import { DEFAULT_TRUST_DOMAIN, SENTRY_PORT, SENTRY_SERVICE } from "./identity.ts";

/** Kubernetes resource quantities as strings ("100m", "250Mi"); an absent field sets nothing. */
export interface SidecarResources {
  cpuRequest?: string;
  cpuLimit?: string;
  memoryRequest?: string;
  memoryLimit?: string;
}

export interface SidecarDefaults {
  /** daprd image used unless `dapr.io/sidecar-image` names another. */
  sidecarImage: string;
  /** Unset lets Kubernetes pick its default (Always for `:latest`, IfNotPresent otherwise). */
  sidecarImagePullPolicy?: ImagePullPolicy;
  /** Defaults for `dapr.io/log-level` and `dapr.io/log-as-json`. */
  logLevel: LogLevel;
  logAsJson: boolean;
  /** Default for `dapr.io/enable-native-sidecar`. */
  nativeSidecar: boolean;
  /** Defaults for the `dapr.io/sidecar-{cpu,memory}-{request,limit}` annotations. */
  resources: SidecarResources;
  /** Optional fixed uid/gid for the sidecar; unset keeps the image's non-root user. */
  runAsUser?: number;
  runAsGroup?: number;
  /** mTLS through `outrigger sentry` (on by default); unset: sidecars run without identities. */
  mtls?: MtlsSettings;
}

/** Where daprd gets its SVID and which trust domain it is in; the same for every sidecar. */
export interface MtlsSettings {
  /** host:port of `outrigger sentry`. */
  sentryAddress: string;
  trustDomain: string;
  /** Sentry's namespace: daprd checks Sentry's SVID is `spiffe://<td>/ns/<this>/dapr-sentry`. */
  sentryNamespace: string;
}

/** A current daprd release; bump together with the compatibility notes in the docs. */
export const DEFAULT_SIDECAR_IMAGE = "ghcr.io/dapr/daprd:1.18.3";

/** Where Outrigger (and so `outrigger sentry`) runs unless told otherwise. */
export const DEFAULT_SENTRY_NAMESPACE = "outrigger-system";

export const builtInSidecarDefaults: SidecarDefaults = Object.freeze({
  sidecarImage: DEFAULT_SIDECAR_IMAGE,
  logLevel: "info",
  logAsJson: false,
  nativeSidecar: true,
  // Requests so the scheduler accounts for the sidecar; no CPU limit (throttling hurts latency),
  // a memory limit so a leaking sidecar cannot take the node down.
  resources: Object.freeze({ cpuRequest: "100m", memoryRequest: "250Mi", memoryLimit: "1Gi" }),
  // mTLS on, as in Dapr: Sentry in Outrigger's namespace, behind its Service.
  mtls: Object.freeze({
    sentryAddress: `${SENTRY_SERVICE}.${DEFAULT_SENTRY_NAMESPACE}.svc:${SENTRY_PORT}`,
    trustDomain: DEFAULT_TRUST_DOMAIN,
    sentryNamespace: DEFAULT_SENTRY_NAMESPACE,
  }),
});

/**
 * What is wrong with defaults built in code (the built-in ones, tests), one message per problem
 * (empty when valid). Defaults built from flags are checked by the same rules in flags.ts, whose
 * messages name the flag; both processes refuse to start on any, rather than inject (or compare
 * against) sidecars the API server would reject.
 */
export function sidecarDefaultsProblems(settings: SidecarDefaults): string[] {
  const problems: string[] = [];
  const check = (what: string, raw: string | undefined, parser: Parser<unknown>) => {
    if (raw === undefined) return;
    const p = parser.parse(raw);
    if (!p.ok) problems.push(`${what}: ${JSON.stringify(raw)} ${p.problem}`);
  };
  check("sidecar image", settings.sidecarImage, image);
  if (!LOG_LEVEL_VALUES.includes(settings.logLevel))
    problems.push(
      `log level: ${JSON.stringify(settings.logLevel)} is not one of: ${LOG_LEVEL_VALUES.join(", ")}`,
    );
  if (
    settings.sidecarImagePullPolicy !== undefined &&
    !IMAGE_PULL_POLICY_VALUES.includes(settings.sidecarImagePullPolicy)
  )
    problems.push(
      `image pull policy: ${JSON.stringify(settings.sidecarImagePullPolicy)} is not one of: ${IMAGE_PULL_POLICY_VALUES.join(", ")}`,
    );
  const r = settings.resources;
  check("sidecar CPU request", r.cpuRequest, quantity);
  check("sidecar CPU limit", r.cpuLimit, quantity);
  check("sidecar memory request", r.memoryRequest, quantity);
  check("sidecar memory limit", r.memoryLimit, quantity);
  for (const [what, req, lim] of [
    ["CPU", r.cpuRequest, r.cpuLimit],
    ["memory", r.memoryRequest, r.memoryLimit],
  ] as const) {
    if (req !== undefined && lim !== undefined && quantityValue(req) > quantityValue(lim))
      problems.push(`sidecar ${what} request ${req} is more than its limit ${lim}`);
  }
  // User 0 would be root, which runAsNonRoot forbids: the pod would never start. Group 0 is
  // allowed (runAsNonRoot looks at the user only), as --sidecar-run-as-group allows it.
  for (const [what, id, min] of [
    ["run-as user", settings.runAsUser, 1],
    ["run-as group", settings.runAsGroup, 0],
  ] as const) {
    if (id !== undefined && (!Number.isInteger(id) || id < min || id > 2147483647))
      problems.push(
        `sidecar ${what}: ${id} is not ${min === 1 ? "a non-root id" : "an id"} (${min}-2147483647)`,
      );
  }
  return problems;
}
