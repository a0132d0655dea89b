import { expect } from "chai";
import { deepFreeze } from "./frozen-json.ts";

describe("frozen-json", () => {
  it("deepFreeze freezes every level, lists included", () => {
    const v = deepFreeze({ a: { b: [{ c: 1 }] } });
    expect(
      Object.isFrozen(v) && Object.isFrozen(v.a) && Object.isFrozen(v.a.b) && Object.isFrozen(v.a.b[0]),
    ).to.equal(true);
  });
});
