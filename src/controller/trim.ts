// What the controller keeps of each watched object. Informers hold every Pod, workload, Secret
// and Dapr resource of the cluster; most of their bytes are fields no reconciler reads (pod
// specs, container lists, managedFields, kubectl's last-applied copy). Trimming them as they are
// decoded, before they reach the cache, is what keeps the controller's memory proportional to
// what it uses. Pure; each function keeps every field its readers use (see trim.test.ts, which
// checks that apps, stale sidecars and sidecar configs come out the same from trimmed objects).
import type {
  KubernetesObject,
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1Job,
  V1ObjectMeta,
  V1Pod,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1StatefulSet,
} from "@kubernetes/client-node";
import { daprdStartStatus } from "./configuration-change.ts";
import { LAST_APPLIED } from "../shared/metadata-protobuf.ts";

/** Metadata without managedFields: kept by the API server, read by no one here. */
export function metadataWithoutManagedFields(meta: V1ObjectMeta | undefined): V1ObjectMeta | undefined {
  if (!meta?.managedFields) return meta;
  const { managedFields: _managedFields, ...rest } = meta;
  return rest;
}

/** Metadata without managedFields and kubectl's last-applied copy of the whole object. */
function readMetadata(meta: V1ObjectMeta | undefined): V1ObjectMeta | undefined {
  const out = metadataWithoutManagedFields(meta);
  if (out?.annotations?.[LAST_APPLIED] === undefined) return out;
  const { [LAST_APPLIED]: _lastApplied, ...annotations } = out.annotations;
  return { ...out, annotations };
}

/** Any object without managedFields: for objects the controller writes back (its Secrets and Services). */
export function withoutManagedFields<T extends KubernetesObject>(obj: T): T {
  return obj.metadata?.managedFields ? { ...obj, metadata: metadataWithoutManagedFields(obj.metadata) } : obj;
}

/** A Component or Configuration as the reconcilers read it: everything but bookkeeping metadata. */
export function trimmedDaprResource<T extends KubernetesObject>(obj: T): T {
  return { ...obj, metadata: readMetadata(obj.metadata) };
}

/** A pod template with only its metadata: annotations say whether and how a sidecar is injected. */
function templateMetadata(t: V1PodTemplateSpec | undefined): V1PodTemplateSpec | undefined {
  return t && { metadata: readMetadata(t.metadata) ?? {} };
}

/**
 * A pod as app discovery and stale-sidecar tracking read it: metadata, phase, and when its daprd
 * started (to tell whether it predates its app's Configuration).
 */
export function trimmedPod(pod: V1Pod): V1Pod {
  const phase = pod.status?.phase;
  const daprd = daprdStartStatus(pod);
  const status = {
    ...(phase === undefined ? {} : { phase }),
    ...(daprd === undefined ? {} : { containerStatuses: [daprd] }),
  };
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: readMetadata(pod.metadata),
    ...(Object.keys(status).length === 0 ? {} : { status }),
  };
}

type Workload = V1Deployment | V1StatefulSet | V1DaemonSet | V1ReplicaSet | V1Job;

/**
 * A Deployment, StatefulSet, DaemonSet, ReplicaSet or Job as app discovery reads it: metadata,
 * selector, replicas, the pod template's metadata, and a Job's conditions.
 */
export function trimmedWorkload<T extends Workload>(w: T): T {
  const spec = w.spec as { selector?: unknown; replicas?: number; template?: V1PodTemplateSpec } | undefined;
  const conditions = (w as V1Job).status?.conditions;
  return {
    apiVersion: w.apiVersion,
    kind: w.kind,
    metadata: readMetadata(w.metadata),
    ...(spec === undefined
      ? {}
      : {
          spec: {
            selector: spec.selector,
            ...(spec.replicas === undefined ? {} : { replicas: spec.replicas }),
            template: templateMetadata(spec.template),
          },
        }),
    ...(conditions === undefined ? {} : { status: { conditions } }),
  } as T;
}

/** A CronJob as app discovery reads it: metadata and its Jobs' pod template metadata. */
export function trimmedCronJob(c: V1CronJob): V1CronJob {
  const template = c.spec?.jobTemplate?.spec?.template;
  return {
    apiVersion: c.apiVersion,
    kind: c.kind,
    metadata: readMetadata(c.metadata),
    ...(c.spec === undefined
      ? {}
      : {
          spec: {
            schedule: c.spec.schedule,
            jobTemplate: { spec: { template: templateMetadata(template) ?? {} } },
          },
        }),
  } as V1CronJob;
}

/** What the informers keep of each kind, by kind (the Manager's transforms, the golden cases). */
export const trimmedByKind: Readonly<Record<string, <T extends KubernetesObject>(obj: T) => T>> = {
  Pod: (o) => trimmedPod(o as V1Pod) as unknown as typeof o,
  Deployment: (o) => trimmedWorkload(o as unknown as Workload) as unknown as typeof o,
  StatefulSet: (o) => trimmedWorkload(o as unknown as Workload) as unknown as typeof o,
  DaemonSet: (o) => trimmedWorkload(o as unknown as Workload) as unknown as typeof o,
  ReplicaSet: (o) => trimmedWorkload(o as unknown as Workload) as unknown as typeof o,
  Job: (o) => trimmedWorkload(o as unknown as Workload) as unknown as typeof o,
  CronJob: (o) => trimmedCronJob(o as unknown as V1CronJob) as unknown as typeof o,
  Component: (o) => trimmedDaprResource(o),
  Configuration: (o) => trimmedDaprResource(o),
  Subscription: (o) => trimmedDaprResource(o),
  Resiliency: (o) => trimmedDaprResource(o),
  HTTPEndpoint: (o) => trimmedDaprResource(o),
  MCPServer: (o) => trimmedDaprResource(o),
  WorkflowAccessPolicy: (o) => trimmedDaprResource(o),
  Secret: (o) => withoutManagedFields(o),
  Service: (o) => withoutManagedFields(o),
};
