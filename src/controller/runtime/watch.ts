// List and watch one resource type: the two calls an informer is built on, with the query
// parameters that make them trustworthy (resourceVersion, bookmarks, server-side timeouts, pages).
// Expected stream endings are values; errors (including 410 in either form) are thrown.
import type { KubernetesObject } from "@kubernetes/client-node";
import { KubeApiError, isGone, parseStatus } from "../../shared/api-errors.ts";
import {
  lineReader,
  streamLines,
  type BodyReader,
  type KubeHttp,
  type Query,
} from "../../shared/kube-http.ts";
import {
  PROTOBUF,
  decodeMetadataList,
  decodeWatchEvent,
  frameReader,
  type MetadataWatchEvent,
} from "../../shared/metadata-protobuf.ts";
import { resourcePath, type ResourceType } from "./resource.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface ListResult<T> {
  items: T[];
  /** The collection's resourceVersion: watch from here to see every change after the list. */
  resourceVersion: string;
}

export interface ListerWatcher<T> {
  list(signal: AbortSignal): Promise<ListResult<T>>;
  /**
   * Watches from resourceVersion, calling onEvent for each event in order. Resolves when the
   * server ends the watch normally (its timeout). Rejects on any error; a 410, whether the HTTP
   * status or an ERROR event in the stream, rejects with a KubeApiError whose statusCode is 410.
   */
  watch(resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void>;
}

export interface KubeListerWatcherOptions<T = unknown> {
  /** Only this namespace; all namespaces when omitted. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Applied to every listed or watched object as it is decoded, before anything holds it: the
   * place to drop fields nobody reads, so a page of full objects is garbage at once.
   */
  transform?: (obj: T) => T;
  /**
   * Ask for metadata only (PartialObjectMetadata): the server sends no spec or status, so a
   * watch of every pod costs a fraction of the bytes and of the decoding. It is asked for in
   * protobuf first (JSON if the server prefers it): managedFields and the other fields nobody
   * reads are then skipped unparsed (metadata-protobuf.ts).
   */
  metadataOnly?: boolean;
  /**
   * Objects per list page (default 100). Small pages keep a list's decoding garbage young: the
   * objects JSON.parse makes of one page die before V8 promotes them (a 500-pod page of 6 MB
   * outgrew the 8 MiB semi-space, and each page's garbage grew the old space).
   */
  pageSize?: number;
  /** Timeout of each list page request (default 60 s). */
  listTimeoutMs?: number;
  /**
   * Server-side watch timeout, in seconds, chosen per watch in [min, 2*min) so that many
   * clients do not reconnect together (default min 300, as client-go).
   */
  minWatchTimeoutSeconds?: number;
  random?: () => number;
}

interface KubeList<T> {
  items?: T[] | null;
  metadata?: { resourceVersion?: string; continue?: string };
}

const DEFAULT_PAGE_SIZE = 100;

/** A ListerWatcher over the runtime's HTTP client, for any resource type. */
export function kubeListerWatcher<T extends KubernetesObject>(
  http: KubeHttp,
  rt: ResourceType,
  opts: KubeListerWatcherOptions<T> = {},
): ListerWatcher<T> {
  const path = resourcePath(rt, opts.namespace);
  const selectors: Query = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
  const random = opts.random ?? Math.random;
  const minTimeout = opts.minWatchTimeoutSeconds ?? 300;
  const transform = opts.transform;
  // Accept headers of the API server's metadata-only representation (as client-go's metadata client).
  const metadataAccept = (as: string) =>
    `${PROTOBUF};as=${as};g=meta.k8s.io;v=v1, application/json;as=${as};g=meta.k8s.io;v=v1`;

  function listPage(query: Query, signal: AbortSignal, scratch: Scratch): Promise<KubeList<T>> {
    const req = { path, query, timeoutMs: opts.listTimeoutMs ?? 60_000, signal };
    if (!opts.metadataOnly) return http.json<KubeList<T>>(req);
    return http.chunks({ ...req, accept: metadataAccept("PartialObjectMetadataList") }, (contentType) =>
      wholeBody(scratch, (body) =>
        contentType.startsWith(PROTOBUF)
          ? (decodeMetadataList(body) as KubeList<T>)
          : (JSON.parse(body.toString("utf8")) as KubeList<T>),
      ),
    );
  }

  async function listPages(signal: AbortSignal, limit: number | undefined): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string;
    const scratch: Scratch = { buf: Buffer.alloc(0) };
    do {
      const page = await listPage({ ...selectors, limit, continue: cont }, signal, scratch);
      for (const item of page.items ?? []) items.push(transform ? transform(item) : item);
      resourceVersion = page.metadata?.resourceVersion ?? "";
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  return {
    async list(signal) {
      try {
        return await listPages(signal, opts.pageSize ?? DEFAULT_PAGE_SIZE);
      } catch (err) {
        // A continue token expires with its snapshot (410): take one unpaginated list instead.
        if (isGone(err)) return listPages(signal, undefined);
        throw err;
      }
    },

    watch(resourceVersion, onEvent, signal) {
      const timeoutSeconds = Math.floor(minTimeout * (1 + random()));
      const emit = (event: WatchEvent<T>) =>
        onEvent(
          transform && event.type !== "BOOKMARK" ? { ...event, object: transform(event.object) } : event,
        );
      const req = {
        path,
        query: {
          ...selectors,
          watch: true,
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
        },
        // Our own deadline only catches a server that went silent without closing the
        // connection; a healthy server ends the watch at timeoutSeconds.
        timeoutMs: (timeoutSeconds + 30) * 1000,
        signal,
      };
      const fromLine = (line: string) => emit(parseWatchLine<T>(line));
      if (!opts.metadataOnly) return streamLines(http, req, fromLine);
      return http.chunks({ ...req, accept: metadataAccept("PartialObjectMetadata") }, (contentType) =>
        contentType.startsWith(PROTOBUF)
          ? frameReader((frame) => emit(watchEventOf<T>(decodeWatchEvent(frame))))
          : lineReader(fromLine),
      );
    },
  };
}

/** One buffer for all pages of a list, grown as needed: a page of 100 pods is about 1 MB. */
interface Scratch {
  buf: Buffer;
}

/** A reader that hands the whole body (in the list's scratch buffer) to decode at its end. */
function wholeBody<R>(scratch: Scratch, decode: (body: Buffer) => R): BodyReader<R> {
  let length = 0;
  return {
    chunk(c) {
      if (length + c.length > scratch.buf.length) {
        const grown = Buffer.allocUnsafe(Math.max(2 * scratch.buf.length, length + c.length, 64 * 1024));
        scratch.buf.copy(grown, 0, 0, length);
        scratch.buf = grown;
      }
      length += c.copy(scratch.buf, length);
    },
    end: () => decode(scratch.buf.subarray(0, length)),
  };
}

/** A decoded protobuf watch event as parseWatchLine gives a JSON one: ERROR events are thrown. */
function watchEventOf<T>(event: MetadataWatchEvent): WatchEvent<T> {
  if (event.type === "ERROR") throw new KubeApiError(event.status.code ?? 500, event.status);
  return { type: event.type, object: event.object as T };
}

/** Decodes one line of a watch stream. ERROR events are thrown as KubeApiError. */
export function parseWatchLine<T>(line: string): WatchEvent<T> {
  let raw: { type?: unknown; object?: unknown };
  try {
    raw = JSON.parse(line) as typeof raw;
  } catch {
    throw new WatchDecodeError(`watch event is not JSON: ${line.slice(0, 200)}`);
  }
  if (raw.type === "ERROR") {
    const status = parseStatus(raw.object);
    throw new KubeApiError(status?.code ?? 500, status);
  }
  if (
    (raw.type === "ADDED" || raw.type === "MODIFIED" || raw.type === "DELETED" || raw.type === "BOOKMARK") &&
    typeof raw.object === "object" &&
    raw.object !== null
  ) {
    return { type: raw.type, object: raw.object as T };
  }
  throw new WatchDecodeError(`unexpected watch event: ${line.slice(0, 200)}`);
}

/** The stream carried something that is not a watch event; the watch is restarted. */
export class WatchDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WatchDecodeError";
  }
}
