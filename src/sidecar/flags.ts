// The cluster-wide sidecar defaults as command-line flags. The injector injects with them; the
// controller takes the same flags to tell which running sidecars are stale (the chart passes
// both the same values). Declared once here so the two cannot drift.
import { flagReader, stringFlag, type Flag, type FlagValues } from "../shared/command.ts";
import { DEFAULT_TRUST_DOMAIN, SENTRY_PORT, SENTRY_SERVICE, trustDomainProblem } from "./identity.ts";

import {
  DEFAULT_SENTRY_NAMESPACE,
  builtInSidecarDefaults as defaults,
  type SidecarDefaults,
  type SidecarResources,
} from "./defaults.ts";
import {
  IMAGE_PULL_POLICY_VALUES,
  LOG_LEVEL_VALUES,
  boolean as booleanParser,
  image as imageParser,
  quantity as quantityParser,
  quantityValue,
  type ImagePullPolicy,
  type LogLevel,
} from "./parsers.ts";

const str = stringFlag;

export const sidecarDefaultsFlags: Record<string, Flag> = {
  "sidecar-image": str(
    "daprd image injected unless dapr.io/sidecar-image says otherwise",
    defaults.sidecarImage,
  ),
  "sidecar-image-pull-policy": str(
    "imagePullPolicy of the sidecar: Always, IfNotPresent, Never (default: unset)",
  ),
  "sidecar-log-level": str("Default of dapr.io/log-level", defaults.logLevel),
  "sidecar-log-as-json": str("Default of dapr.io/log-as-json", String(defaults.logAsJson)),
  "native-sidecar": str(
    "Default of dapr.io/enable-native-sidecar (daprd as an init container with restartPolicy Always)",
    String(defaults.nativeSidecar),
  ),
  "sidecar-cpu-request": str(
    "Default of dapr.io/sidecar-cpu-request (empty: none)",
    defaults.resources.cpuRequest,
  ),
  "sidecar-cpu-limit": str("Default of dapr.io/sidecar-cpu-limit (empty: none)", defaults.resources.cpuLimit),
  "sidecar-memory-request": str(
    "Default of dapr.io/sidecar-memory-request (empty: none)",
    defaults.resources.memoryRequest,
  ),
  "sidecar-memory-limit": str(
    "Default of dapr.io/sidecar-memory-limit (empty: none)",
    defaults.resources.memoryLimit,
  ),
  "sidecar-run-as-user": str("Fixed uid of the sidecar (default: the image's non-root user)"),
  "sidecar-run-as-group": str("Fixed gid of the sidecar (default: the image's group)"),
  // Identity (docs/identity.md)
  mtls: str(
    "mTLS between sidecars for the whole cluster: each daprd gets an SVID from outrigger sentry (false: plaintext, and accessControl cannot match callers)",
    String(defaults.mtls !== undefined),
  ),
  "trust-domain": str(
    "SPIFFE trust domain of the sidecars (the same as outrigger sentry's)",
    defaults.mtls?.trustDomain ?? DEFAULT_TRUST_DOMAIN,
  ),
  "sentry-namespace": str(
    "Namespace of outrigger sentry",
    defaults.mtls?.sentryNamespace ?? DEFAULT_SENTRY_NAMESPACE,
  ),
  "sentry-address": str(
    `host:port of outrigger sentry (default: ${SENTRY_SERVICE}.<sentry-namespace>.svc:${SENTRY_PORT})`,
  ),
};

/** The defaults the flags describe; every problem, naming its flag, is pushed onto `problems`. */
export function sidecarDefaultsFromFlags(values: FlagValues, problems: string[]): SidecarDefaults {
  const { get, need, integer } = flagReader(sidecarDefaultsFlags, values, problems);
  const bool = (k: string): boolean => {
    const parsed = booleanParser.parse(need(k));
    if (!parsed.ok) problems.push(`--${k} ${JSON.stringify(need(k))}: want true or false`);
    return parsed.ok ? parsed.value : false;
  };

  const sidecarImage = need("sidecar-image");
  if (!imageParser.parse(sidecarImage).ok)
    problems.push(`--sidecar-image ${JSON.stringify(sidecarImage)} is not an image reference`);
  const pullPolicy = get("sidecar-image-pull-policy");
  if (pullPolicy !== undefined && !IMAGE_PULL_POLICY_VALUES.includes(pullPolicy as ImagePullPolicy)) {
    problems.push(
      `--sidecar-image-pull-policy ${JSON.stringify(pullPolicy)}: want ${IMAGE_PULL_POLICY_VALUES.join(", ")}`,
    );
  }
  const sidecarLogLevel = need("sidecar-log-level");
  if (!LOG_LEVEL_VALUES.includes(sidecarLogLevel as LogLevel)) {
    problems.push(
      `--sidecar-log-level ${JSON.stringify(sidecarLogLevel)}: want ${LOG_LEVEL_VALUES.join(", ")}`,
    );
  }
  const resources: SidecarResources = {};
  for (const [flag, field] of [
    ["sidecar-cpu-request", "cpuRequest"],
    ["sidecar-cpu-limit", "cpuLimit"],
    ["sidecar-memory-request", "memoryRequest"],
    ["sidecar-memory-limit", "memoryLimit"],
  ] as const) {
    const q = need(flag);
    if (q === "") continue;
    if (quantityParser.parse(q).ok) resources[field] = q;
    else problems.push(`--${flag} ${JSON.stringify(q)} is not a resource quantity`);
  }
  // A request above its limit: the API server would reject every pod injected with these.
  for (const [req, lim] of [
    ["sidecar-cpu-request", "sidecar-cpu-limit"],
    ["sidecar-memory-request", "sidecar-memory-limit"],
  ] as const) {
    const r = need(req);
    const l = need(lim);
    if (r !== "" && l !== "" && quantityParser.parse(r).ok && quantityParser.parse(l).ok)
      if (quantityValue(r) > quantityValue(l))
        problems.push(`--${req} ${JSON.stringify(r)} is more than --${lim} ${JSON.stringify(l)}`);
  }
  const runAsUser = integer("sidecar-run-as-user", 1, 2 ** 31 - 1);
  const runAsGroup = integer("sidecar-run-as-group", 0, 2 ** 31 - 1);
  const trustDomain = need("trust-domain");
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem) problems.push(`--trust-domain ${JSON.stringify(trustDomain)}: ${tdProblem}`);
  const sentryNamespace = need("sentry-namespace");
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(sentryNamespace))
    problems.push(`--sentry-namespace ${JSON.stringify(sentryNamespace)} is not a namespace name`);
  const sentryAddress = get("sentry-address") ?? `${SENTRY_SERVICE}.${sentryNamespace}.svc:${SENTRY_PORT}`;
  if (!/^[^\s:]+:\d{1,5}$/.test(sentryAddress))
    problems.push(`--sentry-address ${JSON.stringify(sentryAddress)}: want host:port`);
  const mtls = bool("mtls");
  return {
    sidecarImage,
    ...(pullPolicy ? { sidecarImagePullPolicy: pullPolicy as ImagePullPolicy } : {}),
    logLevel: sidecarLogLevel as LogLevel,
    logAsJson: bool("sidecar-log-as-json"),
    nativeSidecar: bool("native-sidecar"),
    resources,
    ...(runAsUser !== undefined ? { runAsUser } : {}),
    ...(runAsGroup !== undefined ? { runAsGroup } : {}),
    ...(mtls ? { mtls: { sentryAddress, trustDomain, sentryNamespace } } : {}),
  };
}
