import { expect } from "chai";
import { BoundedMemo } from "./bounded-memo.ts";

describe("BoundedMemo", () => {
  it("returns what was stored under a key, and undefined for a key never stored", () => {
    const memo = new BoundedMemo<number>(4);
    expect(memo.set("a", 1)).to.equal(1);
    expect(memo.get("a")).to.equal(1);
    expect(memo.get("b")).to.equal(undefined);
  });

  it("holds at most its capacity, dropping the oldest entry first", () => {
    const memo = new BoundedMemo<number>(2);
    memo.set("a", 1);
    memo.set("b", 2);
    memo.set("c", 3);
    expect(memo.size).to.equal(2);
    expect(memo.get("a")).to.equal(undefined);
    expect([memo.get("b"), memo.get("c")]).to.deep.equal([2, 3]);
  });

  it("replaces the value of a key stored again without evicting another", () => {
    const memo = new BoundedMemo<number>(2);
    memo.set("a", 1);
    memo.set("b", 2);
    memo.set("b", 20);
    expect([memo.get("a"), memo.get("b"), memo.size]).to.deep.equal([1, 20, 2]);
  });
});
