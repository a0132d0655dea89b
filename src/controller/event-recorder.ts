// Kubernetes Events about the objects the controller reads, recorded once per (object, reason,
// message) for as long as this process remembers it. The memory is bounded: past `capacity`
// the oldest entry is forgotten, and at worst that Event is recorded again later.
import type { Logger } from "pino";
import type { KubeHttp } from "../shared/kube-http.ts";
import type { Clock } from "./runtime/clock.ts";
import { resourcePath, type ResourceType } from "./runtime/resource.ts";

const eventsResource: ResourceType = { group: "", version: "v1", plural: "events", namespaced: true };

export interface InvolvedObject {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
}

export type EventType = "Normal" | "Warning";

/** What reconcilers need of the recorder; tests pass a list. */
export interface EventSink {
  record(involved: InvolvedObject, type: EventType, reason: string, message: string): Promise<void>;
}

export const DEFAULT_EVENT_MEMORY = 10_000;

export class EventRecorder implements EventSink {
  private readonly reported = new Set<string>();
  private readonly opts: {
    http: KubeHttp;
    log: Logger;
    clock: Clock;
    onWrite?: () => void;
    capacity?: number;
  };

  constructor(opts: EventRecorder["opts"]) {
    this.opts = opts;
  }

  /** How many (object, reason, message) it remembers now. */
  remembered(): number {
    return this.reported.size;
  }

  async record(involved: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const dedupe = `${involved.kind}/${involved.namespace}/${involved.name}/${reason}/${message}`;
    if (this.reported.has(dedupe)) return;
    this.reported.add(dedupe);
    // A Set iterates in insertion order: the first entry is the oldest.
    if (this.reported.size > (this.opts.capacity ?? DEFAULT_EVENT_MEMORY))
      this.reported.delete(this.reported.values().next().value as string);
    const now = new Date(this.opts.clock.now()).toISOString();
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
      this.opts.onWrite?.();
    } catch (err) {
      this.reported.delete(dedupe);
      this.opts.log.warn({ err, reason, involved }, "could not record event");
    }
  }
}
