// Apps: which (namespace, app-id) pairs need a sidecar config and a `<app-id>-dapr` Service,
// computed from pods and workloads. Pure: the caller lists the objects, this decides.
//
// The rules (docs/sidecar-config.md, "Apps") in short:
// - an object is a candidate when its pod template (or the pod) is annotated `dapr.io/enabled`
//   true, it is still active (not a finished Job or Pod, not a ReplicaSet a Deployment scaled to
//   zero) and it has a valid app-id;
// - a candidate whose controlling owner chain (within the given objects) reaches a candidate
//   with the same app-id is covered by it and is not a source of its own. So the pods and
//   ReplicaSets of a Deployment never conflict with it, even in the middle of a rollout;
// - the sources of one app are sorted by `Kind/name`; the first decides the Configuration name
//   and the sidecar settings. Sources that name another Configuration are reported as a conflict.

import type {
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1Job,
  V1LabelSelector,
  V1ObjectMeta,
  V1Pod,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1StatefulSet,
} from "@kubernetes/client-node";
import { annotations } from "../sidecar/annotations.ts";
import { defaultAppId } from "../sidecar/resolve.ts";
import { APP_ID_LABEL } from "../sidecar/config-secret.ts";

export type WorkloadKind = "CronJob" | "DaemonSet" | "Deployment" | "Job" | "ReplicaSet" | "StatefulSet";
export type SourceKind = WorkloadKind | "Pod";

/** Everything that can ask for an app. Objects of any namespace; missing lists are empty. */
export interface AppObjects {
  pods?: readonly V1Pod[];
  deployments?: readonly V1Deployment[];
  statefulSets?: readonly V1StatefulSet[];
  daemonSets?: readonly V1DaemonSet[];
  replicaSets?: readonly V1ReplicaSet[];
  jobs?: readonly V1Job[];
  cronJobs?: readonly V1CronJob[];
}

/** One object that asks for an app. */
export interface AppSource {
  kind: SourceKind;
  name: string;
  /** `dapr.io/config` of this source; undefined when not set. */
  configName: string | undefined;
}

export interface App {
  namespace: string;
  appId: string;
  /** The Configuration to render, from the deciding source; undefined: the default Configuration. */
  configName: string | undefined;
  /** Selector of the `<app-id>-dapr` Service (see `serviceSelector` for the rule). */
  selector: Record<string, string>;
  /** All sources, sorted by `Kind/name`. The first one decides. */
  sources: AppSource[];
  /** Pod (template) annotations of the deciding source: the sidecar ports come from them. */
  podAnnotations: Record<string, string>;
}

/** Sources of one app that name different Configurations. Report it as an Event; `chosen` won. */
export interface AppConflict {
  namespace: string;
  appId: string;
  chosen: AppSource;
  /** Sources whose Configuration differs from `chosen`'s. */
  others: AppSource[];
  message: string;
}

export type IgnoredReason = "MissingAppId" | "InvalidAppId" | "InvalidAnnotation";

/** An enabled, active object that cannot be an app. Report it as an Event on the object. */
export interface IgnoredSource {
  namespace: string;
  kind: SourceKind;
  name: string;
  reason: IgnoredReason;
  message: string;
}

export interface AppsResult {
  /** Sorted by namespace, then app-id. */
  apps: App[];
  conflicts: AppConflict[];
  ignored: IgnoredSource[];
}

/** The work-queue key of an app. */
export function appKey(namespace: string, appId: string): string {
  return `${namespace}/${appId}`;
}

interface Candidate {
  kind: SourceKind;
  meta: V1ObjectMeta;
  namespace: string;
  name: string;
  podAnnotations: Record<string, string>;
  /** Labels of the workload's pod template; undefined for a pod. */
  podTemplateLabels: Record<string, string> | undefined;
  /** The workload's own selector or, for a pod, undefined. */
  workloadSelector: Record<string, string> | undefined;
  active: boolean;
  identity:
    | { ok: true; appId: string; configName: string | undefined }
    | { ok: false; ignored: IgnoredSource }
    | undefined;
}

export function appsFromObjects(objects: AppObjects): AppsResult {
  const candidates = [
    ...(objects.deployments ?? []).map((o) =>
      candidate("Deployment", o.metadata, o.spec?.template, matchLabelsOnly(o.spec?.selector), true),
    ),
    ...(objects.statefulSets ?? []).map((o) =>
      candidate("StatefulSet", o.metadata, o.spec?.template, matchLabelsOnly(o.spec?.selector), true),
    ),
    ...(objects.daemonSets ?? []).map((o) =>
      candidate("DaemonSet", o.metadata, o.spec?.template, matchLabelsOnly(o.spec?.selector), true),
    ),
    ...(objects.replicaSets ?? []).map((o) =>
      candidate(
        "ReplicaSet",
        o.metadata,
        o.spec?.template,
        matchLabelsOnly(o.spec?.selector),
        !isDeploymentHistory(o),
      ),
    ),
    ...(objects.jobs ?? []).map((o) =>
      candidate("Job", o.metadata, o.spec?.template, matchLabelsOnly(o.spec?.selector), !isFinishedJob(o)),
    ),
    ...(objects.cronJobs ?? []).map((o) => {
      const template = o.spec?.jobTemplate?.spec?.template;
      // Each Job of a CronJob gets its own generated selector, so the template labels are what they share.
      return candidate("CronJob", o.metadata, template, nonEmpty(template?.metadata?.labels), true);
    }),
    ...(objects.pods ?? []).map((o) =>
      candidate("Pod", o.metadata, { metadata: o.metadata }, undefined, !isFinishedPod(o)),
    ),
  ];

  const byOwnerKey = new Map<string, Candidate>();
  for (const c of candidates) {
    byOwnerKey.set(ownerKey(c.namespace, c.kind, c.name), c);
    if (c.meta.uid) byOwnerKey.set(`uid:${c.meta.uid}`, c);
  }
  const controllerOf = (c: Candidate): Candidate | undefined => {
    const ref = (c.meta.ownerReferences ?? []).find((r) => r.controller === true);
    if (!ref) return undefined;
    const owner =
      byOwnerKey.get(`uid:${ref.uid}`) ?? byOwnerKey.get(ownerKey(c.namespace, ref.kind, ref.name));
    return owner && owner.namespace === c.namespace && owner !== c ? owner : undefined;
  };

  const groups = new Map<string, { namespace: string; appId: string; members: Candidate[] }>();
  const ignored: IgnoredSource[] = [];
  for (const c of candidates) {
    if (!c.active || c.identity === undefined) continue;
    if (!c.identity.ok) {
      // Report only the top of an ownership chain: the Deployment, not each of its ReplicaSets.
      const owner = controllerOf(c);
      if (!owner || !owner.active || owner.identity === undefined) ignored.push(c.identity.ignored);
      continue;
    }
    if (isCovered(c, c.identity.appId, controllerOf)) continue;
    const key = appKey(c.namespace, c.identity.appId);
    const group = groups.get(key) ?? { namespace: c.namespace, appId: c.identity.appId, members: [] };
    group.members.push(c);
    groups.set(key, group);
  }

  const apps: App[] = [];
  const conflicts: AppConflict[] = [];
  for (const { namespace, appId, members } of groups.values()) {
    members.sort((a, b) => compareStrings(sourceLabel(a), sourceLabel(b)));
    const sources = members.map(toSource);
    const decider = members[0];
    const chosen = sources[0];
    if (!decider || !chosen) continue;
    const others = sources.filter((s) => s.configName !== chosen.configName);
    if (others.length > 0) {
      conflicts.push({
        namespace,
        appId,
        chosen,
        others,
        message:
          `app-id ${appId} is used by ${sources.map(describeSource).join(", ")}, which name different ` +
          `Configurations; using ${describeSource(chosen)} (first by kind/name)`,
      });
    }
    apps.push({
      namespace,
      appId,
      configName: chosen.configName,
      selector: serviceSelector(appId, members),
      sources,
      podAnnotations: { ...decider.podAnnotations },
    });
  }
  apps.sort((a, b) => compareStrings(a.namespace, b.namespace) || compareStrings(a.appId, b.appId));
  conflicts.sort((a, b) => compareStrings(a.namespace, b.namespace) || compareStrings(a.appId, b.appId));
  ignored.sort(
    (a, b) =>
      compareStrings(a.namespace, b.namespace) ||
      compareStrings(`${a.kind}/${a.name}`, `${b.kind}/${b.name}`),
  );
  return { apps, conflicts, ignored };
}

/**
 * The Service selector. One workload: its own `matchLabels`, as Dapr does, or its pod template
 * labels when it has none. A bare pod, several sources, or nothing usable: the `dapr.io/app-id`
 * label the injector puts on every injected pod, which selects exactly the app's sidecars.
 */
function serviceSelector(appId: string, members: Candidate[]): Record<string, string> {
  const only = members.length === 1 ? members[0] : undefined;
  if (only && only.kind !== "Pod") {
    const fromWorkload = only.workloadSelector ?? nonEmpty(only.podTemplateLabels);
    if (fromWorkload) return { ...fromWorkload };
  }
  return { [APP_ID_LABEL]: appId };
}

function isCovered(
  c: Candidate,
  appId: string,
  controllerOf: (c: Candidate) => Candidate | undefined,
): boolean {
  const seen = new Set<Candidate>([c]);
  for (let owner = controllerOf(c); owner && !seen.has(owner); owner = controllerOf(owner)) {
    seen.add(owner);
    if (owner.active && owner.identity?.ok === true && owner.identity.appId === appId) return true;
  }
  return false;
}

function candidate(
  kind: SourceKind,
  meta: V1ObjectMeta | undefined,
  template: V1PodTemplateSpec | undefined,
  workloadSelector: Record<string, string> | undefined,
  active: boolean,
): Candidate {
  const m = meta ?? {};
  const podAnnotations = template?.metadata?.annotations ?? {};
  const namespace = m.namespace ?? "";
  const name = m.name ?? "";
  return {
    kind,
    meta: m,
    namespace,
    name,
    podAnnotations,
    podTemplateLabels: kind === "Pod" ? undefined : template?.metadata?.labels,
    workloadSelector,
    active,
    identity: identityOf(kind, namespace, name, podAnnotations),
  };
}

function identityOf(
  kind: SourceKind,
  namespace: string,
  name: string,
  podAnnotations: Record<string, string>,
): Candidate["identity"] {
  const enabledRaw = podAnnotations[annotations.enabled.key];
  // An unparseable value is not "enabled": the injector denies such pods, so no sidecar needs a config.
  const enabled = enabledRaw !== undefined && annotations.enabled.parser.parse(enabledRaw);
  if (!enabled || !enabled.ok || !enabled.value) return undefined;
  const ignore = (reason: IgnoredReason, message: string) => ({
    ok: false as const,
    ignored: { namespace, kind, name, reason, message },
  });

  const rawId = podAnnotations[annotations.appId.key];
  let appId: string;
  if (rawId !== undefined) {
    const parsed = annotations.appId.parser.parse(rawId);
    if (!parsed.ok) return ignore("InvalidAppId", `${annotations.appId.key}: "${rawId}" ${parsed.problem}`);
    appId = parsed.value;
  } else if (kind === "Pod") {
    // The injector's default: the pod's name.
    const defaulted = defaultAppId(name);
    if (defaulted.kind !== "ok")
      return ignore(
        "InvalidAppId",
        `pod name "${name}", used as its app-id, ${defaulted.kind === "invalid" ? defaulted.problem : "is empty"}; set ${annotations.appId.key}`,
      );
    appId = defaulted.appId;
  } else if (kind === "StatefulSet") {
    // Its pods have names at admission, so each becomes an app named after the pod; nothing to report.
    return undefined;
  } else {
    return ignore(
      "MissingAppId",
      `${annotations.appId.key} is not set; the injector denies pods that have only generateName without it`,
    );
  }

  const rawConfig = podAnnotations[annotations.config.key];
  let configName: string | undefined;
  if (rawConfig !== undefined) {
    const parsed = annotations.config.parser.parse(rawConfig);
    if (!parsed.ok)
      return ignore("InvalidAnnotation", `${annotations.config.key}: "${rawConfig}" ${parsed.problem}`);
    configName = parsed.value;
  }
  return { ok: true, appId, configName };
}

/** Service selectors are plain label maps, so only a selector made of matchLabels alone can be copied. */
function matchLabelsOnly(selector: V1LabelSelector | undefined): Record<string, string> | undefined {
  if (!selector || (selector.matchExpressions?.length ?? 0) > 0) return undefined;
  return nonEmpty(selector.matchLabels);
}

function nonEmpty(labels: Record<string, string> | undefined): Record<string, string> | undefined {
  return labels && Object.keys(labels).length > 0 ? labels : undefined;
}

/** A ReplicaSet a Deployment scaled to zero is revision history; its Deployment decides. */
function isDeploymentHistory(rs: V1ReplicaSet): boolean {
  const controlledByDeployment = (rs.metadata?.ownerReferences ?? []).some(
    (r) => r.controller === true && r.kind === "Deployment",
  );
  return controlledByDeployment && rs.spec?.replicas === 0;
}

function isFinishedJob(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some(
    (c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
  );
}

function isFinishedPod(pod: V1Pod): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}

function ownerKey(namespace: string, kind: string, name: string): string {
  return `${namespace}/${kind}/${name}`;
}

function sourceLabel(c: Candidate): string {
  return `${c.kind}/${c.name}`;
}

function toSource(c: Candidate): AppSource {
  return { kind: c.kind, name: c.name, configName: c.identity?.ok ? c.identity.configName : undefined };
}

function describeSource(s: AppSource): string {
  return `${s.kind}/${s.name} (${s.configName === undefined ? "no dapr.io/config" : `config ${s.configName}`})`;
}

/** Plain code-unit order: the same in every locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
