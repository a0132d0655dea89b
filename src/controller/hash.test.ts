import { expect } from "chai";
import { canonicalJson, contentHash } from "./hash.ts";

describe("canonicalJson", () => {
  it("sorts keys at every level and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).to.equal(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it("drops undefined properties like JSON.stringify", () => {
    expect(canonicalJson({ a: undefined, b: "x" })).to.equal('{"b":"x"}');
  });

  it("serializes dates through toJSON", () => {
    expect(canonicalJson({ t: new Date("2024-01-02T03:04:05Z") })).to.equal(
      '{"t":"2024-01-02T03:04:05.000Z"}',
    );
  });
});

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
