// The sidecar config Secret: the contract between the controller, which writes each app's
// sidecar config, and the injector, which mounts it into the daprd sidecar (names, keys, labels
// and the mount layout). Both sides import these names; nothing else may spell them.

/** Label on every object Outrigger writes. An object without it is never overwritten. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "outrigger";
/** Label naming the app a sidecar config or Service belongs to. */
export const APP_ID_LABEL = "dapr.io/app-id";

/** Secret keys. Components go into one multi-document YAML file, which daprd loads from its resources path. */
export const COMPONENTS_KEY = "components.yaml";
export const CONFIGURATION_KEY = "configuration.yaml";
/**
 * Subscriptions (dapr.io/v2alpha1), Resiliency, HTTPEndpoints, MCPServers and
 * WorkflowAccessPolicies: one multi-document file each, in the resources path.
 */
export const SUBSCRIPTIONS_KEY = "subscriptions.yaml";
export const RESILIENCY_KEY = "resiliency.yaml";
export const HTTP_ENDPOINTS_KEY = "httpendpoints.yaml";
export const MCP_SERVERS_KEY = "mcpservers.yaml";
export const WORKFLOW_ACCESS_POLICIES_KEY = "workflowaccesspolicies.yaml";

/**
 * Where the sidecar sees the config: a read-only Secret volume, and daprd's `--resources-path`.
 *
 * The resources path is the volume's root on purpose. The kubelet updates a Secret volume by
 * writing a new `..<timestamp>` directory and swapping the `..data` symlink; every item is a
 * symlink through `..data`. A watch on an item directory dies with the first swap (daprd then
 * sees later changes only at its 60 s backup reconcile), while the root is the one directory the
 * kubelet never replaces, and every swap happens inside it.
 *
 * The Configuration file is outside the resources path (`config/`, a directory daprd does not
 * read resources from). Inside it, daprd's hot reloader would restart its runtime (SIGHUP) on
 * every update, because standalone daprd does not remember the Configuration it loaded; the
 * kubelet's swap is several file events, and two restarts in quick succession made daprd exit
 * ("address already in use") in one of seven measured runs. So Components, Secrets and their
 * metadata are hot-reloaded without a restart, and a changed Configuration takes effect when
 * daprd next starts (docs/sidecar-config.md).
 */
export const SIDECAR_CONFIG_VOLUME = "outrigger-sidecar-config";
export const SIDECAR_CONFIG_MOUNT_PATH = "/var/run/outrigger/sidecar";
/** `--resources-path` of daprd. */
export const SIDECAR_RESOURCES_PATH = SIDECAR_CONFIG_MOUNT_PATH;
/** `--config` of daprd: the rendered Configuration file. */
export const SIDECAR_CONFIG_DIR = "config";
export const SIDECAR_CONFIG_FILE = `${SIDECAR_CONFIG_MOUNT_PATH}/${SIDECAR_CONFIG_DIR}/${CONFIGURATION_KEY}`;

/** The Secret volume items: Secret key -> path inside the mount. */
export const SIDECAR_CONFIG_ITEMS: ReadonlyArray<{ key: string; path: string }> = [
  { key: COMPONENTS_KEY, path: COMPONENTS_KEY },
  { key: HTTP_ENDPOINTS_KEY, path: HTTP_ENDPOINTS_KEY },
  { key: MCP_SERVERS_KEY, path: MCP_SERVERS_KEY },
  { key: RESILIENCY_KEY, path: RESILIENCY_KEY },
  { key: SUBSCRIPTIONS_KEY, path: SUBSCRIPTIONS_KEY },
  { key: WORKFLOW_ACCESS_POLICIES_KEY, path: WORKFLOW_ACCESS_POLICIES_KEY },
  { key: CONFIGURATION_KEY, path: `${SIDECAR_CONFIG_DIR}/${CONFIGURATION_KEY}` },
];

/** Name of the Secret holding the sidecar config of an app. App-ids are DNS-1123 labels (<= 63), so this fits. */
export function sidecarConfigSecretName(appId: string): string {
  return `${appId}-dapr-sidecar`;
}

/** Name of the headless Service of an app, as Dapr names it. */
export function appServiceName(appId: string): string {
  return `${appId}-dapr`;
}
