// The few DER (ASN.1) pieces an X.509 CA needs: encode a TLV, read one back with its exact
// bytes. Hand-written because no library here handles Ed25519 certificates and CSRs: node-forge
// signs RSA only, Node's crypto verifies certificates but neither parses CSRs nor builds
// certificates. Reading keeps the original bytes of each element, since signatures cover them.

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Context-specific tag number `n`, constructed (EXPLICIT) or primitive (IMPLICIT). */
export function contextTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(TAG.sequence, ...items);

export function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

export function decodeOid(contents: Buffer): string {
  const parts = [Math.floor(contents[0]! / 40), contents[0]! % 40];
  let v = 0;
  for (const b of contents.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** A non-negative INTEGER from big-endian bytes (a leading zero added when the top bit is set). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  return tlv(TAG.integer, (b[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

export const bitString = (bytes: Buffer, unusedBits = 0): Buffer =>
  tlv(TAG.bitString, Buffer.from([unusedBits]), bytes);
export const octetString = (bytes: Buffer): Buffer => tlv(TAG.octetString, bytes);
export const utf8 = (s: string): Buffer => tlv(TAG.utf8String, Buffer.from(s, "utf8"));
export const boolTrue = (): Buffer => tlv(TAG.boolean, Buffer.from([0xff]));

/** X.509 time: UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). Whole seconds. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  return d.getUTCFullYear() < 2050
    ? tlv(TAG.utcTime, Buffer.from(`${digits.slice(2)}Z`))
    : tlv(TAG.generalizedTime, Buffer.from(`${digits}Z`));
}

export interface Element {
  tag: number;
  /** The whole element: tag, length and contents. */
  raw: Buffer;
  contents: Buffer;
}

/** Reads the element at `offset`; throws on truncated or non-minimal input. */
export function readElement(buf: Buffer, offset = 0): Element {
  if (offset + 2 > buf.length) throw new Error("truncated DER element");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("multi-byte DER tags are not supported");
  let len = buf[offset + 1]!;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error("unsupported DER length");
    if (offset + 2 + n > buf.length) throw new Error("truncated DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    if (len < 0x80) throw new Error("non-minimal DER length");
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new Error("truncated DER contents");
  return { tag, raw: buf.subarray(offset, end), contents: buf.subarray(offset + header, end) };
}

/** The elements inside a constructed element, in order. */
export function children(el: Element): Element[] {
  const out: Element[] = [];
  for (let off = 0; off < el.contents.length;) {
    const child = readElement(el.contents, off);
    out.push(child);
    off += child.raw.length;
  }
  return out;
}

/** Reads exactly one element of `tag` spanning all of `buf`. */
export function readOnly(buf: Buffer, tag: number, what: string): Element {
  const el = readElement(buf);
  if (el.tag !== tag)
    throw new Error(`${what}: expected tag 0x${tag.toString(16)}, got 0x${el.tag.toString(16)}`);
  if (el.raw.length !== buf.length) throw new Error(`${what}: trailing bytes after the element`);
  return el;
}
