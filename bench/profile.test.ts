import { expect } from "chai";
import { areaOf, summarizeProfile, type CpuProfile } from "./profile.ts";

describe("bench CPU profile summary", () => {
  it("groups scripts into areas", () => {
    expect(areaOf("file:///app/node_modules/express/lib/router/index.js")).to.equal(
      "express (routing, body reading)",
    );
    expect(areaOf("file:///app/node_modules/pino/lib/proto.js")).to.equal("pino (logging)");
    expect(areaOf("file:///app/node_modules/@scope/pkg/x.js")).to.equal("@scope/pkg");
    expect(areaOf("file:///work/src/injector/patch.ts")).to.equal("outrigger src/injector/patch.ts");
    expect(areaOf("file:///app/.outrigger/bench-build/dist/controller/manager.js")).to.equal(
      "outrigger src/controller/manager.ts",
    );
    expect(areaOf("file:///app/node_modules/@kubernetes/client-node/dist/config.js")).to.equal(
      "@kubernetes/client-node",
    );
    expect(areaOf("node:internal/tls/wrap")).to.equal("node: TLS");
    expect(areaOf("node:_http_server")).to.equal("node: HTTP");
    expect(areaOf("node:internal/worker/js_transferable")).to.equal("node: structuredClone");
  });

  // root -> handler (src) -> JSON.parse (native, no url); root -> (idle); root -> (garbage collector)
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 }, children: [2, 4, 5] },
      {
        id: 2,
        callFrame: { functionName: "handle", url: "file:///w/src/injector/server.ts", lineNumber: 9 },
        children: [3],
      },
      { id: 3, callFrame: { functionName: "parse", url: "", lineNumber: -1 } },
      { id: 4, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
      { id: 5, callFrame: { functionName: "(garbage collector)", url: "", lineNumber: -1 } },
    ],
    startTime: 0,
    endTime: 10_000,
    samples: [2, 3, 3, 4, 5, 3],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
  };

  it("charges native frames to their caller's area and leaves idle out", () => {
    const s = summarizeProfile(profile);
    expect(s.idleMs).to.equal(1);
    expect(s.busyMs).to.equal(5);
    expect(s.areas[0]).to.deep.include({ area: "outrigger src/injector/server.ts", ms: 4, percent: 80 });
    expect(s.areas.find((a) => a.area === "GC")?.ms).to.equal(1);
    expect(s.topSelf[0]?.fn).to.equal("parse");
    expect(s.topInclusive[0]).to.deep.include({ fn: "handle src/injector/server.ts:10", ms: 4 });
  });

  it("keeps only the samples inside a window", () => {
    const s = summarizeProfile(profile, { window: { fromUs: 2500, toUs: 4500 } });
    expect(s.busyMs + s.idleMs).to.equal(2);
    expect(s.idleMs).to.equal(1);
  });
});
