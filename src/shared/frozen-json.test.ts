import { expect } from "chai";
import { deepFreeze, frozenWithJson, jsonText } from "./frozen-json.ts";

describe("frozen-json", () => {
  it("deepFreeze freezes every level, lists included", () => {
    const v = deepFreeze({ a: { b: [{ c: 1 }] } });
    expect(
      Object.isFrozen(v) && Object.isFrozen(v.a) && Object.isFrozen(v.a.b) && Object.isFrozen(v.a.b[0]),
    ).to.equal(true);
  });

  it("jsonText of a value made by frozenWithJson is its JSON.stringify text, recorded when frozen", () => {
    const v = frozenWithJson({
      name: "daprd",
      args: ["--mode", "standalone"],
      env: [{ name: "A", value: "x\ny" }],
    });
    expect(jsonText(v)).to.equal(JSON.stringify(v));
  });

  it("jsonText of anything else is JSON.stringify's, undefined included", () => {
    for (const v of [{ a: 1, b: undefined }, [1, undefined], 'a"b', 3, null, true])
      expect(jsonText(v)).to.equal(JSON.stringify(v));
    expect(jsonText(undefined)).to.equal(undefined);
  });

  it("a frozen value cannot be changed under its record", () => {
    const v = frozenWithJson({ a: { b: 1 } });
    expect(() => {
      (v.a as { b: number }).b = 2;
    }).to.throw(TypeError);
    expect(jsonText(v)).to.equal('{"a":{"b":1}}');
  });
});
