import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  LAST_APPLIED,
  ProtobufDecodeError,
  decodeMetadataList,
  decodeStatus,
  decodeWatchEvent,
  frameReader,
  type MetadataWatchEvent,
} from "./metadata-protobuf.ts";

const dir = join(import.meta.dirname, "testdata/protobuf");
const bytes = (name: string) => readFileSync(join(dir, name));
type Obj = { metadata: Record<string, unknown> & { annotations?: Record<string, string> } };

/** What the decoder promises: the JSON encoding without the two fields it skips. */
function withoutSkipped<T extends Obj>(o: T): T {
  const { managedFields: _managedFields, ...metadata } = o.metadata;
  if (metadata.annotations) {
    const { [LAST_APPLIED]: _lastApplied, ...annotations } = metadata.annotations;
    metadata.annotations = annotations;
  }
  return { ...o, metadata };
}

function framesOf(stream: Buffer, chunkSize: number): MetadataWatchEvent[] {
  const events: MetadataWatchEvent[] = [];
  const reader = frameReader((frame) => events.push(decodeWatchEvent(frame)));
  for (let i = 0; i < stream.length; i += chunkSize) reader.chunk(stream.subarray(i, i + chunkSize));
  reader.end();
  return events;
}

/** A protobuf field with a length-delimited value (tests build an ERROR frame around a real Status). */
function lengthField(field: number, value: Buffer): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
    out.push(n);
    return Buffer.from(out);
  };
  return Buffer.concat([varint(field * 8 + 2), varint(value.length), value]);
}

describe("metadata-protobuf", () => {
  it("decodes a list as the API server's JSON has it, without managedFields and last-applied", () => {
    for (const name of ["list-all", "list-page1"]) {
      const json = JSON.parse(bytes(`${name}.json`).toString("utf8")) as {
        items: Obj[];
        metadata: { resourceVersion: string; continue?: string };
      };
      const list = decodeMetadataList(bytes(`${name}.pb`));
      expect(list.items).to.deep.equal(json.items.map(withoutSkipped));
      expect(list.metadata).to.deep.equal({
        resourceVersion: json.metadata.resourceVersion,
        ...(json.metadata.continue ? { continue: json.metadata.continue } : {}),
      });
    }
    // The golden objects carry what the decoder must not lose.
    const [a] = decodeMetadataList(bytes("list-all.pb")).items as Obj[];
    expect(a!.metadata.annotations).to.include({ note: "ünïcode ✓ 日本", "dapr.io/app-id": "orders" });
    expect(a!.metadata).to.include.keys("ownerReferences", "finalizers", "creationTimestamp", "uid");
  });

  it("reads the page after a continue token, whose end has no token", () => {
    const all = decodeMetadataList(bytes("list-all.pb"));
    const page1 = decodeMetadataList(bytes("list-page1.pb"));
    const page2 = decodeMetadataList(bytes("list-page2.pb"));
    expect([...page1.items, ...page2.items]).to.deep.equal(all.items);
    expect(page1.metadata.continue).to.be.a("string").with.length.above(0);
    expect(page2.metadata).to.not.have.property("continue");
  });

  it("decodes a watch stream as its JSON lines, whatever the chunk boundaries", () => {
    const json = bytes("watch.json")
      .toString("utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; object: Obj });
    const want = json.map((e) => ({ type: e.type, object: withoutSkipped(e.object) }));
    expect(want.map((e) => e.type)).to.deep.equal(["MODIFIED", "MODIFIED", "DELETED"]);
    expect(want[1]!.object.metadata).to.include.keys("deletionTimestamp", "deletionGracePeriodSeconds");
    const stream = bytes("watch.pb");
    for (const chunkSize of [1, 3, 4, 5, 777, stream.length])
      expect(framesOf(stream, chunkSize)).to.deep.equal(want);
  });

  it("decodes a bookmark to its resourceVersion (the zero creation time left out, as JSON's null)", () => {
    const events = framesOf(bytes("watch-live.pb"), 4096);
    expect(events.map((e) => e.type)).to.deep.equal(["MODIFIED", "MODIFIED", "DELETED", "BOOKMARK"]);
    const bookmark = events.at(-1)!;
    expect(bookmark).to.have.nested.property("object.metadata.resourceVersion").that.matches(/^\d+$/);
    expect(bookmark).to.not.have.nested.property("object.metadata.creationTimestamp");
  });

  it("decodes a Status, and an ERROR event that carries one", () => {
    const status = bytes("status-not-found.pb");
    const want = {
      kind: "Status",
      status: "Failure",
      message: 'pods "missing" not found',
      reason: "NotFound",
      code: 404,
    };
    expect(decodeStatus(status)).to.deep.equal(want);
    const event = Buffer.concat([
      lengthField(1, Buffer.from("ERROR")),
      lengthField(2, lengthField(1, status)),
    ]);
    const frame = Buffer.alloc(4);
    frame.writeUInt32BE(event.length);
    expect(framesOf(Buffer.concat([frame, event]), 7)).to.deep.equal([{ type: "ERROR", status: want }]);
  });

  it("rejects what it cannot read, with a decode error", () => {
    const list = bytes("list-all.pb");
    expect(() => decodeMetadataList(Buffer.from('{"kind":"PartialObjectMetadataList"}'))).to.throw(
      ProtobufDecodeError,
      /no k8s magic/,
    );
    expect(() => decodeMetadataList(bytes("status-not-found.pb"))).to.throw(
      ProtobufDecodeError,
      /got Status/,
    );
    expect(() => decodeMetadataList(list.subarray(0, list.length - 10))).to.throw(ProtobufDecodeError);
    const stream = bytes("watch.pb");
    expect(() => framesOf(stream.subarray(0, stream.length - 1), 512)).to.throw(
      ProtobufDecodeError,
      /ended inside a frame/,
    );
    const unknownType = Buffer.concat([
      lengthField(1, Buffer.from("SOMETHING")),
      lengthField(2, lengthField(1, list)),
    ]);
    expect(() => decodeWatchEvent(unknownType)).to.throw(ProtobufDecodeError, /unexpected watch event type/);
  });
});
