// Naming API resources by (group, version, plural, namespaced), and the ones the controller uses.

export interface ResourceType {
  /** "" for the core group. */
  group: string;
  version: string;
  /** Lower-case plural, as in the URL. */
  plural: string;
  namespaced: boolean;
}

/** The URL path of a collection (no name) or of one object. Omit namespace for all namespaces. */
export function resourcePath(rt: ResourceType, namespace?: string, name?: string): string {
  const root = rt.group === "" ? `/api/${rt.version}` : `/apis/${rt.group}/${rt.version}`;
  const ns = rt.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const obj = name === undefined ? "" : `/${encodeURIComponent(name)}`;
  return `${root}${ns}/${rt.plural}${obj}`;
}

/** "plural.group" (or "plural" for core), the name used in metric labels and logs. */
export function resourceName(rt: ResourceType): string {
  return rt.group === "" ? rt.plural : `${rt.plural}.${rt.group}`;
}

const core = (plural: string, namespaced = true): ResourceType => ({
  group: "",
  version: "v1",
  plural,
  namespaced,
});
const apps = (plural: string): ResourceType => ({ group: "apps", version: "v1", plural, namespaced: true });

export const resources = {
  components: { group: "dapr.io", version: "v1alpha1", plural: "components", namespaced: true },
  configurations: { group: "dapr.io", version: "v1alpha1", plural: "configurations", namespaced: true },
  // The storage version: no conversion is needed to list it.
  subscriptions: { group: "dapr.io", version: "v2alpha1", plural: "subscriptions", namespaced: true },
  resiliencies: { group: "dapr.io", version: "v1alpha1", plural: "resiliencies", namespaced: true },
  httpEndpoints: { group: "dapr.io", version: "v1alpha1", plural: "httpendpoints", namespaced: true },
  mcpServers: { group: "dapr.io", version: "v1alpha1", plural: "mcpservers", namespaced: true },
  workflowAccessPolicies: {
    group: "dapr.io",
    version: "v1alpha1",
    plural: "workflowaccesspolicies",
    namespaced: true,
  },
  secrets: core("secrets"),
  configMaps: core("configmaps"),
  services: core("services"),
  pods: core("pods"),
  namespaces: core("namespaces", false),
  deployments: apps("deployments"),
  statefulSets: apps("statefulsets"),
  daemonSets: apps("daemonsets"),
  replicaSets: apps("replicasets"),
  jobs: { group: "batch", version: "v1", plural: "jobs", namespaced: true },
  cronJobs: { group: "batch", version: "v1", plural: "cronjobs", namespaced: true },
  leases: { group: "coordination.k8s.io", version: "v1", plural: "leases", namespaced: true },
} as const satisfies Record<string, ResourceType>;
