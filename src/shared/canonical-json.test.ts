import { expect } from "chai";
import { canonicalJson } from "./canonical-json.ts";

describe("canonicalJson", () => {
  it("sorts keys at every level and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).to.equal(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it("drops undefined properties like JSON.stringify, and writes null for undefined list items", () => {
    expect(canonicalJson({ a: undefined, b: "x", c: [undefined, 1] })).to.equal('{"b":"x","c":[null,1]}');
  });

  it("serializes dates through toJSON", () => {
    expect(canonicalJson({ t: new Date("2024-01-02T03:04:05Z") })).to.equal(
      '{"t":"2024-01-02T03:04:05.000Z"}',
    );
  });

  it("orders keys by code unit, uppercase before lowercase", () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, "a-b": 4 })).to.equal('{"B":2,"a":3,"a-b":4,"b":1}');
  });
});
