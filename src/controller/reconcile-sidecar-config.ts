// Reconciler of one output: an app's sidecar config Secret. Key "namespace/appId".
// gather (caches) → render (pure: renderSidecarConfig) → write only if different (OwnedWriter)
// → record the app's results (AppResults), whose changes queue the status reconcilers.
import type { Logger } from "pino";
import type { V1Secret } from "@kubernetes/client-node";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, sidecarConfigSecretName } from "../sidecar/config-secret.ts";
import type { App, AppsResult } from "./apps.ts";
import type { AppResults, ResourceRef } from "./app-results.ts";
import { appsIn, deliveredCaches, type ControllerCaches, type DeliveredCacheName } from "./caches.ts";
import { withConfigurationChangedAt } from "./configuration-change.ts";
import type { EventSink } from "./event-recorder.ts";
import type { OwnedWriter } from "./owned-writer.ts";
import { NO_MEMO, type RenderMemo } from "./render-memo.ts";
import { splitKey } from "./runtime/cache.ts";
import type { ReconcileResult } from "./runtime/controller.ts";
import {
  desiredSidecarConfig,
  isOurs,
  needsUpdate,
  secretForUpdate,
  sidecarConfigSecret,
  type SidecarConfig,
} from "./sidecar-config.ts";

/**
 * The app's sidecar config and its Secret, from what the caches hold: the Components of its
 * namespace, its Configuration, the Secrets they reference and the Secret it has now (the last
 * good version of what no longer renders). Pure; the golden cases call it too.
 */
export function renderSidecarConfig(
  app: App,
  caches: Pick<ControllerCaches, "components" | "configurations" | "secrets" | DeliveredCacheName>,
  previous: V1Secret | undefined = caches.secrets.getByName(
    app.namespace,
    sidecarConfigSecretName(app.appId),
  ),
  memo: RenderMemo = NO_MEMO,
): { config: SidecarConfig; secret: V1Secret } {
  const configuration = app.configName
    ? caches.configurations.getByName(app.namespace, app.configName)
    : undefined;
  const config = desiredSidecarConfig(
    app,
    caches.components.listNamespace(app.namespace),
    configuration,
    (ns, n) => caches.secrets.getByName(ns, n),
    previous && isOurs(previous) ? previous : undefined,
    Object.fromEntries(
      Object.entries(deliveredCaches(caches)).map(([kind, cache]) => [
        kind,
        cache.listNamespace(app.namespace),
      ]),
    ),
    memo,
  );
  return { config, secret: sidecarConfigSecret(app, config) };
}

export interface SidecarConfigIO {
  caches: ControllerCaches;
  results: AppResults;
  writer: OwnedWriter;
  events: EventSink;
  /** What rendering each resource gave, for the next app it reaches. */
  memo: RenderMemo;
  /** Reads a Secret from the API server (the cache holds sidecar configs without their data). */
  readSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** The resources whose status depends on what changed in this app's results. */
  onResultsChanged(changed: ResourceRef[]): void;
  now(): Date;
}

export async function reconcileSidecarConfig(
  key: string,
  io: SidecarConfigIO,
  log: Logger,
): Promise<ReconcileResult> {
  const { namespace = "", name: appId } = splitKey(key);
  const found = appsIn(io.caches, namespace);
  reportAppProblems(found, io.events);
  const app = found.apps.find((a) => a.appId === appId);
  const ref = { kind: "Secret" as const, namespace, name: sidecarConfigSecretName(appId) };
  const existing = io.caches.secrets.getByName(namespace, ref.name);
  if (!app) {
    await io.writer.deleteOurs(ref, existing, log);
    io.onResultsChanged(io.results.set(namespace, key, undefined));
    return;
  }
  let { config, secret: rendered } = renderSidecarConfig(app, io.caches, existing, io.memo);
  if (config.previousDataMissing) {
    // A broken resource keeps its last good version, which only the whole Secret has.
    const whole = await io.readSecret(namespace, ref.name);
    ({ config, secret: rendered } = renderSidecarConfig(app, io.caches, whole, io.memo));
  }
  const desired = withConfigurationChangedAt(rendered, existing, io.now());
  if (existing && !isOurs(existing)) {
    await io.writer.conflict(
      ref,
      `Secret ${namespace}/${ref.name} exists without label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}; Outrigger leaves it alone and app ${app.appId} gets no sidecar config`,
    );
  } else if (!io.writer.alreadyWritten(ref, config.hash)) {
    if (!existing) await io.writer.create(ref, desired, config.hash, log);
    else if (needsUpdate(existing, desired))
      await io.writer.update(ref, existing, secretForUpdate(existing, desired), config.hash, log);
  }
  io.onResultsChanged(
    io.results.set(namespace, key, {
      components: config.components,
      configuration: config.configuration,
      resources: config.resources,
    }),
  );
}

/** Events on the workloads and pods that could not become an app, or that claim one app twice. */
function reportAppProblems(found: AppsResult, events: EventSink): void {
  for (const c of found.conflicts) {
    const first = c.others[0];
    if (!first) continue;
    void events.record(
      { kind: first.kind, apiVersion: apiVersionOf(first.kind), namespace: c.namespace, name: first.name },
      "Warning",
      "AppConflict",
      c.message,
    );
  }
  for (const i of found.ignored) {
    void events.record(
      { kind: i.kind, apiVersion: apiVersionOf(i.kind), namespace: i.namespace, name: i.name },
      "Warning",
      i.reason,
      i.message,
    );
  }
}

function apiVersionOf(kind: string): string {
  if (kind === "Pod") return "v1";
  if (kind === "Job" || kind === "CronJob") return "batch/v1";
  return "apps/v1";
}
