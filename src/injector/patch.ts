// RFC 6902 JSON Patch between two JSON documents, and an applier used to prove it.
// The injector mutates a copy of the pod and sends `jsonPatchBetween(original, mutated)`, so no
// operation sequence is written by hand. A library was not worth a dependency: the injector
// only grows objects and arrays, and this diff is exact for any JSON (checked by tests that
// apply every diff back). Identical references are equal without a walk, so a copy-on-write
// mutation costs only the parts it copied. Arrays are compared index by index: a common prefix is diffed in
// place, extra elements are added at the end and missing ones removed from the end.

import { jsonText } from "../shared/frozen-json.ts";

export type JsonPatchOp =
  | { op: "add"; path: string; value: unknown }
  | { op: "replace"; path: string; value: unknown }
  | { op: "remove"; path: string };

/** One reference token of an RFC 6901 JSON Pointer: `~` → `~0`, `/` → `~1`. */
export function escapePointerToken(token: string): string {
  if (!token.includes("~") && !token.includes("/")) return token;
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

export function unescapePointerToken(token: string): string {
  return token.replaceAll("~1", "/").replaceAll("~0", "~");
}

type Plain = Record<string, unknown>;

function isPlainObject(v: unknown): v is Plain {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep equality of JSON values; object key order does not matter, undefined members are absent. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** The operations that turn `before` into `after`. Empty when they are equal. */
export function jsonPatchBetween(before: unknown, after: unknown): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  diffInto(ops, "", before, after);
  return ops;
}

/**
 * JSON.stringify(ops), byte for byte, with the text of values recorded by `frozenWithJson`
 * reused instead of encoded again (the rendered daprd container and volumes).
 */
export function jsonPatchText(ops: readonly JsonPatchOp[]): string {
  let out = "[";
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    // op is one of three plain words; the path may need escapes.
    out += `${i === 0 ? "" : ","}{"op":"${op.op}","path":${JSON.stringify(op.path)}`;
    // As JSON.stringify does: a member whose value has no JSON (undefined) is left out.
    const value = op.op === "remove" ? undefined : jsonText(op.value);
    out += value === undefined ? "}" : `,"value":${value}}`;
  }
  return `${out}]`;
}

function diffInto(ops: JsonPatchOp[], path: string, a: unknown, b: unknown): void {
  // A subtree the mutated copy shares with the original is equal without a look inside.
  if (a === b) return;
  if (isPlainObject(a) && isPlainObject(b)) {
    const aKeys = Object.keys(a);
    const bKeys = Object.keys(b);
    if (startsWith(bKeys, aKeys)) diffSameKeyOrder(ops, path, a, b, aKeys, bKeys);
    else diffObjects(ops, path, a, b, aKeys, bKeys);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const common = Math.min(a.length, b.length);
    for (let i = 0; i < common; i++) if (a[i] !== b[i]) diffInto(ops, `${path}/${i}`, a[i], b[i]);
    for (let i = common; i < b.length; i++) ops.push({ op: "add", path: `${path}/${i}`, value: b[i] });
    // From the end, so earlier indexes stay valid while removing.
    for (let i = a.length - 1; i >= common; i--) ops.push({ op: "remove", path: `${path}/${i}` });
    return;
  }
  if (!jsonEqual(a, b)) ops.push({ op: "replace", path, value: b });
}

function startsWith(list: string[], prefix: string[]): boolean {
  if (prefix.length > list.length) return false;
  for (let i = 0; i < prefix.length; i++) if (list[i] !== prefix[i]) return false;
  return true;
}

/** Any two objects: removals first, then additions and changes, in `b`'s key order. */
function diffObjects(ops: JsonPatchOp[], path: string, a: Plain, b: Plain, aKeys: string[], bKeys: string[]) {
  for (const key of aKeys) {
    if (a[key] !== undefined && (!Object.hasOwn(b, key) || b[key] === undefined))
      ops.push({ op: "remove", path: `${path}/${escapePointerToken(key)}` });
  }
  for (const key of bKeys) {
    const bv = b[key];
    if (bv === undefined) continue;
    const inA = Object.hasOwn(a, key) && a[key] !== undefined;
    // Checked before the path is built: most members of a copy-on-write mutation are shared.
    if (inA && a[key] === bv) continue;
    const child = `${path}/${escapePointerToken(key)}`;
    if (!inA) ops.push({ op: "add", path: child, value: bv });
    else diffInto(ops, child, a[key], bv);
  }
}

/**
 * The same operations as diffObjects, for the usual case of a copy-on-write mutation: `b`'s keys
 * begin with `a`'s, in order (a spread copy, members added after). Then each member is read once
 * per side, without the own-property checks, which made up most of the diff's time.
 */
function diffSameKeyOrder(
  ops: JsonPatchOp[],
  path: string,
  a: Plain,
  b: Plain,
  aKeys: string[],
  bKeys: string[],
) {
  const start = ops.length;
  let removals: JsonPatchOp[] | undefined;
  for (let i = 0; i < bKeys.length; i++) {
    const key = bKeys[i]!;
    const bv = b[key];
    const av = i < aKeys.length ? a[key] : undefined;
    if (av === bv) continue;
    const child = `${path}/${escapePointerToken(key)}`;
    if (bv === undefined) (removals ??= []).push({ op: "remove", path: child });
    else if (av === undefined) ops.push({ op: "add", path: child, value: bv });
    else diffInto(ops, child, av, bv);
  }
  // Removals come first, as in diffObjects.
  if (removals) ops.splice(start, 0, ...removals);
}

export type ApplyResult = { ok: true; document: unknown } | { ok: false; message: string };

/**
 * Applies add/replace/remove operations (the ones `jsonPatchBetween` emits) to a copy of `doc`,
 * with RFC 6902 semantics: `-` appends, indexes may equal the length for add, and a missing
 * parent fails. Used by tests to prove patches; the API server applies the real ones.
 */
export function applyJsonPatch(doc: unknown, ops: readonly JsonPatchOp[]): ApplyResult {
  let root: unknown = structuredClone(doc);
  for (const [n, op] of ops.entries()) {
    const fail = (why: string): ApplyResult => ({
      ok: false,
      message: `op ${n} (${op.op} ${op.path}): ${why}`,
    });
    if (op.path === "") {
      if (op.op === "remove") return fail("cannot remove the root");
      root = structuredClone(op.value);
      continue;
    }
    if (!op.path.startsWith("/")) return fail("path does not start with /");
    const tokens = op.path.slice(1).split("/").map(unescapePointerToken);
    const last = tokens.pop() as string;
    let parent: unknown = root;
    for (const t of tokens) {
      if (Array.isArray(parent)) {
        const i = arrayIndex(t, parent.length - 1);
        if (i === undefined) return fail(`no element ${t}`);
        parent = parent[i];
      } else if (isPlainObject(parent) && Object.hasOwn(parent, t)) {
        parent = parent[t];
      } else return fail(`no member ${t}`);
    }
    if (Array.isArray(parent)) {
      if (op.op === "add") {
        const i = last === "-" ? parent.length : arrayIndex(last, parent.length);
        if (i === undefined) return fail(`index ${last} out of range`);
        parent.splice(i, 0, structuredClone(op.value));
      } else {
        const i = arrayIndex(last, parent.length - 1);
        if (i === undefined) return fail(`index ${last} out of range`);
        if (op.op === "remove") parent.splice(i, 1);
        else parent[i] = structuredClone(op.value);
      }
    } else if (isPlainObject(parent)) {
      if (op.op !== "add" && !Object.hasOwn(parent, last)) return fail(`no member ${last}`);
      if (op.op === "remove") delete parent[last];
      // defineProperty, so a "__proto__" key stays a plain member as in JSON.
      else
        Object.defineProperty(parent, last, {
          value: structuredClone(op.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    } else return fail("parent is not a container");
  }
  return { ok: true, document: root };
}

function arrayIndex(token: string, max: number): number | undefined {
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
  const i = Number(token);
  return i <= max ? i : undefined;
}
