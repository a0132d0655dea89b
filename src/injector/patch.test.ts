import { expect } from "chai";
import { frozenWithJson } from "../shared/frozen-json.ts";
import {
  applyJsonPatch,
  escapePointerToken,
  jsonEqual,
  jsonPatchBetween,
  jsonPatchText,
  unescapePointerToken,
  type JsonPatchOp,
} from "./patch.ts";

function roundTrip(a: unknown, b: unknown): JsonPatchOp[] {
  const ops = jsonPatchBetween(a, b);
  const applied = applyJsonPatch(a, ops);
  expect(applied.ok, applied.ok ? "" : applied.message).to.equal(true);
  if (applied.ok) expect(jsonEqual(applied.document, b), JSON.stringify({ a, b, ops })).to.equal(true);
  return ops;
}

// Small deterministic PRNG so a failure can be reproduced from the seed in the message.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ["a", "b", "x/y", "m~n", "~1", "", "0", "-", "dapr.io/app-id"];

function randomJson(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth <= 0 || pick < 0.3) {
    const leaf = [null, true, false, 0, 1.5, "s", "", "~/"];
    return leaf[Math.floor(r() * leaf.length)];
  }
  if (pick < 0.65) return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth - 1));
  const o: Record<string, unknown> = {};
  for (const k of KEYS) if (r() < 0.35) o[k] = randomJson(r, depth - 1);
  return o;
}

function mutate(r: () => number, v: unknown, depth: number): unknown {
  if (r() < 0.15 || depth <= 0) return randomJson(r, 2);
  if (Array.isArray(v)) {
    const out = v.map((x) => (r() < 0.3 ? mutate(r, x, depth - 1) : x));
    if (r() < 0.3) out.push(randomJson(r, 2));
    if (r() < 0.2) out.pop();
    return out;
  }
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    for (const k of KEYS) {
      const c = r();
      if (c < 0.1) delete out[k];
      else if (c < 0.2) out[k] = randomJson(r, 2);
      else if (c < 0.4 && k in out) out[k] = mutate(r, out[k], depth - 1);
    }
    return out;
  }
  return v;
}

describe("JSON patch diff", () => {
  it("escapes pointer tokens as RFC 6901 says (~ before /)", () => {
    expect(escapePointerToken("dapr.io/app-id")).to.equal("dapr.io~1app-id");
    expect(escapePointerToken("a~b")).to.equal("a~0b");
    expect(escapePointerToken("~1")).to.equal("~01");
    expect(unescapePointerToken("~01")).to.equal("~1");
    expect(unescapePointerToken("dapr.io~1app-id")).to.equal("dapr.io/app-id");
  });

  it("equal documents give no operations", () => {
    expect(jsonPatchBetween({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).to.deep.equal([]);
    expect(jsonPatchBetween({ a: 1, b: 2 }, { b: 2, a: 1 })).to.deep.equal([]);
    expect(jsonPatchBetween({ a: 1, u: undefined }, { a: 1 })).to.deep.equal([]);
  });

  it("adds a missing map whole, and escapes keys with / and ~", () => {
    expect(jsonPatchBetween({ metadata: {} }, { metadata: { labels: { "dapr.io/x": "1" } } })).to.deep.equal([
      { op: "add", path: "/metadata/labels", value: { "dapr.io/x": "1" } },
    ]);
    expect(jsonPatchBetween({ l: { a: "1" } }, { l: { a: "1", "x~/y": "2" } })).to.deep.equal([
      { op: "add", path: "/l/x~0~1y", value: "2" },
    ]);
  });

  it("appends to arrays by index and edits elements in place", () => {
    const before = { containers: [{ name: "app", env: [{ name: "A" }] }] };
    const after = { containers: [{ name: "app", env: [{ name: "A" }, { name: "B" }] }, { name: "daprd" }] };
    expect(jsonPatchBetween(before, after)).to.deep.equal([
      { op: "add", path: "/containers/0/env/1", value: { name: "B" } },
      { op: "add", path: "/containers/1", value: { name: "daprd" } },
    ]);
  });

  it("gives a spread copy the same operations as a fresh object: removals first, then b's order", () => {
    const a = { x: 1, y: { k: 1 }, z: 3, w: 4 };
    const copy = { ...a, y: { k: 2 }, z: undefined, v: 5, w: undefined };
    const fresh = { v: 5, x: 1, y: { k: 2 } };
    const want = [
      { op: "remove", path: "/z" },
      { op: "remove", path: "/w" },
      { op: "replace", path: "/y/k", value: 2 },
      { op: "add", path: "/v", value: 5 },
    ];
    expect(jsonPatchBetween(a, copy)).to.deep.equal(want);
    expect(jsonPatchBetween(a, fresh)).to.have.deep.members(want);
    expect(jsonPatchBetween(a, fresh).slice(0, 2)).to.have.deep.members(want.slice(0, 2));
  });

  it("removes from the end of arrays, last first", () => {
    const ops = roundTrip({ a: [1, 2, 3, 4] }, { a: [1, 2] });
    expect(ops).to.deep.equal([
      { op: "remove", path: "/a/3" },
      { op: "remove", path: "/a/2" },
    ]);
  });

  it("replaces values of a different type, and the root", () => {
    expect(jsonPatchBetween({ a: [1] }, { a: { 0: 1 } })).to.deep.equal([
      { op: "replace", path: "/a", value: { 0: 1 } },
    ]);
    expect(jsonPatchBetween(1, "x")).to.deep.equal([{ op: "replace", path: "", value: "x" }]);
    roundTrip(null, { a: 1 });
  });

  it("round-trips random documents (diff then apply gives the target)", () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const r = rng(seed);
      const a = randomJson(r, 4);
      const b = mutate(r, a, 4);
      roundTrip(a, b);
    }
  });
});

describe("JSON patch text", () => {
  it("is JSON.stringify of the operations, byte for byte, for random diffs", () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const r = rng(seed);
      const a = randomJson(r, 4);
      const ops = jsonPatchBetween(a, mutate(r, a, 4));
      expect(jsonPatchText(ops), `seed ${seed}`).to.equal(JSON.stringify(ops));
    }
  });

  it("reuses the recorded text of frozen values, and leaves out values JSON has no text for", () => {
    const container = frozenWithJson({ name: "daprd", env: [{ name: "PEM", value: 'a\n"b"' }] });
    const ops: JsonPatchOp[] = [
      { op: "add", path: "/spec/initContainers/1", value: container },
      { op: "add", path: '/metadata/labels/a~1"b"', value: "x" },
      { op: "replace", path: "/x", value: undefined },
      { op: "remove", path: "/y" },
      { op: "add", path: "", value: [container, undefined] },
    ];
    expect(jsonPatchText(ops)).to.equal(JSON.stringify(ops));
    expect(jsonPatchText([])).to.equal("[]");
  });
});

describe("JSON patch apply", () => {
  it("follows RFC 6902 for add, replace, remove and '-'", () => {
    const doc = { foo: ["bar", "baz"], "a/b": { "c~d": 1 } };
    const r = applyJsonPatch(doc, [
      { op: "add", path: "/foo/1", value: "qux" },
      { op: "add", path: "/foo/-", value: "end" },
      { op: "replace", path: "/a~1b/c~0d", value: 2 },
      { op: "remove", path: "/foo/0" },
    ]);
    expect(r).to.deep.equal({ ok: true, document: { foo: ["qux", "baz", "end"], "a/b": { "c~d": 2 } } });
    expect(doc.foo, "the input is not changed").to.deep.equal(["bar", "baz"]);
  });

  it("fails on missing parents, out-of-range indexes and replacing what is not there", () => {
    expect(applyJsonPatch({}, [{ op: "add", path: "/a/b", value: 1 }]).ok).to.equal(false);
    expect(applyJsonPatch({ a: [] }, [{ op: "add", path: "/a/1", value: 1 }]).ok).to.equal(false);
    expect(applyJsonPatch({ a: [] }, [{ op: "add", path: "/a/01", value: 1 }]).ok).to.equal(false);
    expect(applyJsonPatch({}, [{ op: "replace", path: "/a", value: 1 }]).ok).to.equal(false);
    expect(applyJsonPatch({}, [{ op: "remove", path: "" }]).ok).to.equal(false);
    expect(applyJsonPatch({}, [{ op: "add", path: "a", value: 1 }]).ok).to.equal(false);
  });
});
