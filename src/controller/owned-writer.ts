// The one writer of the objects Outrigger owns (sidecar config Secrets, app Services) and of the
// status of the resources it reports on. It holds the rules every write follows:
//   - ownership: an object without our managed-by label is never updated or deleted; finding
//     one where ours should be is reported as a ConflictingObject Event;
//   - AlreadyExists on create is a normal outcome (our cache is behind, or the name is taken);
//   - write tracking (write-tracker.ts): content just written is not written again before the
//     cache has caught up with it.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ResourceStatus } from "../apis/types.ts";
import { isAlreadyExists, isNotFound } from "../shared/api-errors.ts";
import type { KubeHttp } from "../shared/kube-http.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../sidecar/config-secret.ts";
import type { EventSink } from "./event-recorder.ts";
import { resourcePath, resources, type ResourceType } from "./runtime/resource.ts";
import { isOurs } from "./sidecar-config.ts";
import type { DeliveredKind } from "./delivered-kinds.ts";
import { TerminalError } from "./runtime/queue.ts";
import { WriteTracker } from "./write-tracker.ts";

/** The kinds the writer writes, with where they live in the API. */
const KINDS = {
  Secret: { rt: resources.secrets, metric: "secrets" },
  Service: { rt: resources.services, metric: "services" },
  Component: { rt: resources.components, metric: "status" },
  Configuration: { rt: resources.configurations, metric: "status" },
  Subscription: { rt: resources.subscriptions, metric: "status" },
  Resiliency: { rt: resources.resiliencies, metric: "status" },
  HTTPEndpoint: { rt: resources.httpEndpoints, metric: "status" },
  MCPServer: { rt: resources.mcpServers, metric: "status" },
  WorkflowAccessPolicy: { rt: resources.workflowAccessPolicies, metric: "status" },
} as const;

export type OwnedKind = "Secret" | "Service";
export type StatusKind = "Component" | "Configuration" | DeliveredKind;

export interface ObjectRef<K extends string = OwnedKind | StatusKind> {
  kind: K;
  namespace: string;
  name: string;
}

const trackKey = (ref: ObjectRef) =>
  ref.kind === "Secret" || ref.kind === "Service"
    ? `${ref.kind}/${ref.namespace}/${ref.name}`
    : `Status/${ref.kind}/${ref.namespace}/${ref.name}`;

export interface OwnedWriterOptions {
  http: KubeHttp;
  events: EventSink;
  /** Counts a write by resource (secrets, services, status) and verb. */
  onWrite?: (resource: string, verb: "create" | "update" | "delete" | "patch") => void;
}

export class OwnedWriter {
  private readonly writes = new WriteTracker();
  private readonly opts: OwnedWriterOptions;

  constructor(opts: OwnedWriterOptions) {
    this.opts = opts;
  }

  /**
   * Call for every object (or status) the cache receives: our pending writes catch up. Returns
   * whether it is our own write coming back.
   */
  observe(ref: ObjectRef, resourceVersion: string | undefined): boolean {
    return this.writes.observe(trackKey(ref), resourceVersion);
  }

  /** Drops what is remembered of an object (it is gone). */
  forget(ref: ObjectRef): void {
    this.writes.forget(trackKey(ref));
  }

  /** Writes pending for the cache to catch up with (bounded by the objects we write). */
  pending(): number {
    return this.writes.size();
  }

  /** Whether we wrote exactly this content and the cache has not caught up yet. */
  alreadyWritten(ref: ObjectRef, fingerprint: string): boolean {
    return this.writes.alreadyWritten(trackKey(ref), fingerprint);
  }

  /** Reports an object of ours that exists without our label; it is left alone. */
  async conflict(ref: ObjectRef<OwnedKind>, message: string): Promise<void> {
    await this.opts.events.record(
      { kind: ref.kind, apiVersion: "v1", namespace: ref.namespace, name: ref.name },
      "Warning",
      "ConflictingObject",
      message,
    );
  }

  /** Creates the object; AlreadyExists is reported as a conflict and is not an error. */
  async create<T extends KubernetesObject>(
    ref: ObjectRef<OwnedKind>,
    body: T,
    fingerprint: string,
    log: Logger,
  ): Promise<void> {
    try {
      const out = await this.opts.http.json<T>({
        method: "POST",
        path: resourcePath(KINDS[ref.kind].rt, ref.namespace),
        body,
      });
      this.opts.onWrite?.(KINDS[ref.kind].metric, "create");
      log.info({ resource: KINDS[ref.kind].metric, verb: "create", object: ref.name }, "wrote object");
      this.writes.recordWrite(trackKey(ref), out?.metadata?.resourceVersion, fingerprint);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Either the cache is behind (our own earlier create) or the name is taken by an object
      // that is not ours. The next event or retry sorts out the first; report the second.
      await this.conflict(
        ref,
        `${ref.name} already exists; Outrigger writes only objects labelled ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      );
    }
  }

  /** Replaces an object of ours (`existing` must carry our label). */
  async update<T extends KubernetesObject>(
    ref: ObjectRef<OwnedKind>,
    existing: T,
    body: T,
    fingerprint: string,
    log: Logger,
  ): Promise<void> {
    // A caller's mistake that no retry fixes: the object must not be touched.
    if (!isOurs(existing))
      throw new TerminalError(`${ref.kind} ${ref.namespace}/${ref.name} is not ours to update`);
    const out = await this.opts.http.json<T>({
      method: "PUT",
      path: resourcePath(KINDS[ref.kind].rt, ref.namespace, ref.name),
      body,
    });
    this.opts.onWrite?.(KINDS[ref.kind].metric, "update");
    log.info({ resource: KINDS[ref.kind].metric, verb: "update", object: ref.name }, "wrote object");
    this.writes.recordWrite(trackKey(ref), out?.metadata?.resourceVersion, fingerprint);
  }

  /** Deletes `existing` if it is ours: only that object (its uid), never a successor. */
  async deleteOurs(
    ref: ObjectRef<OwnedKind>,
    existing: KubernetesObject | undefined,
    log: Logger,
  ): Promise<void> {
    if (!existing || !isOurs(existing)) {
      // Nothing of ours in the cache; a write of ours on its way must bring this reconcile back.
      this.writes.readBehind(trackKey(ref));
      return;
    }
    const rt: ResourceType = KINDS[ref.kind].rt;
    try {
      await this.opts.http.json({
        method: "DELETE",
        path: resourcePath(rt, ref.namespace, ref.name),
        body: { kind: "DeleteOptions", apiVersion: "v1", preconditions: { uid: existing.metadata?.uid } },
      });
      this.opts.onWrite?.(rt.plural, "delete");
      log.info({ resource: rt.plural, object: ref.name }, "deleted object of a removed app");
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.forget(ref);
  }

  /** Merge-patches the status subresource; a resource deleted meanwhile is not an error. */
  async patchStatus(ref: ObjectRef<StatusKind>, status: ResourceStatus, fingerprint: string): Promise<void> {
    const patched = await this.opts.http
      .json<KubernetesObject>({
        method: "PATCH",
        path: `${resourcePath(KINDS[ref.kind].rt, ref.namespace, ref.name)}/status`,
        contentType: "application/merge-patch+json",
        body: { status },
      })
      .catch((err: unknown) => {
        if (isNotFound(err)) return undefined; // deleted meanwhile
        throw err;
      });
    this.opts.onWrite?.("status", "patch");
    this.writes.recordWrite(trackKey(ref), patched?.metadata?.resourceVersion, fingerprint);
  }
}
