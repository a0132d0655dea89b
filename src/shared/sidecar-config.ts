// The contract between the controller, which writes each app's sidecar config, and the
// injector, which mounts it into the daprd sidecar. Both sides import these names; nothing
// else may spell them.

/** Label on every object Outrigger writes. An object without it is never overwritten. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "outrigger";
/** Label naming the app a sidecar config or Service belongs to. */
export const APP_ID_LABEL = "dapr.io/app-id";

/** Secret keys. Components go into one multi-document YAML file, which daprd loads from its resources path. */
export const COMPONENTS_KEY = "components.yaml";
export const CONFIGURATION_KEY = "configuration.yaml";

/** Where the sidecar sees the config: a read-only Secret volume. */
export const SIDECAR_CONFIG_VOLUME = "outrigger-sidecar-config";
export const SIDECAR_CONFIG_MOUNT_PATH = "/var/run/outrigger/sidecar";
export const SIDECAR_RESOURCES_DIR = "resources";
/** `--resources-path` of daprd: a directory holding the components file. */
export const SIDECAR_RESOURCES_PATH = `${SIDECAR_CONFIG_MOUNT_PATH}/${SIDECAR_RESOURCES_DIR}`;
/** `--config` of daprd: the rendered Configuration file. */
export const SIDECAR_CONFIG_FILE = `${SIDECAR_CONFIG_MOUNT_PATH}/${CONFIGURATION_KEY}`;

/** The Secret volume items: Secret key -> path inside the mount. */
export const SIDECAR_CONFIG_ITEMS: ReadonlyArray<{ key: string; path: string }> = [
  { key: COMPONENTS_KEY, path: `${SIDECAR_RESOURCES_DIR}/${COMPONENTS_KEY}` },
  { key: CONFIGURATION_KEY, path: CONFIGURATION_KEY },
];

/** Name of the Secret holding the sidecar config of an app. App-ids are DNS-1123 labels (<= 63), so this fits. */
export function sidecarConfigSecretName(appId: string): string {
  return `${appId}-dapr-sidecar`;
}

/** Name of the headless Service of an app, as Dapr names it. */
export function appServiceName(appId: string): string {
  return `${appId}-dapr`;
}

/**
 * Pod annotation written by the injector: JSON {version, image, settingsHash}. The controller
 * compares it with what would be injected now to find stale sidecars after an upgrade.
 */
export const SIDECAR_STATUS_ANNOTATION = "outrigger.dev/sidecar-status";
export interface SidecarStatus {
  version: string;
  image: string;
  settingsHash: string;
}
