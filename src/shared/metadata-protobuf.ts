// Decoding of the API server's protobuf encoding, for metadata-only lists and watches
// (PartialObjectMetadata) only. A pod's metadata is mostly managedFields and kubectl's
// last-applied annotation; in JSON every byte of them is parsed into objects that are dropped
// at once, while protobuf prefixes each field with its length, so a field nobody reads is
// skipped without being decoded. Field numbers are those of k8s.io/apimachinery's
// generated.proto (meta/v1 and runtime); the output has the shape of the JSON encoding, so
// callers cannot tell which one the server sent (tests compare the two on real answers).

import type { KubeStatus } from "./api-errors.ts";

/** Content type of the API server's protobuf encoding (a watch adds `;stream=watch`). */
export const PROTOBUF = "application/vnd.kubernetes.protobuf";
/** Every protobuf object the API server sends starts with these 4 bytes ("k8s\0"). */
const MAGIC = [0x6b, 0x38, 0x73, 0x00] as const;

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
const FIXED32 = 5;

/** The bytes are not what this decoder expects: the watch or list is retried as any error is. */
export class ProtobufDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtobufDecodeError";
  }
}

/** A cursor over one message's bytes [pos, end). */
class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  more(): boolean {
    return this.pos < this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufDecodeError("truncated varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new ProtobufDecodeError("varint longer than 10 bytes");
  }

  /** The [start, end) of a length-delimited field's value; the cursor moves past it. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new ProtobufDecodeError("field runs past its message");
    this.pos = start + len;
    return [start, start + len];
  }

  sub(): Reader {
    const [start, end] = this.span();
    return new Reader(this.buf, start, end);
  }

  string(): string {
    const [start, end] = this.span();
    return this.buf.toString("utf8", start, end);
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === LENGTH) this.span();
    else if (wireType === FIXED64) this.pos += 8;
    else if (wireType === FIXED32) this.pos += 4;
    else throw new ProtobufDecodeError(`unsupported wire type ${wireType}`);
    if (this.pos > this.end) throw new ProtobufDecodeError("field runs past its message");
  }

  /** Calls onField(field number, wire type) for each field; onField reads or skips the value. */
  fields(onField: (field: number, wireType: number) => void): void {
    while (this.more()) {
      const tag = this.varint();
      const pos = this.pos;
      onField(Math.floor(tag / 8), tag & 7);
      if (this.pos === pos) this.skip(tag & 7); // a field onField did not read
    }
  }
}

/**
 * The object inside the envelope every protobuf object comes in: the magic bytes, then a
 * runtime.Unknown (typeMeta = 1, raw = 2) whose raw field holds the object's own message.
 */
function unwrap(buf: Buffer, start = 0, end = buf.length): { kind: string; body: Reader } {
  if (end - start < MAGIC.length || MAGIC.some((b, i) => buf[start + i] !== b))
    throw new ProtobufDecodeError("not a Kubernetes protobuf object (no k8s magic)");
  let kind = "";
  let body = new Reader(buf, 0, 0);
  const unknown = new Reader(buf, start + MAGIC.length, end);
  unknown.fields((field, wt) => {
    if (field === 1 && wt === LENGTH) {
      const typeMeta = unknown.sub();
      typeMeta.fields((f, w) => {
        if (f === 2 && w === LENGTH) kind = typeMeta.string();
      });
    } else if (field === 2 && wt === LENGTH) body = unknown.sub();
  });
  return { kind, body };
}

type Json = Record<string, unknown>;

/**
 * meta/v1 Time (seconds = 1, nanos = 2) as JSON writes it: RFC 3339 to the second; undefined for
 * the zero time, which JSON writes as null (a bookmark's creationTimestamp).
 */
function time(r: Reader): string | undefined {
  let seconds = 0;
  r.fields((f, w) => {
    if (f === 1 && w === VARINT) seconds = r.varint();
  });
  return seconds === 0 ? undefined : new Date(seconds * 1000).toISOString().slice(0, 19) + "Z";
}

/** kubectl apply's copy of the whole object: often most of a pod's metadata, read by nobody here. */
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** A map<string, string> entry (key = 1, value = 2) into out; LAST_APPLIED's value is not decoded. */
function mapEntry(r: Reader, out: Record<string, string>): void {
  let key = "";
  let value = "";
  r.fields((f, w) => {
    if (f === 1 && w === LENGTH) key = r.string();
    else if (f === 2 && w === LENGTH && key !== LAST_APPLIED) value = r.string();
  });
  if (key !== LAST_APPLIED) out[key] = value;
}

function ownerReference(r: Reader): Json {
  const o: Json = {};
  r.fields((f, w) => {
    if (w === LENGTH) {
      if (f === 5) o.apiVersion = r.string();
      else if (f === 1) o.kind = r.string();
      else if (f === 3) o.name = r.string();
      else if (f === 4) o.uid = r.string();
    } else if (w === VARINT) {
      if (f === 6) o.controller = r.varint() !== 0;
      else if (f === 7) o.blockOwnerDeletion = r.varint() !== 0;
    }
  });
  return o;
}

const META_STRINGS: Record<number, string> = {
  1: "name",
  2: "generateName",
  3: "namespace",
  4: "selfLink",
  5: "uid",
  6: "resourceVersion",
};

/**
 * meta/v1 ObjectMeta without managedFields (field 17) and kubectl's last-applied annotation,
 * both skipped unread: no reader of a metadata-only cache uses them. Empty strings and zero
 * numbers are left out, as JSON's omitempty does.
 */
function objectMeta(r: Reader): Json {
  const m: Json = {};
  let labels: Record<string, string> | undefined;
  let annotations: Record<string, string> | undefined;
  let owners: Json[] | undefined;
  let finalizers: string[] | undefined;
  r.fields((f, w) => {
    const key = META_STRINGS[f];
    if (key !== undefined && w === LENGTH) {
      const s = r.string();
      if (s !== "") m[key] = s;
    } else if (w === VARINT && f === 7) {
      const generation = r.varint();
      if (generation !== 0) m.generation = generation;
    } else if (w === VARINT && f === 10) {
      m.deletionGracePeriodSeconds = r.varint(); // a pointer in Go: 0 is sent only when set
    } else if (w === LENGTH) {
      if (f === 8 || f === 9) {
        const t = time(r.sub());
        if (t !== undefined) m[f === 8 ? "creationTimestamp" : "deletionTimestamp"] = t;
      } else if (f === 11) mapEntry(r.sub(), (labels ??= {}));
      else if (f === 12) mapEntry(r.sub(), (annotations ??= {}));
      else if (f === 13) (owners ??= []).push(ownerReference(r.sub()));
      else if (f === 14) (finalizers ??= []).push(r.string());
    }
  });
  if (labels) m.labels = labels;
  if (annotations) m.annotations = annotations;
  if (owners) m.ownerReferences = owners;
  if (finalizers) m.finalizers = finalizers;
  return m;
}

/** PartialObjectMetadata (metadata = 1) as the JSON encoding has it. */
function partialObjectMetadata(r: Reader): Json {
  let metadata: Json = {};
  r.fields((f, w) => {
    if (f === 1 && w === LENGTH) metadata = objectMeta(r.sub());
  });
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata };
}

export interface MetadataList {
  items: Json[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** A PartialObjectMetadataList (metadata = 1: ListMeta, items = 2) from a list's whole body. */
export function decodeMetadataList(buf: Buffer): MetadataList {
  const { kind, body } = unwrap(buf);
  if (kind !== "PartialObjectMetadataList")
    throw new ProtobufDecodeError(`expected a PartialObjectMetadataList, got ${kind || "no kind"}`);
  const items: Json[] = [];
  const metadata: MetadataList["metadata"] = {};
  body.fields((f, w) => {
    if (w !== LENGTH) return;
    if (f === 2) items.push(partialObjectMetadata(body.sub()));
    else if (f === 1) {
      const listMeta = body.sub();
      listMeta.fields((lf, lw) => {
        if (lw !== LENGTH) return;
        if (lf === 2) metadata.resourceVersion = listMeta.string();
        else if (lf === 3) {
          const token = listMeta.string();
          if (token) metadata.continue = token;
        }
      });
    }
  });
  return { items, metadata };
}

/** meta/v1 Status (status = 2, message = 3, reason = 4, code = 6) from its envelope. */
export function decodeStatus(buf: Buffer, start = 0, end = buf.length): KubeStatus {
  const { kind, body } = unwrap(buf, start, end);
  if (kind !== "Status") throw new ProtobufDecodeError(`expected a Status, got ${kind || "no kind"}`);
  const s: KubeStatus = { kind: "Status" };
  body.fields((f, w) => {
    if (w === LENGTH && f >= 2 && f <= 4) {
      const v = body.string();
      if (v) s[f === 2 ? "status" : f === 3 ? "message" : "reason"] = v;
    } else if (f === 6 && w === VARINT) s.code = body.varint();
  });
  return s;
}

export type MetadataWatchEvent =
  | { type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"; object: Json }
  | { type: "ERROR"; status: KubeStatus };

/**
 * One frame of a protobuf watch: a meta/v1 WatchEvent (type = 1, object = 2), whose object is a
 * RawExtension (raw = 1) holding the object in its own envelope.
 */
export function decodeWatchEvent(frame: Buffer): MetadataWatchEvent {
  const r = new Reader(frame, 0, frame.length);
  let type = "";
  let raw: [number, number] | undefined;
  r.fields((f, w) => {
    if (f === 1 && w === LENGTH) type = r.string();
    else if (f === 2 && w === LENGTH) {
      const ext = r.sub();
      ext.fields((ef, ew) => {
        if (ef === 1 && ew === LENGTH) raw = ext.span();
      });
    }
  });
  if (!raw) throw new ProtobufDecodeError(`watch event ${type || "(no type)"} has no object`);
  if (type === "ERROR") return { type, status: decodeStatus(frame, raw[0], raw[1]) };
  if (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED" && type !== "BOOKMARK")
    throw new ProtobufDecodeError(`unexpected watch event type ${JSON.stringify(type)}`);
  const { kind, body } = unwrap(frame, raw[0], raw[1]);
  if (kind !== "PartialObjectMetadata")
    throw new ProtobufDecodeError(
      `expected PartialObjectMetadata in a watch event, got ${kind || "no kind"}`,
    );
  return { type, object: partialObjectMetadata(body) };
}

/** The length prefix of the first frame, read across chunks (they hold at least 4 bytes). */
function frameLength(chunks: Buffer[]): number {
  if (chunks[0]!.length >= 4) return chunks[0]!.readUInt32BE(0);
  let length = 0;
  let read = 0;
  for (const c of chunks) {
    for (let i = 0; i < c.length && read < 4; i++, read++) length = length * 256 + c[i]!;
    if (read === 4) break;
  }
  return length;
}

/**
 * Reads a protobuf watch stream as frames (a 4-byte big-endian length, then the frame),
 * whatever the chunks' boundaries. Chunks are joined only once a frame that spans them is
 * whole. A stream that ends inside a frame is an error.
 */
export function frameReader(onFrame: (frame: Buffer) => void): { chunk(c: Buffer): void; end(): void } {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  return {
    chunk(chunk) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < 4) return;
      if (pendingBytes < 4 + frameLength(pending)) return;
      const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      let pos = 0;
      while (buf.length - pos >= 4) {
        const len = buf.readUInt32BE(pos);
        if (buf.length - pos - 4 < len) break;
        onFrame(buf.subarray(pos + 4, pos + 4 + len));
        pos += 4 + len;
      }
      pending = pos < buf.length ? [buf.subarray(pos)] : [];
      pendingBytes = buf.length - pos;
    },
    end() {
      if (pendingBytes > 0)
        throw new ProtobufDecodeError(`watch stream ended inside a frame (${pendingBytes} bytes)`);
    },
  };
}
