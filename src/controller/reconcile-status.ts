// Reconcilers of the status of each kind Outrigger reports on (Component, Configuration; a new
// kind adds a StatusSpec). Key "namespace/name". The status is a pure function (desiredStatus) of
// the resource, the results of the apps of its namespace (AppResults), the stale sidecars of the
// apps it reaches and the clock; it is written only when it says something new.
import type { Logger } from "pino";
import type { V1Secret } from "@kubernetes/client-node";
import type { Component, Configuration, ResourceStatus, Subscription } from "../apis/types.ts";
import type { AppResult, AppResults } from "./app-results.ts";
import { contentHash } from "./hash.ts";
import type { OwnedWriter, StatusKind } from "./owned-writer.ts";
import { splitKey, type ObjectCacheReader } from "./runtime/cache.ts";
import type { ReconcileResult } from "./runtime/controller.ts";
import { deliveredKindSpec, type DeliveredKind, type DeliveredResource } from "./delivered-kinds.ts";
import { resolveComponent, resolveConfiguration, type SecretLookup } from "./sidecar-config.ts";
import type { StaleSidecar } from "./stale-sidecars.ts";
import { withStaleSidecars } from "./stale-sidecars.ts";
import { withUninjectedPods, type UninjectedPod } from "./uninjected-pods.ts";
import { componentStatus, configurationStatus, statusChanged, withPubsubCondition } from "./status.ts";
import { withAccessControlCondition } from "./access-control-status.ts";

type DaprResource = Component | Configuration | DeliveredResource;

/** What differs between the kinds whose status is reported. */
export interface StatusSpec<T extends DaprResource> {
  kind: StatusKind;
  /** Status from the resource, its entries in the apps' results and its own resolution. Pure. */
  status(
    obj: T,
    results: readonly AppResult[],
    now: Date,
    previous: ResourceStatus | undefined,
    secrets: SecretLookup,
  ): ResourceStatus;
  /** Whether an app's result reaches the resource named `name` (its stale sidecars count). */
  reaches(result: AppResult, name: string): boolean;
  /**
   * Whether the status reports what is found on the apps' pods (`staleSidecars` and
   * `SidecarsCurrent`, `uninjectedPods` and `SidecarsInjected`); the delivered kinds' schema has
   * no such fields.
   */
  podFindings: boolean;
}

export const componentStatusSpec: StatusSpec<Component> = {
  kind: "Component",
  status: (obj, results, now, previous, secrets) => {
    const name = obj.metadata?.name;
    return componentStatus(
      obj,
      results.flatMap((c) => c.components.filter((r) => r.name === name)),
      now,
      previous,
      resolveComponent(obj, secrets),
    );
  },
  reaches: (c, name) => c.components.some((r) => r.name === name && r.served !== "none"),
  podFindings: true,
};

/** Configurations; `mtlsEnabled` (the --mtls switch) decides the CallersIdentified condition. */
export function configurationStatusSpec(mtlsEnabled: boolean): StatusSpec<Configuration> {
  return {
    kind: "Configuration",
    status: (obj, results, now, previous, secrets) =>
      withAccessControlCondition(
        configurationStatus(
          obj,
          results.map((c) => c.configuration).filter((r) => r.name === obj.metadata?.name),
          now,
          previous,
          resolveConfiguration(obj, secrets),
        ),
        obj,
        mtlsEnabled,
        now,
        previous,
      ),
    reaches: (c, name) => c.configuration.name === name,
    podFindings: true,
  };
}

/**
 * Status of a Subscription, Resiliency or HTTPEndpoint: Ready, observedGeneration and appCount,
 * exactly as a Component's (the same scope rule, the same last good version).
 */
export function deliveredStatusSpec(kind: DeliveredKind): StatusSpec<DeliveredResource> {
  const spec = deliveredKindSpec(kind);
  return {
    kind,
    status: (obj, results, now, previous, secrets) => {
      const name = obj.metadata?.name;
      const mine = results.flatMap((c) => (c.resources?.[kind] ?? []).filter((r) => r.name === name));
      const status = componentStatus(obj, mine, now, previous, spec.resolve(obj, secrets));
      return kind === "Subscription"
        ? withPubsubCondition(status, obj as Subscription, mine, now, previous)
        : status;
    },
    reaches: (c, name) => (c.resources?.[kind] ?? []).some((r) => r.name === name && r.served !== "none"),
    podFindings: false,
  };
}

/**
 * What was found on the pods of some apps of one namespace (by app-id).
 */
export interface PodFindingsOf {
  stale(appIds: ReadonlySet<string>): StaleSidecar[];
  uninjected(appIds: ReadonlySet<string>): UninjectedPod[];
}

/**
 * The status `obj` should have now: from the results of the apps of its namespace (by app key),
 * with the stale sidecars and un-injected pods of the apps it reaches. Pure.
 */
export function desiredStatus<T extends DaprResource>(
  spec: StatusSpec<T>,
  obj: T,
  inNamespace: ReadonlyArray<[string, AppResult]>,
  found: PodFindingsOf,
  now: Date,
  secrets: SecretLookup,
): ResourceStatus {
  const name = obj.metadata?.name ?? "";
  const previous = (obj as { status?: ResourceStatus }).status;
  const reached = new Set(
    inNamespace.filter(([, c]) => spec.reaches(c, name)).map(([k]) => splitKey(k).name),
  );
  const base = spec.status(
    obj,
    inNamespace.map(([, c]) => c),
    now,
    previous,
    secrets,
  );
  if (!spec.podFindings) return base;
  const withStale = withStaleSidecars(base, found.stale(reached), now, previous);
  return withUninjectedPods(withStale, found.uninjected(reached), now, previous);
}

export interface StatusIO<T extends DaprResource> {
  cache: ObjectCacheReader<T>;
  secrets: ObjectCacheReader<V1Secret>;
  results: AppResults;
  staleOf(namespace: string, appIds: ReadonlySet<string>): StaleSidecar[];
  uninjectedOf(namespace: string, appIds: ReadonlySet<string>): UninjectedPod[];
  writer: OwnedWriter;
  now(): Date;
}

export async function reconcileStatus<T extends DaprResource>(
  spec: StatusSpec<T>,
  key: string,
  io: StatusIO<T>,
  log: Logger,
): Promise<ReconcileResult> {
  const { namespace = "", name } = splitKey(key);
  const obj = io.cache.getByName(namespace, name);
  if (!obj) return;
  const previous = (obj as { status?: ResourceStatus }).status;
  const next = desiredStatus(
    spec,
    obj,
    io.results.inNamespace(namespace),
    {
      stale: (appIds) => io.staleOf(namespace, appIds),
      uninjected: (appIds) => io.uninjectedOf(namespace, appIds),
    },
    io.now(),
    (ns, n) => io.secrets.getByName(ns, n),
  );
  const fingerprint = contentHash(next);
  const ref = { kind: spec.kind, namespace, name };
  if (!statusChanged(previous, next) || io.writer.alreadyWritten(ref, fingerprint)) return;
  await io.writer.patchStatus(ref, next, fingerprint);
  log.info({ ready: next.conditions?.[0]?.status, reason: next.conditions?.[0]?.reason }, "status updated");
}
