// The controller's process shell: the informers (the caches every reconciler reads) and the
// leadership term. The reconcilers and what triggers them are wired in controllers.ts; each
// decides through pure functions and writes through the one OwnedWriter.
import type { KubernetesObject, V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { KubeHttp } from "../shared/kube-http.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../sidecar/config-secret.ts";
import { SIDECAR_INJECTED_LABEL } from "../sidecar/status.ts";
import { TRUST_BUNDLE_CONFIGMAP } from "../sidecar/identity.ts";
import { appIdAskedFor, detectionMetadata } from "./uninjected-pods.ts";
import { cachedConfigSecret } from "./sidecar-config.ts";
import type { ControllerCaches } from "./caches.ts";
import { setUpControllers, type Controllers } from "./controllers.ts";
import { FirstPass } from "./first-pass.ts";
import { splitKey } from "./runtime/cache.ts";
import { realClock, type Clock } from "./runtime/clock.ts";
import { createInformer, waitForCacheSync, type Informer } from "./runtime/informer.ts";
import { runtimeMetrics } from "./runtime/metrics.ts";
import { resources, type ResourceType } from "./runtime/resource.ts";
import {
  trimmedCronJob,
  trimmedDaprResource,
  trimmedPod,
  trimmedWorkload,
  withoutManagedFields,
} from "./trim.ts";

export interface ManagerOptions {
  http: KubeHttp;
  log: Logger;
  registry: Registry;
  clock?: Clock;
  /** Keys reconciled at once per controller. */
  concurrency?: number;
  /** Informer resync period; 0 turns it off. */
  resyncPeriodMs?: number;
  /** Watch and reconcile only this namespace; all namespaces when undefined. */
  namespace?: string;
  /** The cluster-wide sidecar defaults; pods injected otherwise have stale sidecars. */
  sidecarDefaults?: SidecarDefaults;
  /** Namespaces the injector's webhook never sees (reported as the reason a pod has no sidecar). */
  webhookExcludedNamespaces?: readonly string[];
  /** Delete pods without their sidecar so that their owners recreate them, at most this many a minute. */
  uninjectedPodDeletesPerMinute?: number;
  /** With mTLS: the name of Sentry's trust-bundle ConfigMap (in `sidecarDefaults.mtls.sentryNamespace`). */
  trustBundleConfigMap?: string;
}

type InformerExtras<T> = {
  keep?: (obj: T) => boolean;
  labelSelector?: string;
  fieldSelector?: string;
  metadataOnly?: boolean;
  resource?: string;
  namespace?: string;
};

/**
 * With mTLS, a watch of the one ConfigMap where Sentry publishes its trust bundle, in Sentry's
 * namespace (whatever namespace the rest watches): pods admitted with fewer roots are stale.
 */
function trustBundleInformer(
  opts: ManagerOptions,
  inf: (
    rt: ResourceType,
    t: (o: V1ConfigMap) => V1ConfigMap,
    e: InformerExtras<V1ConfigMap>,
  ) => Informer<V1ConfigMap>,
): Informer<V1ConfigMap> | undefined {
  const mtls = opts.sidecarDefaults?.mtls;
  if (!mtls) return undefined;
  return inf(resources.configMaps, withoutManagedFields, {
    namespace: mtls.sentryNamespace,
    fieldSelector: `metadata.name=${opts.trustBundleConfigMap ?? TRUST_BUNDLE_CONFIGMAP}`,
    resource: "configmaps(trust-bundle)",
  });
}

/** The informer of each cache the reconcilers read. */
export type ControllerInformers = {
  [K in keyof ControllerCaches]: Informer<CachedType<ControllerCaches[K]>>;
};
type CachedType<C> = C extends { get(key: string): infer T | undefined }
  ? T extends KubernetesObject
    ? T
    : never
  : never;

export class Manager {
  readonly informers: ControllerInformers;
  /** With mTLS: Sentry's one trust-bundle ConfigMap (trust-bundle.ts). */
  readonly trustBundle: Informer<V1ConfigMap> | undefined;
  private readonly controllers: Controllers;
  /** The current leadership term; undefined while not leading. */
  private term: object | undefined;

  constructor(opts: ManagerOptions) {
    const rtm = runtimeMetrics(opts.registry);
    const inf = <T extends KubernetesObject>(
      rt: ResourceType,
      transform: (obj: T) => T,
      extra: InformerExtras<T> = {},
    ) =>
      createInformer<T>(opts.http, rt, {
        log: opts.log,
        metrics: rtm,
        ...(opts.resyncPeriodMs === undefined ? {} : { resyncPeriodMs: opts.resyncPeriodMs }),
        ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }),
        transform,
        ...extra,
      });
    // Each cache keeps only what its readers use (see trim.ts): memory follows what is read.
    this.informers = {
      components: inf(resources.components, trimmedDaprResource),
      configurations: inf(resources.configurations, trimmedDaprResource),
      subscriptions: inf(resources.subscriptions, trimmedDaprResource),
      resiliencies: inf(resources.resiliencies, trimmedDaprResource),
      httpEndpoints: inf(resources.httpEndpoints, trimmedDaprResource),
      mcpServers: inf(resources.mcpServers, trimmedDaprResource),
      workflowAccessPolicies: inf(resources.workflowAccessPolicies, trimmedDaprResource),
      // Sidecar configs without their data (a digest per key, see cachedConfigSecret).
      secrets: inf(resources.secrets, (s: V1Secret) => cachedConfigSecret(withoutManagedFields(s))),
      services: inf(resources.services, withoutManagedFields, {
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      }),
      // Only injected pods (the label the injector adds): the API server filters out every
      // other pod of the cluster, which podMetadata sees as metadata only.
      pods: inf(resources.pods, trimmedPod, { labelSelector: SIDECAR_INJECTED_LABEL }),
      // Every other pod, metadata only: the server sends no spec or status. Un-injected pods
      // are found here, and bare pods that ask for a sidecar are apps (docs/controller.md).
      // Only pods that ask for a sidecar are kept: nothing reads the others.
      podMetadata: inf(resources.pods, detectionMetadata, {
        keep: (p) => appIdAskedFor(p) !== undefined,
        labelSelector: `!${SIDECAR_INJECTED_LABEL}`,
        metadataOnly: true,
        resource: "pods(metadata)",
      }),
      deployments: inf(resources.deployments, trimmedWorkload),
      statefulSets: inf(resources.statefulSets, trimmedWorkload),
      daemonSets: inf(resources.daemonSets, trimmedWorkload),
      replicaSets: inf(resources.replicaSets, trimmedWorkload),
      jobs: inf(resources.jobs, trimmedWorkload),
      cronJobs: inf(resources.cronJobs, trimmedCronJob),
    };
    this.trustBundle = trustBundleInformer(opts, inf);
    this.controllers = setUpControllers(this.informers, {
      http: opts.http,
      log: opts.log,
      registry: opts.registry,
      clock: opts.clock ?? realClock,
      concurrency: opts.concurrency ?? 4,
      ...(opts.sidecarDefaults ? { sidecarDefaults: opts.sidecarDefaults } : {}),
      ...(this.trustBundle ? { trustBundle: this.trustBundle } : {}),
      uninjected: {
        excludedNamespaces: new Set(opts.webhookExcludedNamespaces ?? ["kube-system"]),
        ...(opts.uninjectedPodDeletesPerMinute
          ? { deletesPerMinute: opts.uninjectedPodDeletesPerMinute }
          : {}),
      },
    });
  }

  private all(): Informer<KubernetesObject>[] {
    return [
      ...Object.values(this.informers),
      ...(this.trustBundle ? [this.trustBundle] : []),
    ] as Informer<KubernetesObject>[];
  }

  /** Starts the informers. Reconciling starts with startReconciling(), once leading. */
  startInformers(): void {
    for (const i of this.all()) i.start();
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await waitForCacheSync(this.all(), signal);
  }

  hasSynced(): boolean {
    return this.all().every((i) => i.hasSynced());
  }

  /**
   * Runs the reconcilers for one leadership term: every app is reconciled once; the status of
   * the resources of a namespace once its apps are (from their results, so a restart does not
   * first write a status computed from no apps); the stale sidecars once every app is; then
   * each on change.
   */
  async startReconciling(): Promise<void> {
    if (this.term) return;
    const term = {};
    this.term = term;
    const { apps, statuses, afterApps, results, appKeysByNamespace } = this.controllers;
    results.clearResults();
    const keys = appKeysByNamespace();
    const firstPass = new FirstPass(
      keys,
      apps.map((c) => c.name),
    );
    const hold = (key: string) => firstPass.holds(splitKey(key).namespace ?? "");
    for (const c of statuses) {
      c.start({ hold });
      c.addAll(); // those of namespaces with apps wait for them
    }
    const listening = apps.map((app) =>
      app.onReconciled((key) => {
        if (firstPass.reconciled(app.name, key)) for (const c of statuses) c.release();
      }),
    );
    for (const c of apps) c.start();
    for (const namespaceKeys of keys.values())
      for (const key of namespaceKeys) for (const c of apps) c.add(key);
    await Promise.all(apps.map((c) => c.idle()));
    for (const stop of listening) stop();
    if (this.term !== term) return; // the term ended meanwhile
    for (const c of statuses) c.release(true);
    for (const c of afterApps) {
      c.start();
      c.addAll();
    }
  }

  /** Ends the leadership term: work in flight finishes, queued work is dropped. */
  async stopReconciling(): Promise<void> {
    this.term = undefined;
    await Promise.all(this.controllers.all.map((c) => c.stop({ drain: false })));
  }

  async stop(): Promise<void> {
    this.term = undefined;
    await Promise.all(this.controllers.all.map((c) => c.stop({ drain: true })));
    await Promise.all(this.all().map((i) => i.stop()));
  }

  /** Resolves when every controller is idle (for tests and benchmarks). */
  async idle(): Promise<void> {
    await Promise.all(this.controllers.all.map((c) => c.idle()));
  }
}
