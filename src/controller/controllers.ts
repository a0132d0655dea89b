// The controller's reconcilers and what triggers each, built with the runtime's builder:
//   sidecar-config         Secret of each app            key namespace/appId
//   app-service            Service of each app           key namespace/appId
//   stale-sidecars         Events on stale pods, status  key namespace/appId
//   uninjected-pods        Events on pods without their sidecar, status, optional deletion
//                                                        key namespace/appId
//   component-status       status of each Component      key namespace/name
//   configuration-status   status of each Configuration  key namespace/name
//   subscription-status, resiliency-status, httpendpoint-status, mcpserver-status,
//   workflowaccesspolicy-status   likewise
// A new kind of resource with a status adds its StatusSpec (reconcile-status.ts) and one line
// in `statusControllers` below.
import type { KubernetesObject, V1ConfigMap, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Component, Configuration } from "../apis/types.ts";
import { jsonOrUndefined, type KubeHttp } from "../shared/kube-http.ts";
import { APP_ID_LABEL, sidecarConfigSecretName } from "../sidecar/config-secret.ts";
import { builtInSidecarDefaults, type SidecarDefaults } from "../sidecar/defaults.ts";
import { AppResults, type ResourceRef } from "./app-results.ts";
import { appKey } from "./apps.ts";
import { appKeysOfNamespace, SECRET_REF_INDEX, type ControllerCaches } from "./caches.ts";
import { deliveredKindSpec, type DeliveredKind, type DeliveredResource } from "./delivered-kinds.ts";
import { EventRecorder } from "./event-recorder.ts";
import { configurationChangedAt, daprdStartedAt } from "./configuration-change.ts";
import { contentHash } from "./hash.ts";
import type { ControllerInformers } from "./manager.ts";
import { controllerMetrics } from "./metrics.ts";
import { OwnedWriter, type StatusKind } from "./owned-writer.ts";
import { reconcileAppService } from "./reconcile-app-service.ts";
import { reconcileSidecarConfig } from "./reconcile-sidecar-config.ts";
import { renderMemo } from "./render-memo.ts";
import { reconcileStaleSidecars } from "./reconcile-stale-sidecars.ts";
import {
  componentStatusSpec,
  configurationStatusSpec,
  deliveredStatusSpec,
  reconcileStatus,
  type StatusSpec,
} from "./reconcile-status.ts";
import type { Clock } from "./runtime/clock.ts";
import { newController, type Controller } from "./runtime/controller.ts";
import { resourcePath, resources } from "./runtime/resource.ts";
import { generationOrMetadataChanged, readFieldsChanged } from "./runtime/predicates.ts";
import type { Informer } from "./runtime/informer.ts";
import { isOurs, referencedSecretNames } from "./sidecar-config.ts";
import { StaleSidecarTracker } from "./stale-sidecar-tracker.ts";
import { trustBundleOf } from "./trust-bundle.ts";
import { TRUST_ANCHORS_ANNOTATION } from "../sidecar/trust-anchors.ts";
import { TRUST_BUNDLE_KEY } from "../sidecar/identity.ts";
import { podDeleter, reconcileUninjectedPods } from "./reconcile-uninjected-pods.ts";
import { PodFindings } from "./pod-findings.ts";
import {
  DeletionBudget,
  UNINJECTED_REASONS,
  appIdAskedFor,
  uninjectedPod,
  type PodMetadata,
  type UninjectedPod,
} from "./uninjected-pods.ts";

export interface ControllerDepsOptions {
  http: KubeHttp;
  log: Logger;
  registry: Registry;
  clock: Clock;
  concurrency: number;
  sidecarDefaults?: SidecarDefaults;
  /** Un-injected pod detection (it reads the metadata-only informer of pods without the injected label). */
  uninjected: UninjectedDetection;
  /** With mTLS: Sentry's trust-bundle ConfigMap; pods whose anchors lack one of its roots are stale. */
  trustBundle?: Informer<V1ConfigMap>;
}

export interface UninjectedDetection {
  /** Namespaces the webhook configuration never sends. */
  excludedNamespaces: ReadonlySet<string>;
  /** Delete such pods, at most this many a minute; undefined: never. */
  deletesPerMinute?: number;
}

export interface Controllers {
  /** Run first in a term: the outputs of every app. */
  apps: Controller[];
  /** The status of each kind: a namespace's wait for its apps (first-pass.ts). */
  statuses: Controller[];
  /** Run once every app is done: they read the apps' results. */
  afterApps: Controller[];
  all: Controller[];
  results: AppResults;
  /** The app keys of every namespace that has apps or objects of ours. */
  appKeysByNamespace(): Map<string, string[]>;
}

const ns = (obj: KubernetesObject) => obj.metadata?.namespace ?? "";

export function setUpControllers(inf: ControllerInformers, o: ControllerDepsOptions): Controllers {
  const caches = Object.fromEntries(
    Object.entries(inf).map(([k, i]) => [k, (i as Informer<KubernetesObject>).cache]),
  ) as unknown as ControllerCaches;
  const metrics = controllerMetrics(o.registry);
  const deps = { log: o.log, registry: o.registry, concurrency: o.concurrency, clock: o.clock };
  const events = new EventRecorder({
    http: o.http,
    log: o.log,
    clock: o.clock,
    onWrite: () => metrics.writes.inc({ resource: "events", verb: "create" }),
  });
  const writer = new OwnedWriter({
    http: o.http,
    events,
    onWrite: (resource, verb) => metrics.writes.inc({ resource, verb }),
  });
  const results = new AppResults();
  const memo = renderMemo();
  const trustBundle = o.trustBundle;
  const tracker = new StaleSidecarTracker(
    o.sidecarDefaults ?? builtInSidecarDefaults,
    (namespace, appId) =>
      configurationChangedAt(caches.secrets.getByName(namespace, sidecarConfigSecretName(appId))),
    () => trustBundle && trustBundleOf(trustBundle.cache.list()[0]),
  );

  // Secrets referenced by Components and Configurations, to find their users when one changes.
  const secretRefs = (kind: "Component" | "Configuration") => (obj: Component | Configuration) =>
    referencedSecretNames(obj, kind).map((name) => `${obj.metadata?.namespace}/${name}`);
  inf.components.addIndex(SECRET_REF_INDEX, secretRefs("Component"));
  inf.configurations.addIndex(SECRET_REF_INDEX, secretRefs("Configuration"));
  const deliveredSecretRefs = (kind: DeliveredKind) => (obj: DeliveredResource) =>
    deliveredKindSpec(kind)
      .secretNames(obj)
      .map((name) => `${obj.metadata?.namespace}/${name}`);
  inf.httpEndpoints.addIndex(SECRET_REF_INDEX, deliveredSecretRefs("HTTPEndpoint"));
  inf.mcpServers.addIndex(SECRET_REF_INDEX, deliveredSecretRefs("MCPServer"));

  // Bookkeeping on every replica, before any controller maps the event. An event that brings
  // back our own write is marked: the reconcile that wrote it has seen all it holds, so the
  // watches of our own Secrets and Services need not run it again.
  const ownEchoes = new WeakSet<KubernetesObject>();
  const observe = (kind: "Secret" | "Service" | StatusKind, o: KubernetesObject, gone = false) => {
    const ref = { kind, namespace: ns(o), name: o.metadata?.name ?? "" };
    if (gone) writer.forget(ref);
    else if (writer.observe(ref, o.metadata?.resourceVersion)) ownEchoes.add(o);
  };
  for (const [kind, i] of [
    ["Secret", inf.secrets],
    ["Service", inf.services],
    ["Component", inf.components],
    ["Configuration", inf.configurations],
    ["Subscription", inf.subscriptions],
    ["Resiliency", inf.resiliencies],
    ["HTTPEndpoint", inf.httpEndpoints],
    ["MCPServer", inf.mcpServers],
    ["WorkflowAccessPolicy", inf.workflowAccessPolicies],
  ] as const) {
    (i as Informer<KubernetesObject>).addEventHandler({
      onAdd: (obj) => observe(kind, obj),
      onUpdate: (_, obj) => observe(kind, obj),
      onDelete: (obj) => observe(kind, obj, true),
    });
  }
  inf.pods.addEventHandler({
    onAdd: (p) => tracker.observe(p),
    onUpdate: (_, p) => tracker.observe(p),
    onDelete: (p) => tracker.observe(p, true),
  });
  const countStale = () => metrics.staleSidecars.set(tracker.size());
  inf.pods.addEventHandler({ onAdd: countStale, onUpdate: countStale, onDelete: countStale });
  const podMetadata = inf.podMetadata;
  const { excludedNamespaces } = o.uninjected;
  const uninjected = new PodFindings<PodMetadata & KubernetesObject, UninjectedPod>((p) =>
    uninjectedPod(p, excludedNamespaces),
  );
  const countUninjected = () => {
    const all = uninjected.all();
    for (const reason of UNINJECTED_REASONS)
      metrics.uninjectedPods.set({ reason }, all.filter((p) => p.reason === reason).length);
  };
  podMetadata.addEventHandler({
    onAdd: (p) => (uninjected.observe(p), countUninjected()),
    onUpdate: (_, p) => (uninjected.observe(p), countUninjected()),
    onDelete: (p) => (uninjected.observe(p, true), countUninjected()),
  });

  // Every app of the object's namespace, present or just gone. Both app controllers map the same
  // event one after the other (handlers run synchronously), so the last answer is reused.
  let last: { obj: KubernetesObject; keys: Set<string> } | undefined;
  const appsOfNamespace = (obj: KubernetesObject) => {
    if (last?.obj !== obj) {
      last = { obj, keys: appKeysOfNamespace(caches, results, ns(obj)) };
      queueMicrotask(() => (last = undefined));
    }
    return last.keys;
  };
  const appOfLabel = (obj: KubernetesObject) => {
    const appId = obj.metadata?.labels?.[APP_ID_LABEL];
    return appId ? [appKey(ns(obj), appId)] : [];
  };
  const appOfLabelUnlessEcho = (obj: KubernetesObject) => (ownEchoes.has(obj) ? [] : appOfLabel(obj));
  // Status-only updates (our own status patches among them) change nothing a reconciler reads.
  const specChanged = { updateMatters: generationOrMetadataChanged };
  // Workloads are trimmed to what app discovery reads; their status churn is noise.
  const workloadChanged = { updateMatters: readFieldsChanged };
  // Pod status changes do not matter, except the phase (a finished pod is no longer an app source).
  const podChanged = (a: V1Pod | PodMetadata, b: V1Pod | PodMetadata) => podIdentity(a) !== podIdentity(b);
  const workloads = [
    inf.deployments,
    inf.statefulSets,
    inf.daemonSets,
    inf.replicaSets,
    inf.jobs,
    inf.cronJobs,
  ];
  // A pod without the injected label matters only while it asks for a sidecar (a bare one is an
  // app); one that stops asking maps from its old version.
  const appsOfAskingPod = (p: PodMetadata & KubernetesObject) =>
    appIdAskedFor(p) === undefined ? [] : appsOfNamespace(p);
  const withAppSources = <B extends ReturnType<typeof newController>>(b: B): B => {
    for (const w of workloads) b.watches(w as Informer<KubernetesObject>, appsOfNamespace, workloadChanged);
    b.watches(podMetadata, appsOfAskingPod, { updateMatters: podChanged, mapOldToo: true });
    return b.watches(inf.pods, appsOfNamespace, { updateMatters: podChanged });
  };

  // --- Status, one controller per kind -------------------------------------------------------
  const statusController = <T extends Component | Configuration | DeliveredResource>(
    spec: StatusSpec<T>,
    informer: Informer<T>,
  ) =>
    newController(`${spec.kind.toLowerCase()}-status`, deps)
      .for(informer, undefined, specChanged)
      .complete((key, { log }) =>
        reconcileStatus(
          spec,
          key,
          {
            cache: informer.cache,
            secrets: caches.secrets,
            results,
            staleOf: (namespace, appIds) => tracker.staleOf(namespace, appIds),
            uninjectedOf: (namespace, appIds) => uninjected.of(namespace, appIds),
            writer,
            now: () => new Date(o.clock.now()),
          },
          log,
        ),
      );
  const statusControllers: Record<StatusKind, Controller> = {
    Component: statusController(componentStatusSpec, inf.components),
    Configuration: statusController(
      configurationStatusSpec((o.sidecarDefaults ?? builtInSidecarDefaults).mtls !== undefined),
      inf.configurations,
    ),
    Subscription: statusController(deliveredStatusSpec("Subscription"), asDelivered(inf.subscriptions)),
    Resiliency: statusController(deliveredStatusSpec("Resiliency"), asDelivered(inf.resiliencies)),
    HTTPEndpoint: statusController(deliveredStatusSpec("HTTPEndpoint"), asDelivered(inf.httpEndpoints)),
    MCPServer: statusController(deliveredStatusSpec("MCPServer"), asDelivered(inf.mcpServers)),
    WorkflowAccessPolicy: statusController(
      deliveredStatusSpec("WorkflowAccessPolicy"),
      asDelivered(inf.workflowAccessPolicies),
    ),
  };
  const requeueStatus = (refs: ResourceRef[]) => {
    for (const r of refs) statusControllers[r.kind].add(`${r.namespace}/${r.name}`);
  };

  // --- The outputs of each app ---------------------------------------------------------------
  const sidecarConfig = withAppSources(newController("sidecar-config", deps))
    .watches(inf.components, appsOfNamespace, specChanged)
    .watches(inf.configurations, appsOfNamespace, specChanged)
    .watches(inf.subscriptions, appsOfNamespace, specChanged)
    .watches(inf.resiliencies, appsOfNamespace, specChanged)
    .watches(inf.httpEndpoints, appsOfNamespace, specChanged)
    .watches(inf.mcpServers, appsOfNamespace, specChanged)
    .watches(inf.workflowAccessPolicies, appsOfNamespace, specChanged)
    .watches(inf.secrets, (s: V1Secret) => {
      if (ownEchoes.has(s)) return [];
      const keys: string[] = [];
      const appId = s.metadata?.labels?.[APP_ID_LABEL];
      if (appId && s.metadata?.name === sidecarConfigSecretName(appId)) keys.push(appKey(ns(s), appId));
      const key = `${ns(s)}/${s.metadata?.name}`;
      const users = [
        ...caches.components.byIndex(SECRET_REF_INDEX, key),
        ...caches.configurations.byIndex(SECRET_REF_INDEX, key),
        ...caches.httpEndpoints.byIndex(SECRET_REF_INDEX, key),
        ...caches.mcpServers.byIndex(SECRET_REF_INDEX, key),
      ];
      if (users.length > 0) keys.push(...appsOfNamespace(s));
      return keys;
    })
    .complete((key, { log }) =>
      reconcileSidecarConfig(
        key,
        {
          caches,
          results,
          writer,
          events,
          memo,
          readSecret: (namespace, name) =>
            jsonOrUndefined<V1Secret>(o.http, { path: resourcePath(resources.secrets, namespace, name) }),
          onResultsChanged: (changed) => {
            metrics.apps.set(results.size());
            metrics.components.set(caches.components.size());
            requeueStatus(changed);
          },
          now: () => new Date(o.clock.now()),
        },
        log,
      ),
    );
  const appService = withAppSources(newController("app-service", deps))
    .watches(inf.services, appOfLabelUnlessEcho)
    .complete((key, { log }) => reconcileAppService(key, { caches, writer }, log));
  // A pod's daprd restarting, or its app's Configuration changing, may make it current or stale.
  const podOrDaprdChanged = (a: V1Pod, b: V1Pod) =>
    podChanged(a, b) || daprdStartedAt(a)?.getTime() !== daprdStartedAt(b)?.getTime();
  const podsOf = (namespace: string, appId: string) =>
    caches.pods.listNamespace(namespace).filter((p) => p.metadata?.labels?.[APP_ID_LABEL] === appId);
  const staleSidecarsBuilder = newController("stale-sidecars", deps)
    .for(inf.pods, appOfLabel, { updateMatters: podOrDaprdChanged })
    .watches(inf.secrets, (s: V1Secret) => (isOurs(s) ? appOfLabel(s) : []), {
      updateMatters: (a, b) => configurationChangedAt(a)?.getTime() !== configurationChangedAt(b)?.getTime(),
    });
  // A new trust bundle (a successor root published, an old one retired): every app with pods
  // that recorded their anchors is judged again.
  if (trustBundle)
    staleSidecarsBuilder.watches(
      trustBundle,
      () => {
        const keys = new Set<string>();
        for (const p of caches.pods.list())
          if (p.metadata?.annotations?.[TRUST_ANCHORS_ANNOTATION] !== undefined)
            for (const k of appOfLabel(p)) keys.add(k);
        return [...keys];
      },
      { updateMatters: (a, b) => a.data?.[TRUST_BUNDLE_KEY] !== b.data?.[TRUST_BUNDLE_KEY] },
    );
  const staleSidecars = staleSidecarsBuilder.complete(async (key, { log }) => {
    const result = await reconcileStaleSidecars(
      key,
      { tracker, results, events, requeueStatus, podsOf },
      log,
    );
    // Judging pods again may change the count without a pod event.
    countStale();
    return result;
  });

  const perMinute = o.uninjected.deletesPerMinute;
  const deletion = perMinute && {
    budget: new DeletionBudget(perMinute),
    now: () => o.clock.now(),
    deletePod: podDeleter(o.http),
    onDeleted: () => metrics.uninjectedPodDeletes.inc(),
  };
  // Keyed by app, as the stale sidecars: the app-id of an un-injected pod comes from its
  // annotation (it has no app-id label, which the injector adds).
  const uninjectedPods = newController("uninjected-pods", deps)
    .for(podMetadata, (p) => {
      const appId = appIdAskedFor(p);
      return appId === undefined ? [] : [appKey(ns(p), appId)];
    })
    .complete((key, { log }) =>
      reconcileUninjectedPods(
        key,
        { findings: uninjected, results, events, requeueStatus, ...(deletion ? { deletion } : {}) },
        log,
      ),
    );

  const apps = [sidecarConfig, appService];
  const statuses = Object.values(statusControllers);
  const afterApps = [staleSidecars, uninjectedPods];
  return {
    apps,
    statuses,
    afterApps,
    all: [...apps, ...statuses, ...afterApps],
    results,
    appKeysByNamespace: () =>
      new Map(
        [...namespacesWithApps(caches)].map((namespace) => [
          namespace,
          [...appKeysOfNamespace(caches, results, namespace)],
        ]),
      ),
  };
}

/** The informer of one delivered kind, typed as the union its StatusSpec takes. */
function asDelivered<T extends DeliveredResource>(i: Informer<T>): Informer<DeliveredResource> {
  return i as unknown as Informer<DeliveredResource>;
}

function namespacesWithApps(c: ControllerCaches): Set<string> {
  const out = new Set<string>();
  for (const cache of [
    c.pods,
    c.deployments,
    c.statefulSets,
    c.daemonSets,
    c.replicaSets,
    c.jobs,
    c.cronJobs,
  ])
    for (const o of (cache as { list(): KubernetesObject[] }).list()) out.add(ns(o));
  // Namespaces holding our objects too: their apps may be gone and need pruning.
  for (const s of c.services.list()) out.add(ns(s));
  for (const s of c.secrets.list()) if (isOurs(s)) out.add(ns(s));
  for (const p of c.podMetadata.list()) if (appIdAskedFor(p) !== undefined) out.add(ns(p));
  return out;
}

/** What of a pod decides app membership; status noise (conditions, IPs) is left out. */
function podIdentity(p: V1Pod | PodMetadata): string {
  return contentHash({
    a: p.metadata?.annotations ?? null,
    l: p.metadata?.labels ?? null,
    o: p.metadata?.ownerReferences ?? null,
    phase: ("status" in p ? p.status?.phase : undefined) ?? null,
    d: p.metadata?.deletionTimestamp ?? null,
  });
}
