// What the reconcilers read: the informers' caches (Manager owns the informers), as plain
// readers so that a test passes in ObjectCaches it filled itself. The functions here derive
// the apps of a namespace from them; every reconciler and the golden test go through these.
import type {
  KubernetesObject,
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1Job,
  V1Pod,
  V1ReplicaSet,
  V1Secret,
  V1Service,
  V1StatefulSet,
} from "@kubernetes/client-node";
import type {
  Component,
  Configuration,
  HTTPEndpoint,
  MCPServer,
  Resiliency,
  Subscription,
  WorkflowAccessPolicy,
} from "../apis/types.ts";
import { APP_ID_LABEL } from "../sidecar/config-secret.ts";
import { appKey, appsFromObjects, type AppObjects, type AppsResult } from "./apps.ts";
import { leftoverAppServices } from "./app-service.ts";
import type { AppResults } from "./app-results.ts";
import { ObjectCache, type ObjectCacheReader } from "./runtime/cache.ts";
import { leftoverSidecarConfigSecrets } from "./sidecar-config.ts";
import { appIdAskedFor, type PodMetadata } from "./uninjected-pods.ts";

export interface ControllerCaches {
  components: ObjectCacheReader<Component>;
  configurations: ObjectCacheReader<Configuration>;
  subscriptions: ObjectCacheReader<Subscription>;
  resiliencies: ObjectCacheReader<Resiliency>;
  httpEndpoints: ObjectCacheReader<HTTPEndpoint>;
  mcpServers: ObjectCacheReader<MCPServer>;
  workflowAccessPolicies: ObjectCacheReader<WorkflowAccessPolicy>;
  secrets: ObjectCacheReader<V1Secret>;
  /** Only the Services carrying our managed-by label. */
  services: ObjectCacheReader<V1Service>;
  /** Only the pods the injector labelled (`dapr.io/sidecar-injected`), trimmed. */
  pods: ObjectCacheReader<V1Pod>;
  /** Every other pod, metadata only (detectionMetadata): un-injected pods and unrelated ones. */
  podMetadata: ObjectCacheReader<PodMetadata & KubernetesObject>;
  deployments: ObjectCacheReader<V1Deployment>;
  statefulSets: ObjectCacheReader<V1StatefulSet>;
  daemonSets: ObjectCacheReader<V1DaemonSet>;
  replicaSets: ObjectCacheReader<V1ReplicaSet>;
  jobs: ObjectCacheReader<V1Job>;
  cronJobs: ObjectCacheReader<V1CronJob>;
}

/** The caches of the kinds delivered besides Components, by kind. */
export function deliveredCaches(c: Pick<ControllerCaches, DeliveredCacheName>) {
  return {
    Subscription: c.subscriptions,
    Resiliency: c.resiliencies,
    HTTPEndpoint: c.httpEndpoints,
    MCPServer: c.mcpServers,
    WorkflowAccessPolicy: c.workflowAccessPolicies,
  } as const;
}

/** The caches of the delivered kinds, by their name in ControllerCaches. */
export type DeliveredCacheName =
  "subscriptions" | "resiliencies" | "httpEndpoints" | "mcpServers" | "workflowAccessPolicies";

/** Secondary index of Components, Configurations, HTTPEndpoints and MCPServers: the "namespace/name" of each Secret they reference. */
export const SECRET_REF_INDEX = "secretRef";

/** The app sources of one namespace, or of all when `namespace` is undefined. */
export function appObjects(c: ControllerCaches, namespace?: string): AppObjects {
  const of = <T extends KubernetesObject>(cache: ObjectCacheReader<T>) =>
    namespace === undefined ? cache.list() : cache.listNamespace(namespace);
  return {
    // A pod the injector did not label is an app source only when it asks for a sidecar (a bare
    // pod while the webhook was down). Its phase is not in its metadata: it counts as running.
    pods: [...of(c.pods), ...of(c.podMetadata).filter((p) => appIdAskedFor(p) !== undefined)],
    deployments: of(c.deployments),
    statefulSets: of(c.statefulSets),
    daemonSets: of(c.daemonSets),
    replicaSets: of(c.replicaSets),
    jobs: of(c.jobs),
    cronJobs: of(c.cronJobs),
  };
}

export function appsIn(c: ControllerCaches, namespace: string): AppsResult {
  return appsFromObjects(appObjects(c, namespace));
}

/**
 * Every app key of a namespace that may need a reconcile: its apps, the apps that are gone but
 * left objects of ours behind (also from before a restart), and the apps last seen there.
 */
export function appKeysOfNamespace(c: ControllerCaches, results: AppResults, namespace: string): Set<string> {
  const { apps } = appsIn(c, namespace);
  const keys = new Set(apps.map((a) => appKey(a.namespace, a.appId)));
  const orphans = [
    ...leftoverSidecarConfigSecrets(c.secrets.listNamespace(namespace), apps),
    ...leftoverAppServices(c.services.listNamespace(namespace), apps),
  ];
  for (const o of orphans) keys.add(appKey(namespace, o.metadata?.labels?.[APP_ID_LABEL] ?? ""));
  for (const key of results.knownApps(namespace)) keys.add(key);
  return keys;
}

/** Caches filled with `objects`, by kind (tests and the golden cases). */
export function cachesOf(objects: Iterable<KubernetesObject>): ControllerCaches {
  const c = {
    components: new ObjectCache<Component>(),
    configurations: new ObjectCache<Configuration>(),
    subscriptions: new ObjectCache<Subscription>(),
    resiliencies: new ObjectCache<Resiliency>(),
    httpEndpoints: new ObjectCache<HTTPEndpoint>(),
    mcpServers: new ObjectCache<MCPServer>(),
    workflowAccessPolicies: new ObjectCache<WorkflowAccessPolicy>(),
    secrets: new ObjectCache<V1Secret>(),
    services: new ObjectCache<V1Service>(),
    pods: new ObjectCache<V1Pod>(),
    podMetadata: new ObjectCache<PodMetadata & KubernetesObject>(),
    deployments: new ObjectCache<V1Deployment>(),
    statefulSets: new ObjectCache<V1StatefulSet>(),
    daemonSets: new ObjectCache<V1DaemonSet>(),
    replicaSets: new ObjectCache<V1ReplicaSet>(),
    jobs: new ObjectCache<V1Job>(),
    cronJobs: new ObjectCache<V1CronJob>(),
  };
  const byKind: Record<string, ObjectCache<KubernetesObject>> = {
    Component: c.components,
    Configuration: c.configurations,
    Subscription: c.subscriptions,
    Resiliency: c.resiliencies,
    HTTPEndpoint: c.httpEndpoints,
    MCPServer: c.mcpServers,
    WorkflowAccessPolicy: c.workflowAccessPolicies,
    Secret: c.secrets,
    Service: c.services,
    Pod: c.pods,
    Deployment: c.deployments,
    StatefulSet: c.statefulSets,
    DaemonSet: c.daemonSets,
    ReplicaSet: c.replicaSets,
    Job: c.jobs,
    CronJob: c.cronJobs,
  } as unknown as Record<string, ObjectCache<KubernetesObject>>;
  for (const o of objects) byKind[o.kind ?? ""]?.upsert(o);
  return c;
}
