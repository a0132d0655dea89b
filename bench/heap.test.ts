import { expect } from "chai";
import { summarizeHeapSnapshot, type HeapSnapshot } from "./heap.ts";

describe("bench heap snapshot summary", () => {
  it("adds self sizes per constructor and per kind", () => {
    const snap: HeapSnapshot = {
      snapshot: {
        meta: {
          node_fields: ["type", "name", "id", "self_size"],
          node_types: [["hidden", "object", "string"]],
        },
      },
      // type, name (index into strings), id, self_size
      nodes: [1, 0, 1, 100, 1, 0, 2, 300, 1, 1, 3, 50, 2, 2, 4, 2 ** 20],
      strings: ["Object", "Map", "some text"],
    };
    const s = summarizeHeapSnapshot(snap);
    expect(s.nodes).to.equal(4);
    expect(s.top[0]).to.deep.include({ name: "(string)", count: 1, MiB: 1 });
    expect(s.top[1]).to.deep.include({ name: "Object", type: "object", count: 2 });
    expect(s.top[1]!.MiB * 2 ** 20).to.be.closeTo(400, 1e-6);
    expect(s.top[2]?.name).to.equal("Map");
  });
});
