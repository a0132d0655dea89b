import { expect } from "chai";
import { contentHash } from "./hash.ts";

describe("contentHash", () => {
  it("is the same for the same meaning in any key order", () => {
    expect(contentHash({ a: "1", b: "2" })).to.equal(contentHash({ b: "2", a: "1" }));
  });

  it("changes when a value changes", () => {
    expect(contentHash({ a: "1" })).to.not.equal(contentHash({ a: "2" }));
  });

  it("is a sha256 hex digest with its algorithm named", () => {
    expect(contentHash({})).to.match(/^sha256:[0-9a-f]{64}$/);
  });
});
