// The controller's I/O shell: informers feed two work queues, and two level-triggered
// reconcilers turn the cache into writes.
//   app     key "namespace/appId": the app's sidecar config Secret and `<app-id>-dapr` Service
//           (created, updated only when different, deleted when the app is gone);
//   status  key "Kind/namespace/name": status of a Component or Configuration, from the results
//           the app reconciles recorded.
// Reconcilers read only the cache; the pure functions in apps.ts, sidecar-config.ts,
// app-service.ts and status.ts decide; this file writes.
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
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Component, Configuration } from "../apis/types.ts";
import { builtInSidecarDefaults, type SidecarDefaults } from "../sidecar/defaults.ts";
import {
  APP_ID_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  appServiceName,
  sidecarConfigSecretName,
} from "../sidecar/config-secret.ts";
import { appKey, appsFromObjects, type App, type AppsResult } from "./apps.ts";
import { desiredAppService, serviceChange, serviceForUpdate, leftoverAppServices } from "./app-service.ts";
import { contentHash } from "./hash.ts";
import { isNotFound, isAlreadyExists } from "../shared/api-errors.ts";
import { splitKey } from "./runtime/cache.ts";
import type { Clock } from "./runtime/clock.ts";
import { realClock } from "./runtime/clock.ts";
import { createInformer, waitForCacheSync, type EventHandler, type Informer } from "./runtime/informer.ts";
import type { KubeHttp } from "../shared/kube-http.ts";
import { runtimeMetrics } from "./runtime/metrics.ts";
import { WorkQueue } from "./runtime/queue.ts";
import { resourcePath, resources, type ResourceType } from "./runtime/resource.ts";
import {
  desiredSidecarConfig,
  isOurs,
  needsUpdate,
  referencedSecretNames,
  resolveComponent,
  resolveConfiguration,
  secretForUpdate,
  sidecarConfigSecret,
  leftoverSidecarConfigSecrets,
  type SecretLookup,
  type SidecarConfig,
} from "./sidecar-config.ts";
import {
  trimmedCronJob,
  trimmedDaprResource,
  trimmedPod,
  trimmedWorkload,
  withoutManagedFields,
} from "./trim.ts";
import { componentStatus, configurationStatus, statusChanged, type ResourceStatus } from "./status.ts";
import {
  STALE_SIDECAR_REASON,
  staleSidecar,
  withStaleSidecars,
  type StaleSidecar,
} from "./stale-sidecars.ts";
import { WriteTracker } from "./write-tracker.ts";

const SECRET_REF_INDEX = "secretRef";
const eventsResource: ResourceType = { group: "", version: "v1", plural: "events", namespaced: true };

export interface ManagerOptions {
  http: KubeHttp;
  log: Logger;
  registry: Registry;
  clock?: Clock;
  /** Keys reconciled at once per queue. */
  concurrency?: number;
  /** Informer resync period; 0 turns it off. */
  resyncPeriodMs?: number;
  /** Watch and reconcile only this namespace; all namespaces when undefined. */
  namespace?: string;
  /** What the injector injects now; pods injected otherwise have stale sidecars. */
  sidecarDefaults?: SidecarDefaults;
}

type DaprResource = Component | Configuration;
type StatusKind = "Component" | "Configuration";

interface ControllerMetrics {
  reconciles: Counter<"controller" | "result">;
  reconcileSeconds: Histogram<"controller">;
  writes: Counter<"resource" | "verb">;
  apps: Gauge;
  components: Gauge;
  staleSidecars: Gauge;
}

function controllerMetrics(registry: Registry): ControllerMetrics {
  const registers = [registry];
  return {
    reconciles: new Counter({
      name: "outrigger_controller_reconciles_total",
      help: "Reconciles by controller and result (success, error).",
      labelNames: ["controller", "result"] as const,
      registers,
    }),
    reconcileSeconds: new Histogram({
      name: "outrigger_controller_reconcile_duration_seconds",
      help: "Time spent in one reconcile, by controller.",
      labelNames: ["controller"] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    writes: new Counter({
      name: "outrigger_controller_writes_total",
      help: "API writes by resource (secrets, services, status, events) and verb (create, update, delete, patch).",
      labelNames: ["resource", "verb"] as const,
      registers,
    }),
    apps: new Gauge({
      name: "outrigger_apps",
      help: "Apps (namespace + app-id) with a sidecar config.",
      registers,
    }),
    components: new Gauge({ name: "outrigger_components", help: "Components in the cache.", registers }),
    staleSidecars: new Gauge({
      name: "outrigger_stale_sidecars",
      help: "Running pods whose injected sidecar differs from what the injector would inject now.",
      registers,
    }),
  };
}

/** What status reads of an app's sidecar config. */
type AppResult = Pick<SidecarConfig, "components" | "configuration">;

export class Manager {
  private readonly opts: ManagerOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly metrics: ControllerMetrics;
  private readonly informers: Informer<KubernetesObject>[] = [];
  readonly components: Informer<Component>;
  readonly configurations: Informer<Configuration>;
  readonly secrets: Informer<V1Secret>;
  readonly services: Informer<V1Service>;
  private readonly pods: Informer<V1Pod>;
  private readonly workloads: {
    deployments: Informer<V1Deployment>;
    statefulSets: Informer<V1StatefulSet>;
    daemonSets: Informer<V1DaemonSet>;
    replicaSets: Informer<V1ReplicaSet>;
    jobs: Informer<V1Job>;
    cronJobs: Informer<V1CronJob>;
  };
  /** The queues of the current leadership term; undefined while not leading. */
  private queues: { apps: WorkQueue; status: WorkQueue } | undefined;
  /**
   * Per app, what status needs of its last computed sidecar config: the per-resource results,
   * not the rendered text (the Secret holds that). Only the leader fills it.
   */
  private readonly results = new Map<string, AppResult>();
  /** App keys per namespace as last computed: an app that disappears still gets reconciled (pruned). */
  private readonly knownApps = new Map<string, Set<string>>();
  private readonly reportedEvents = new Set<string>();
  private readonly writes = new WriteTracker();
  /** Pods with a stale sidecar, by pod key; kept by the pod handler on every replica. */
  private readonly stale = new Map<string, StaleSidecar>();
  /** Fingerprint of each app's stale pods as its status last saw them. */
  private readonly staleSeen = new Map<string, string>();

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.clock = opts.clock ?? realClock;
    this.metrics = controllerMetrics(opts.registry);
    const rtm = runtimeMetrics(opts.registry);
    const inf = <T extends KubernetesObject>(
      rt: ResourceType,
      transform: (obj: T) => T,
      extra: { labelSelector?: string } = {},
    ) => {
      const i = createInformer<T>(opts.http, rt, {
        log: opts.log,
        metrics: rtm,
        ...(opts.resyncPeriodMs === undefined ? {} : { resyncPeriodMs: opts.resyncPeriodMs }),
        ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }),
        transform,
        ...extra,
      });
      this.informers.push(i as unknown as Informer<KubernetesObject>);
      return i;
    };
    // Each cache keeps only what its readers use (see trim.ts): memory follows what is read.
    this.components = inf<Component>(resources.components, trimmedDaprResource);
    this.configurations = inf<Configuration>(resources.configurations, trimmedDaprResource);
    this.secrets = inf<V1Secret>(resources.secrets, withoutManagedFields);
    this.services = inf<V1Service>(resources.services, withoutManagedFields, {
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    });
    this.pods = inf<V1Pod>(resources.pods, trimmedPod);
    this.workloads = {
      deployments: inf<V1Deployment>(resources.deployments, trimmedWorkload),
      statefulSets: inf<V1StatefulSet>(resources.statefulSets, trimmedWorkload),
      daemonSets: inf<V1DaemonSet>(resources.daemonSets, trimmedWorkload),
      replicaSets: inf<V1ReplicaSet>(resources.replicaSets, trimmedWorkload),
      jobs: inf<V1Job>(resources.jobs, trimmedWorkload),
      cronJobs: inf<V1CronJob>(resources.cronJobs, trimmedCronJob),
    };
    const secretRefs = (kind: StatusKind) => (obj: DaprResource) =>
      referencedSecretNames(obj, kind).map((name) => `${obj.metadata?.namespace}/${name}`);
    this.components.addIndex(SECRET_REF_INDEX, secretRefs("Component"));
    this.configurations.addIndex(SECRET_REF_INDEX, secretRefs("Configuration"));

    this.wireHandlers();
  }

  /** Starts the informers. Reconciling starts with startReconciling(), once leading. */
  startInformers(): void {
    for (const i of this.informers) i.start();
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await waitForCacheSync(this.informers, signal);
  }

  hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  /**
   * Runs the reconcilers for one leadership term: every app is reconciled once, then the
   * status of every Component and Configuration (from the apps' results, so a restart does not
   * first write a status computed from no apps), then each on change.
   */
  async startReconciling(): Promise<void> {
    if (this.queues) return;
    const rtm = runtimeMetrics(this.opts.registry);
    const queue = (name: string, fn: (key: string) => Promise<void>) =>
      new WorkQueue({
        name,
        log: this.log,
        metrics: rtm,
        concurrency: this.opts.concurrency ?? 4,
        process: (key) => this.timed(name, () => fn(key)),
      });
    const queues = {
      apps: queue("app", (k) => this.reconcileApp(k)),
      status: queue("status", (k) => this.reconcileStatus(k)),
    };
    this.queues = queues;
    this.results.clear();
    for (const ns of this.namespacesWithApps()) this.enqueueNamespace(ns);
    queues.apps.start();
    await queues.apps.idle();
    if (this.queues !== queues) return; // the term ended meanwhile
    for (const c of this.components.cache.list()) this.enqueueStatus("Component", c);
    for (const c of this.configurations.cache.list()) this.enqueueStatus("Configuration", c);
    queues.status.start();
  }

  /** Ends the leadership term: work in flight finishes, queued work is dropped. */
  async stopReconciling(): Promise<void> {
    const queues = this.queues;
    this.queues = undefined;
    if (queues)
      await Promise.all([queues.apps.shutdown({ drain: false }), queues.status.shutdown({ drain: false })]);
  }

  async stop(): Promise<void> {
    const queues = this.queues;
    this.queues = undefined;
    if (queues)
      await Promise.all([queues.apps.shutdown({ drain: true }), queues.status.shutdown({ drain: true })]);
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** Resolves when both queues are empty and idle (for tests and benchmarks). */
  async idle(): Promise<void> {
    if (this.queues) await Promise.all([this.queues.apps.idle(), this.queues.status.idle()]);
  }

  // --- Event wiring ----------------------------------------------------------------------

  private wireHandlers(): void {
    const onNamespaceOf = <T extends KubernetesObject>(fn: (obj: T) => void): EventHandler<T> => ({
      onAdd: (obj) => fn(obj),
      onUpdate: (oldObj, newObj) => {
        fn(newObj);
        if (oldObj.metadata?.namespace !== newObj.metadata?.namespace) fn(oldObj);
      },
      onDelete: (obj) => fn(obj),
    });
    const ns = (obj: KubernetesObject) => obj.metadata?.namespace ?? "";

    // Workloads and pods decide which apps exist. Pod status changes do not matter, except
    // the phase (a finished pod is no longer an app source).
    for (const i of Object.values(this.workloads)) {
      (i as Informer<KubernetesObject>).addEventHandler(onNamespaceOf((o) => this.enqueueNamespace(ns(o))));
    }
    const settings = this.opts.sidecarDefaults ?? builtInSidecarDefaults;
    const trackStale = (p: V1Pod, gone = false) => {
      const key = `${ns(p)}/${p.metadata?.name}`;
      const s = gone ? undefined : staleSidecar(p, settings);
      if (s) this.stale.set(key, s);
      else this.stale.delete(key);
      this.metrics.staleSidecars.set(this.stale.size);
    };
    this.pods.addEventHandler({
      onAdd: (p) => {
        trackStale(p);
        this.enqueueNamespace(ns(p));
      },
      onDelete: (p) => {
        trackStale(p, true);
        this.enqueueNamespace(ns(p));
      },
      onUpdate: (a, b) => {
        trackStale(b);
        if (podIdentity(a) !== podIdentity(b)) this.enqueueNamespace(ns(b));
      },
    });

    this.components.addEventHandler(
      onNamespaceOf((c: Component) => {
        this.enqueueNamespace(ns(c));
        this.enqueueStatus("Component", c);
      }),
    );
    this.configurations.addEventHandler(
      onNamespaceOf((c: Configuration) => {
        this.enqueueNamespace(ns(c));
        this.enqueueStatus("Configuration", c);
      }),
    );

    this.secrets.addEventHandler(
      onNamespaceOf((s: V1Secret) => {
        const key = `${ns(s)}/${s.metadata?.name}`;
        this.writes.observe(`Secret/${key}`, s.metadata?.resourceVersion);
        const appId = s.metadata?.labels?.[APP_ID_LABEL];
        if (appId && s.metadata?.name === sidecarConfigSecretName(appId))
          this.queues?.apps.add(appKey(ns(s), appId));
        const users = [
          ...this.components.cache.byIndex(SECRET_REF_INDEX, key),
          ...this.configurations.cache.byIndex(SECRET_REF_INDEX, key),
        ];
        if (users.length > 0) this.enqueueNamespace(ns(s));
      }),
    );
    this.services.addEventHandler(
      onNamespaceOf((s: V1Service) => {
        this.writes.observe(`Service/${ns(s)}/${s.metadata?.name}`, s.metadata?.resourceVersion);
        const appId = s.metadata?.labels?.[APP_ID_LABEL];
        if (appId) this.queues?.apps.add(appKey(ns(s), appId));
      }),
    );
  }

  private namespacesWithApps(): Set<string> {
    const out = new Set<string>();
    for (const i of [this.pods, ...Object.values(this.workloads)] as Informer<KubernetesObject>[]) {
      for (const o of i.cache.list()) out.add(o.metadata?.namespace ?? "");
    }
    // Namespaces holding our objects too: their apps may be gone and need pruning.
    for (const s of this.services.cache.list()) out.add(s.metadata?.namespace ?? "");
    for (const s of this.secrets.cache.list()) if (isOurs(s)) out.add(s.metadata?.namespace ?? "");
    return out;
  }

  /** Queues every app of the namespace, present or just gone. */
  private enqueueNamespace(namespace: string): void {
    const { apps } = this.appsIn(namespace);
    const keys = new Set(apps.map((a) => appKey(a.namespace, a.appId)));
    // Apps that are gone but left objects of ours behind (also from before a restart): prune.
    const orphans = [
      ...leftoverSidecarConfigSecrets(this.secrets.cache.listNamespace(namespace), apps),
      ...leftoverAppServices(this.services.cache.listNamespace(namespace), apps),
    ];
    for (const o of orphans) keys.add(appKey(namespace, o.metadata?.labels?.[APP_ID_LABEL] ?? ""));
    for (const key of this.knownApps.get(namespace) ?? []) keys.add(key);
    for (const key of keys) this.queues?.apps.add(key);
  }

  private enqueueStatus(kind: StatusKind, obj: KubernetesObject): void {
    this.queues?.status.add(`${kind}/${obj.metadata?.namespace}/${obj.metadata?.name}`);
  }

  private appsIn(namespace: string): AppsResult {
    const inNs = <T extends KubernetesObject>(i: Informer<T>) => i.cache.listNamespace(namespace);
    return appsFromObjects({
      pods: inNs(this.pods),
      deployments: inNs(this.workloads.deployments),
      statefulSets: inNs(this.workloads.statefulSets),
      daemonSets: inNs(this.workloads.daemonSets),
      replicaSets: inNs(this.workloads.replicaSets),
      jobs: inNs(this.workloads.jobs),
      cronJobs: inNs(this.workloads.cronJobs),
    });
  }

  // --- Reconcilers -----------------------------------------------------------------------

  private async timed(controller: string, fn: () => Promise<void>): Promise<void> {
    const end = this.metrics.reconcileSeconds.startTimer({ controller });
    try {
      await fn();
      this.metrics.reconciles.inc({ controller, result: "success" });
    } catch (err) {
      this.metrics.reconciles.inc({ controller, result: "error" });
      throw err;
    } finally {
      end();
    }
  }

  private async reconcileApp(key: string): Promise<void> {
    const { namespace = "", name: appId } = splitKey(key);
    const log = this.log.child({ controller: "app", namespace, name: appId, reconcileID: randomUUID() });
    const found = this.appsIn(namespace);
    this.reportAppProblems(found);
    const app = found.apps.find((a) => a.appId === appId);
    const known = this.knownApps.get(namespace) ?? new Set<string>();
    const before = this.results.get(key);

    if (!app) {
      await this.deleteOurs(resources.secrets, namespace, sidecarConfigSecretName(appId), this.secrets, log);
      await this.deleteOurs(resources.services, namespace, appServiceName(appId), this.services, log);
      known.delete(key);
      this.results.delete(key);
    } else {
      known.add(key);
      const config = await this.applySidecarConfig(app, log);
      await this.applyService(app, log);
      this.results.set(key, { components: config.components, configuration: config.configuration });
    }
    if (known.size > 0) this.knownApps.set(namespace, known);
    else this.knownApps.delete(namespace);
    this.metrics.apps.set(this.results.size);
    this.metrics.components.set(this.components.cache.size());

    // Status depends on these results: queue the resources whose result for this app changed.
    const after = this.results.get(key);
    const names = (c: AppResult | undefined) => new Set(c?.components.map((r) => r.name) ?? []);
    for (const name of new Set([...names(before), ...names(after)])) {
      const was = before?.components.find((r) => r.name === name);
      const now = after?.components.find((r) => r.name === name);
      if (contentHash(was ?? null) !== contentHash(now ?? null))
        this.queues?.status.add(`Component/${namespace}/${name}`);
    }
    const cfgName = (c: AppResult | undefined) => c?.configuration.name;
    for (const name of new Set([cfgName(before), cfgName(after)])) {
      if (name && contentHash(before?.configuration ?? null) !== contentHash(after?.configuration ?? null))
        this.queues?.status.add(`Configuration/${namespace}/${name}`);
    }

    // Stale sidecars of the app: an Event per pod, and the status of what the app uses.
    const stale = this.staleOf(namespace, new Set([appId]));
    for (const s of stale) {
      await this.event(
        { kind: "Pod", apiVersion: "v1", namespace, name: s.pod },
        "Warning",
        STALE_SIDECAR_REASON,
        s.message,
      );
    }
    const fingerprint = contentHash(stale.map((s) => [s.pod, s.reasons]));
    if (this.staleSeen.get(key) !== fingerprint) {
      this.staleSeen.set(key, fingerprint);
      for (const r of after?.components ?? []) this.queues?.status.add(`Component/${namespace}/${r.name}`);
      const cfg = cfgName(after);
      if (cfg) this.queues?.status.add(`Configuration/${namespace}/${cfg}`);
    }
  }

  private async applySidecarConfig(app: App, log: Logger): Promise<SidecarConfig> {
    const { namespace } = app;
    const name = sidecarConfigSecretName(app.appId);
    const existing = this.secrets.cache.getByName(namespace, name);
    const configuration = app.configName
      ? this.configurations.cache.getByName(namespace, app.configName)
      : undefined;
    const config = desiredSidecarConfig(
      app,
      this.components.cache.listNamespace(namespace),
      configuration,
      (ns, n) => this.secrets.cache.getByName(ns, n),
      existing && isOurs(existing) ? existing : undefined,
    );
    const desired = sidecarConfigSecret(app, config);
    const trackKey = `Secret/${namespace}/${name}`;
    if (existing && !isOurs(existing)) {
      await this.event(
        { kind: "Secret", namespace, name, apiVersion: "v1" },
        "Warning",
        "ConflictingObject",
        `Secret ${namespace}/${name} exists without label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}; Outrigger leaves it alone and app ${app.appId} gets no sidecar config`,
      );
      return config;
    }
    if (this.writes.alreadyWritten(trackKey, config.hash)) return config;
    if (!existing) {
      const created = await this.write<V1Secret>(
        "secrets",
        "create",
        resources.secrets,
        namespace,
        undefined,
        desired,
        log,
      );
      this.writes.recordWrite(trackKey, created?.metadata?.resourceVersion, config.hash);
    } else if (needsUpdate(existing, desired)) {
      const updated = await this.write<V1Secret>(
        "secrets",
        "update",
        resources.secrets,
        namespace,
        name,
        secretForUpdate(existing, desired),
        log,
      );
      this.writes.recordWrite(trackKey, updated?.metadata?.resourceVersion, config.hash);
    }
    return config;
  }

  private async applyService(app: App, log: Logger): Promise<void> {
    const { namespace } = app;
    const name = appServiceName(app.appId);
    const desired = desiredAppService(app);
    const existing = this.services.cache.getByName(namespace, name);
    const trackKey = `Service/${namespace}/${name}`;
    const fingerprint = contentHash(desired);
    if (this.writes.alreadyWritten(trackKey, fingerprint)) return;
    const change = existing ? serviceChange(existing, desired) : "create";
    if (change === "none") return;
    if (change === "update") {
      const updated = await this.write<V1Service>(
        "services",
        "update",
        resources.services,
        namespace,
        name,
        serviceForUpdate(existing!, desired),
        log,
      );
      this.writes.recordWrite(trackKey, updated?.metadata?.resourceVersion, fingerprint);
      return;
    }
    // clusterIP cannot change in place: a Service of ours that is not headless is replaced.
    if (change === "recreate") await this.deleteOurs(resources.services, namespace, name, this.services, log);
    // A Service of that name without our label is not in our (label-selected) cache: the
    // create fails with AlreadyExists, which write() reports as a conflict.
    const created = await this.write<V1Service>(
      "services",
      "create",
      resources.services,
      namespace,
      undefined,
      desired,
      log,
    );
    this.writes.recordWrite(trackKey, created?.metadata?.resourceVersion, fingerprint);
  }

  private async reconcileStatus(key: string): Promise<void> {
    const [kind, namespace = "", name = ""] = key.split("/") as [StatusKind, string?, string?];
    const log = this.log.child({ controller: "status", kind, namespace, name, reconcileID: randomUUID() });
    const informer = kind === "Component" ? this.components : this.configurations;
    const obj = informer.cache.getByName(namespace, name) as DaprResource | undefined;
    if (!obj) return;
    const now = new Date(this.clock.now());
    const inNamespace = [...this.results.entries()].filter(([k]) => k.startsWith(`${namespace}/`));
    const configs = inNamespace.map(([, c]) => c);
    // The apps this resource reaches, for their stale sidecars.
    const reached = new Set(
      inNamespace
        .filter(([, c]) =>
          kind === "Component"
            ? c.components.some((r) => r.name === name && r.served !== "none")
            : c.configuration.name === name,
        )
        .map(([k]) => splitKey(k).name),
    );
    const previous = (obj as { status?: ResourceStatus }).status;
    const secrets: SecretLookup = (ns, n) => this.secrets.cache.getByName(ns, n);
    const base =
      kind === "Component"
        ? componentStatus(
            obj as Component,
            configs.flatMap((c) => c.components.filter((r) => r.name === name)),
            now,
            previous,
            resolveComponent(obj as Component, secrets),
          )
        : configurationStatus(
            obj as Configuration,
            configs.map((c) => c.configuration).filter((r) => r.name === name),
            now,
            previous,
            resolveConfiguration(obj as Configuration, secrets),
          );
    const next = withStaleSidecars(base, this.staleOf(namespace, reached), now, previous);
    const fingerprint = contentHash(next);
    const trackKey = `Status/${key}`;
    if (!statusChanged(previous, next) || this.writes.alreadyWritten(trackKey, fingerprint)) return;
    const rt = kind === "Component" ? resources.components : resources.configurations;
    const patched = await this.opts.http
      .json<KubernetesObject>({
        method: "PATCH",
        path: `${resourcePath(rt, namespace, name)}/status`,
        contentType: "application/merge-patch+json",
        body: { status: next },
      })
      .catch((err: unknown) => {
        if (isNotFound(err)) return undefined; // deleted meanwhile
        throw err;
      });
    this.metrics.writes.inc({ resource: "status", verb: "patch" });
    this.writes.recordWrite(trackKey, patched?.metadata?.resourceVersion, fingerprint);
    log.info({ ready: next.conditions?.[0]?.status, reason: next.conditions?.[0]?.reason }, "status updated");
  }

  /** Stale sidecars of the given apps of a namespace, sorted by pod name. */
  private staleOf(namespace: string, appIds: ReadonlySet<string>): StaleSidecar[] {
    return [...this.stale.values()]
      .filter((s) => s.namespace === namespace && appIds.has(s.appId))
      .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  }

  // --- Writes ------------------------------------------------------------------------------

  private async write<T extends KubernetesObject>(
    resource: string,
    verb: "create" | "update",
    rt: ResourceType,
    namespace: string,
    name: string | undefined,
    body: T,
    log: Logger,
  ): Promise<T | undefined> {
    try {
      const out = await this.opts.http.json<T>({
        method: verb === "create" ? "POST" : "PUT",
        path: resourcePath(rt, namespace, name),
        body,
      });
      this.metrics.writes.inc({ resource, verb });
      log.info({ resource, verb, object: body.metadata?.name }, "wrote object");
      return out;
    } catch (err) {
      if (verb === "create" && isAlreadyExists(err)) {
        // Either the cache is behind (our own earlier create) or the name is taken by an object
        // that is not ours. The next event or retry sorts out the first; report the second.
        const objName = body.metadata?.name ?? "";
        await this.event(
          {
            kind: rt.plural === "services" ? "Service" : "Secret",
            apiVersion: "v1",
            namespace,
            name: objName,
          },
          "Warning",
          "ConflictingObject",
          `${objName} already exists; Outrigger writes only objects labelled ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
        );
        return undefined;
      }
      throw err;
    }
  }

  private async deleteOurs<T extends KubernetesObject>(
    rt: ResourceType,
    namespace: string,
    name: string,
    informer: Informer<T>,
    log: Logger,
  ): Promise<void> {
    const existing = informer.cache.getByName(namespace, name);
    if (!existing || !isOurs(existing)) return;
    try {
      await this.opts.http.json({
        method: "DELETE",
        path: resourcePath(rt, namespace, name),
        // Only the object we saw: never one someone else re-created under that name.
        body: { kind: "DeleteOptions", apiVersion: "v1", preconditions: { uid: existing.metadata?.uid } },
      });
      this.metrics.writes.inc({ resource: rt.plural, verb: "delete" });
      log.info({ resource: rt.plural, object: name }, "deleted object of a removed app");
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.writes.forget(`${rt.plural === "services" ? "Service" : "Secret"}/${namespace}/${name}`);
  }

  private reportAppProblems(found: AppsResult): void {
    for (const c of found.conflicts) {
      const first = c.others[0];
      if (!first) continue;
      void this.event(
        { kind: first.kind, apiVersion: apiVersionOf(first.kind), namespace: c.namespace, name: first.name },
        "Warning",
        "AppConflict",
        c.message,
      );
    }
    for (const i of found.ignored) {
      void this.event(
        { kind: i.kind, apiVersion: apiVersionOf(i.kind), namespace: i.namespace, name: i.name },
        "Warning",
        i.reason,
        i.message,
      );
    }
  }

  /** Records a Kubernetes Event once per (object, reason, message) for this process. */
  private async event(
    involved: { kind: string; apiVersion: string; namespace: string; name: string },
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<void> {
    const dedupe = `${involved.kind}/${involved.namespace}/${involved.name}/${reason}/${message}`;
    if (this.reportedEvents.has(dedupe)) return;
    this.reportedEvents.add(dedupe);
    const now = new Date(this.clock.now()).toISOString();
    try {
      await this.opts.http.json({
        method: "POST",
        path: resourcePath(eventsResource, involved.namespace),
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: { generateName: `${involved.name}.`, namespace: involved.namespace },
          involvedObject: involved,
          reason,
          message,
          type,
          source: { component: "outrigger-controller" },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
      this.metrics.writes.inc({ resource: "events", verb: "create" });
    } catch (err) {
      this.reportedEvents.delete(dedupe);
      this.log.warn({ err, reason, involved }, "could not record event");
    }
  }
}

function apiVersionOf(kind: string): string {
  if (kind === "Pod") return "v1";
  if (kind === "Job" || kind === "CronJob") return "batch/v1";
  return "apps/v1";
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
