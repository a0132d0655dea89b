// In-process fakes for the reconciler tests: an API that records requests and answers with a
// resourceVersion, and an Event sink that keeps what was recorded. Test-only.
import type { KubernetesObject } from "@kubernetes/client-node";
import pino from "pino";
import { KubeApiError } from "../shared/api-errors.ts";
import type { KubeHttp, KubeRequest } from "../shared/kube-http.ts";
import type { EventSink, EventType, InvolvedObject } from "./event-recorder.ts";
import { OwnedWriter } from "./owned-writer.ts";

export const silentLog = pino({ level: "silent" });

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

/** An API server stand-in: every request is recorded; `fail` decides which ones throw. */
export function fakeHttp(fail: (req: KubeRequest) => number | undefined = () => undefined) {
  const requests: RecordedRequest[] = [];
  let rv = 100;
  const http: KubeHttp = {
    async json<T>(req: KubeRequest): Promise<T> {
      requests.push({ method: req.method ?? "GET", path: req.path, body: req.body });
      const code = fail(req);
      if (code !== undefined)
        throw new KubeApiError(code, { reason: code === 409 ? "AlreadyExists" : "Failed", code });
      const body = (req.body ?? {}) as KubernetesObject;
      return { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } } as T;
    },
    async chunks() {
      throw new Error("no watches in reconciler tests");
    },
  };
  return { http, requests, writes: () => requests.filter((r) => r.method !== "GET") };
}

export interface RecordedEvent {
  involved: InvolvedObject;
  type: EventType;
  reason: string;
  message: string;
}

export function fakeEvents(): EventSink & { events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  return {
    events,
    async record(involved, type, reason, message) {
      events.push({ involved, type, reason, message });
    },
  };
}

/** A writer over a fake API, and what it recorded. */
export function fakeWriter(fail?: (req: KubeRequest) => number | undefined) {
  const api = fakeHttp(fail);
  const events = fakeEvents();
  return { writer: new OwnedWriter({ http: api.http, events }), api, events };
}
