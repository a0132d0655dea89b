// Injector-wide settings: what the sidecar looks like when a pod's annotations say nothing.
// The shell (`outrigger injector`) turns its CLI flags into one of these once at start-up;
// the pure core only reads it.

export type LogLevel = "debug" | "info" | "warn" | "error" | "fatal";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "fatal"];

export type ImagePullPolicy = "Always" | "IfNotPresent" | "Never";
export const IMAGE_PULL_POLICIES: readonly ImagePullPolicy[] = ["Always", "IfNotPresent", "Never"];

/** Kubernetes resource quantities as strings ("100m", "250Mi"); an absent field sets nothing. */
export interface SidecarResources {
  cpuRequest?: string;
  cpuLimit?: string;
  memoryRequest?: string;
  memoryLimit?: string;
}

export interface InjectorSettings {
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
}

/** A current daprd release; bump together with the compatibility notes in the docs. */
export const DEFAULT_SIDECAR_IMAGE = "ghcr.io/dapr/daprd:1.18.3";

export const defaultInjectorSettings: InjectorSettings = Object.freeze({
  sidecarImage: DEFAULT_SIDECAR_IMAGE,
  logLevel: "info",
  logAsJson: false,
  nativeSidecar: true,
  // Requests so the scheduler accounts for the sidecar; no CPU limit (throttling hurts latency),
  // a memory limit so a leaking sidecar cannot take the node down.
  resources: Object.freeze({ cpuRequest: "100m", memoryRequest: "250Mi", memoryLimit: "1Gi" }),
});
