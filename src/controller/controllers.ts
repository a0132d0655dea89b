// The controller's reconcilers and what triggers each, built with the runtime's builder:
//   sidecar-config         Secret of each app            key namespace/appId
//   app-service            Service of each app           key namespace/appId
//   stale-sidecars         Events on stale pods, status  key namespace/appId
//   component-status       status of each Component      key namespace/name
//   configuration-status   status of each Configuration  key namespace/name
//   subscription-status, resiliency-status, httpendpoint-status   likewise
// A new kind of resource with a status adds its StatusSpec (reconcile-status.ts) and one line
// in `statusControllers` below.
import type { KubernetesObject, V1Pod, V1Secret, V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Component, Configuration } from "../apis/types.ts";
import type { KubeHttp } from "../shared/kube-http.ts";
import { APP_ID_LABEL, sidecarConfigSecretName } from "../sidecar/config-secret.ts";
import { builtInSidecarDefaults, type SidecarDefaults } from "../sidecar/defaults.ts";
import { AppResults, type ResourceRef } from "./app-results.ts";
import { appKey } from "./apps.ts";
import { appKeysOfNamespace, SECRET_REF_INDEX, type ControllerCaches } from "./caches.ts";
import { deliveredKindSpec, type DeliveredResource } from "./delivered-kinds.ts";
import { EventRecorder } from "./event-recorder.ts";
import { contentHash } from "./hash.ts";
import type { ControllerInformers } from "./manager.ts";
import { controllerMetrics } from "./metrics.ts";
import { OwnedWriter, type StatusKind } from "./owned-writer.ts";
import { reconcileAppService } from "./reconcile-app-service.ts";
import { reconcileSidecarConfig } from "./reconcile-sidecar-config.ts";
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
import type { Informer } from "./runtime/informer.ts";
import { isOurs, referencedSecretNames } from "./sidecar-config.ts";
import { StaleSidecarTracker } from "./stale-sidecar-tracker.ts";

export interface ControllerDepsOptions {
  http: KubeHttp;
  log: Logger;
  registry: Registry;
  clock: Clock;
  concurrency: number;
  sidecarDefaults?: SidecarDefaults;
}

export interface Controllers {
  /** Run first in a term: the outputs of every app. */
  apps: Controller[];
  /** Run once the apps are done: they read the apps' results. */
  afterApps: Controller[];
  all: Controller[];
  results: AppResults;
  /** Queues every app of every namespace that has apps or objects of ours. */
  enqueueAllApps(): void;
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
  const tracker = new StaleSidecarTracker(o.sidecarDefaults ?? builtInSidecarDefaults);

  // Secrets referenced by Components and Configurations, to find their users when one changes.
  const secretRefs = (kind: "Component" | "Configuration") => (obj: Component | Configuration) =>
    referencedSecretNames(obj, kind).map((name) => `${obj.metadata?.namespace}/${name}`);
  inf.components.addIndex(SECRET_REF_INDEX, secretRefs("Component"));
  inf.configurations.addIndex(SECRET_REF_INDEX, secretRefs("Configuration"));
  inf.httpEndpoints.addIndex(SECRET_REF_INDEX, (obj) =>
    deliveredKindSpec("HTTPEndpoint")
      .secretNames(obj)
      .map((name) => `${obj.metadata?.namespace}/${name}`),
  );

  // Bookkeeping on every replica, before any controller maps the event.
  const observe = (kind: "Secret" | "Service" | StatusKind, o: KubernetesObject, gone = false) => {
    const ref = { kind, namespace: ns(o), name: o.metadata?.name ?? "" };
    if (gone) writer.forget(ref);
    else writer.observe(ref, o.metadata?.resourceVersion);
  };
  for (const [kind, i] of [
    ["Secret", inf.secrets],
    ["Service", inf.services],
    ["Component", inf.components],
    ["Configuration", inf.configurations],
    ["Subscription", inf.subscriptions],
    ["Resiliency", inf.resiliencies],
    ["HTTPEndpoint", inf.httpEndpoints],
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
  // Pod status changes do not matter, except the phase (a finished pod is no longer an app source).
  const podChanged = (a: V1Pod, b: V1Pod) => podIdentity(a) !== podIdentity(b);
  const workloads = [
    inf.deployments,
    inf.statefulSets,
    inf.daemonSets,
    inf.replicaSets,
    inf.jobs,
    inf.cronJobs,
  ];
  const withAppSources = <B extends ReturnType<typeof newController>>(b: B): B => {
    for (const w of workloads) b.watches(w as Informer<KubernetesObject>, appsOfNamespace);
    return b.watches(inf.pods, appsOfNamespace, { updateMatters: podChanged });
  };

  // --- Status, one controller per kind -------------------------------------------------------
  const statusController = <T extends Component | Configuration | DeliveredResource>(
    spec: StatusSpec<T>,
    informer: Informer<T>,
  ) =>
    newController(`${spec.kind.toLowerCase()}-status`, deps)
      .for(informer)
      .complete((key, { log }) =>
        reconcileStatus(
          spec,
          key,
          {
            cache: informer.cache,
            secrets: caches.secrets,
            results,
            staleOf: (namespace, appIds) => tracker.staleOf(namespace, appIds),
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
  };
  const requeueStatus = (refs: ResourceRef[]) => {
    for (const r of refs) statusControllers[r.kind].add(`${r.namespace}/${r.name}`);
  };

  // --- The outputs of each app ---------------------------------------------------------------
  const sidecarConfig = withAppSources(newController("sidecar-config", deps))
    .watches(inf.components, appsOfNamespace)
    .watches(inf.configurations, appsOfNamespace)
    .watches(inf.subscriptions, appsOfNamespace)
    .watches(inf.resiliencies, appsOfNamespace)
    .watches(inf.httpEndpoints, appsOfNamespace)
    .watches(inf.secrets, (s: V1Secret) => {
      const keys: string[] = [];
      const appId = s.metadata?.labels?.[APP_ID_LABEL];
      if (appId && s.metadata?.name === sidecarConfigSecretName(appId)) keys.push(appKey(ns(s), appId));
      const key = `${ns(s)}/${s.metadata?.name}`;
      const users = [
        ...caches.components.byIndex(SECRET_REF_INDEX, key),
        ...caches.configurations.byIndex(SECRET_REF_INDEX, key),
        ...caches.httpEndpoints.byIndex(SECRET_REF_INDEX, key),
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
          onResultsChanged: (changed) => {
            metrics.apps.set(results.size());
            metrics.components.set(caches.components.size());
            requeueStatus(changed);
          },
        },
        log,
      ),
    );
  const appService = withAppSources(newController("app-service", deps))
    .watches(inf.services, (s: V1Service) => appOfLabel(s))
    .complete((key, { log }) => reconcileAppService(key, { caches, writer }, log));
  const staleSidecars = newController("stale-sidecars", deps)
    .for(inf.pods, appOfLabel, { updateMatters: podChanged })
    .complete((key, { log }) =>
      reconcileStaleSidecars(key, { tracker, results, events, requeueStatus }, log),
    );

  const apps = [sidecarConfig, appService];
  const afterApps = [...Object.values(statusControllers), staleSidecars];
  return {
    apps,
    afterApps,
    all: [...apps, ...afterApps],
    results,
    enqueueAllApps: () => {
      for (const namespace of namespacesWithApps(caches)) {
        for (const key of appKeysOfNamespace(caches, results, namespace)) for (const c of apps) c.add(key);
      }
    },
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
  return out;
}

/** What of a pod decides app membership; status noise (conditions, IPs) is left out. */
function podIdentity(p: V1Pod): string {
  return contentHash({
    a: p.metadata?.annotations ?? null,
    l: p.metadata?.labels ?? null,
    o: p.metadata?.ownerReferences ?? null,
    phase: p.status?.phase ?? null,
    d: p.metadata?.deletionTimestamp ?? null,
  });
}
