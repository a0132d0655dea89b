// Bad input for the HTTPS shell: many random, truncated and mutated AdmissionReview bodies,
// sent to a real in-process server running the real admission core. The server must stay up
// and answer every one with a well-formed AdmissionReview.
//
// FUZZ_SEED reproduces a run; FUZZ_COUNT changes its size (default 10,000).
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { load as loadYaml } from "js-yaml";
import { admit, type AdmissionRequest } from "./admit.ts";
import { applyJsonPatch, type JsonPatchOp } from "./patch.ts";
import { podCreateReview, startTestServer, type TestServer } from "./server.testing.ts";
import { DEFAULT_MAX_REQUEST_BYTES } from "./server.ts";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import { goldenTrustAnchors } from "./golden-settings.testing.ts";

const COUNT = Number(process.env.FUZZ_COUNT ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CONCURRENCY = 16;

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const testdata = new URL("./testdata/", import.meta.url);
const seedPods: Record<string, unknown>[] = readdirSync(testdata)
  .filter((f) => f.endsWith(".input.yaml"))
  .map((f) => loadYaml(readFileSync(new URL(f, testdata), "utf8")) as Record<string, unknown>);

interface Case {
  kind: string;
  body: Buffer;
  contentType?: string;
}

function makeCases(random: () => number): Generator<Case> {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const randomString = (max: number) => {
    const alphabet = 'abcXYZ019 -_./:"\\{}[],\u00e9\u4e2d\u{1f600}\u0000\n\t';
    return Array.from({ length: int(max) }, () => pick([...alphabet])).join("");
  };
  const nested = (depth: number, leaf: unknown): unknown => {
    let v = leaf;
    for (let i = 0; i < depth; i++) v = random() < 0.5 ? [v] : { a: v };
    return v;
  };
  const randomValue = (): unknown =>
    pick([
      () => null,
      () => int(2 ** 40) - 2 ** 39,
      () => random() * 1e308,
      () => randomString(40),
      () => "x".repeat(int(100_000)),
      () => random() < 0.5,
      () => [],
      () => ({}),
      () => [randomString(10), int(100)],
      () => ({ [randomString(8)]: randomString(8) }),
      () => nested(int(1500), "deep"),
      () => pick(["true", "True", "TRUE", "false", "0", "65536", "-1", "8080", "http", "grpc", ""]),
    ])();
  const review = () => {
    const pod = structuredClone(pick(seedPods));
    const extra = random() < 0.2 ? { dryRun: true } : {};
    return podCreateReview(`uid-${int(1e9)}`, pod, extra);
  };
  /** Every (parent, key) in an object tree, to pick a place to mutate. */
  const slots = (root: unknown): Array<[Record<string, unknown> | unknown[], string | number]> => {
    const out: Array<[Record<string, unknown> | unknown[], string | number]> = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) {
        v.forEach((x, i) => {
          out.push([v, i]);
          walk(x);
        });
      } else if (typeof v === "object" && v !== null) {
        for (const [k, x] of Object.entries(v)) {
          out.push([v as Record<string, unknown>, k]);
          walk(x);
        }
      }
    };
    walk(root);
    return out;
  };
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));

  const generators: Array<[string, number, () => Case]> = [
    ["valid", 1, () => ({ kind: "valid", body: json(review()) })],
    [
      "field-mutated",
      6,
      () => {
        const r = review();
        const all = slots(r);
        for (let n = 1 + int(4); n > 0; n--) {
          const [parent, key] = pick(all);
          const op = int(4);
          if (op === 0 && !Array.isArray(parent)) delete parent[key as string];
          else if (op === 1 && Array.isArray(parent)) parent.splice(key as number, 1);
          else (parent as Record<string | number, unknown>)[key] = randomValue();
        }
        return { kind: "field-mutated", body: json(r) };
      },
    ],
    [
      "annotation-fuzz",
      3,
      () => {
        const r = review() as {
          request: { object: { metadata?: { annotations?: Record<string, unknown> } } };
        };
        const meta = (r.request.object.metadata ??= {});
        const ann = (meta.annotations ??= {});
        ann["dapr.io/enabled"] = pick(["true", "TRUE", "yes", "1", "false", ""]);
        for (let n = 1 + int(5); n > 0; n--) {
          const key = pick([
            "dapr.io/app-id",
            "dapr.io/app-port",
            "dapr.io/app-protocol",
            "dapr.io/sidecar-cpu-limit",
            "dapr.io/sidecar-memory-request",
            "dapr.io/env",
            "dapr.io/volume-mounts",
            "dapr.io/log-level",
            "dapr.io/enable-native-sidecar",
            "dapr.io/unix-domain-socket-path",
            "dapr.io/sidecar-listen-addresses",
            "dapr.io/graceful-shutdown-seconds",
            `dapr.io/${randomString(12)}`,
          ]);
          ann[key] = random() < 0.8 ? randomString(60) : randomValue();
        }
        return { kind: "annotation-fuzz", body: json(r) };
      },
    ],
    [
      "bytes-mutated",
      5,
      () => {
        const b = Buffer.from(json(review()));
        for (let n = 1 + int(8); n > 0; n--) b[int(b.length)] = int(256);
        return { kind: "bytes-mutated", body: b };
      },
    ],
    [
      "truncated",
      4,
      () => {
        const b = json(review());
        return { kind: "truncated", body: b.subarray(0, int(b.length)) };
      },
    ],
    [
      "garbage",
      2,
      () => ({ kind: "garbage", body: Buffer.from(Array.from({ length: int(3000) }, () => int(256))) }),
    ],
    [
      "wrong-types",
      2,
      () => {
        const r = review() as Record<string, unknown>;
        const key = pick(["apiVersion", "kind", "request", "uid"]);
        if (key === "uid") (r.request as Record<string, unknown>).uid = randomValue();
        else r[key] = randomValue();
        return { kind: "wrong-types", body: json(r) };
      },
    ],
    [
      "deep-nesting",
      1,
      () => {
        const depth = 5_000 + int(60_000);
        const r = review() as { request: Record<string, unknown> };
        const where = pick(["object", "metadata", "top", "annotations", "raw"]);
        if (where === "raw") {
          const open = pick(["[", '{"a":']);
          const close = open === "[" ? "]" : "}";
          return { kind: "deep-nesting", body: Buffer.from(open.repeat(depth) + "1" + close.repeat(depth)) };
        }
        const deep = nested(depth, 1);
        if (where === "object") r.request.object = deep;
        else if (where === "metadata") (r.request.object as Record<string, unknown>).metadata = deep;
        else if (where === "annotations")
          (r.request.object as { metadata: Record<string, unknown> }).metadata.annotations = {
            "dapr.io/enabled": "true",
            "dapr.io/env": deep,
          };
        else (r as Record<string, unknown>).extra = deep;
        // JSON.stringify recurses; build the text by hand for the deepest cases.
        try {
          return { kind: "deep-nesting", body: json(r) };
        } catch {
          return { kind: "deep-nesting", body: Buffer.from('{"a":'.repeat(depth) + "1" + "}".repeat(depth)) };
        }
      },
    ],
    [
      "wrong-content-type",
      1,
      () => ({
        kind: "wrong-content-type",
        body: json(review()),
        contentType: pick(["text/plain", "application/yaml", "application/json; charset=latin1", ""]),
      }),
    ],
  ];
  const total = generators.reduce((s, [, w]) => s + w, 0);
  return (function* () {
    for (;;) {
      let x = random() * total;
      const gen = generators.find(([, w]) => (x -= w) < 0) ?? generators[0]!;
      yield gen[2]();
    }
  })();
}

/** The uid a well-behaved server must echo: the request's, when the body is a review it could read. */
function sentUid(body: Buffer): string | undefined {
  try {
    const v = JSON.parse(body.toString("utf8")) as { request?: { uid?: unknown } };
    return typeof v?.request?.uid === "string" && v.request.uid !== "" ? v.request.uid : undefined;
  } catch {
    return undefined;
  }
}

function checkResponse(c: Case, res: { status: number; text: string }): void {
  const where = `${c.kind} (seed ${SEED}): ${res.status} ${res.text.slice(0, 300)}`;
  expect([200, 400, 413, 415], where).to.include(res.status);
  const review = JSON.parse(res.text) as {
    apiVersion: unknown;
    kind: unknown;
    response: {
      uid: unknown;
      allowed: unknown;
      patch?: unknown;
      patchType?: unknown;
      status?: { code: unknown; message: unknown };
    };
  };
  expect(review.apiVersion, where).to.equal("admission.k8s.io/v1");
  expect(review.kind, where).to.equal("AdmissionReview");
  expect(review.response.uid, where).to.be.a("string");
  expect(review.response.allowed, where).to.be.a("boolean");
  if (res.status === 415) expect(c.contentType, where).to.not.equal(undefined);
  if (res.status === 413) expect(c.body.length, where).to.be.greaterThan(DEFAULT_MAX_REQUEST_BYTES);
  if (res.status === 200 || res.status === 400) {
    const uid = sentUid(c.body);
    if (uid !== undefined) expect(review.response.uid, where).to.equal(uid);
  }
  if (res.status !== 200 || review.response.allowed === false) {
    expect(review.response.status?.code, where).to.be.a("number");
    expect(review.response.status?.message, where).to.be.a("string").and.not.equal("");
  }
  if (review.response.patch !== undefined) {
    expect(review.response.patchType, where).to.equal("JSONPatch");
    const ops = JSON.parse(
      Buffer.from(review.response.patch as string, "base64").toString(),
    ) as JsonPatchOp[];
    expect(ops, where).to.be.an("array");
    // The patch must apply to the pod it was computed for.
    const object = (JSON.parse(c.body.toString("utf8")) as { request: { object: unknown } }).request.object;
    const applied = applyJsonPatch(object, ops);
    expect(applied.ok, `${where}: ${applied.ok ? "" : applied.message}`).to.equal(true);
  }
}

describe("webhook HTTPS shell under bad input", function () {
  let server: TestServer;
  after(async () => server?.stop());

  it(`answers ${COUNT} random, truncated and mutated reviews with well-formed AdmissionReviews`, async function () {
    this.timeout(600_000);
    server = await startTestServer({
      admit: (request: AdmissionRequest) => admit(request, builtInSidecarDefaults, goldenTrustAnchors),
      keepLogs: false,
    });
    const cases = makeCases(rng(SEED));
    const byKind = new Map<string, number>();
    const byStatus = new Map<number, number>();
    let oversized = 0;
    let sent = 0;
    const started = performance.now();
    const worker = async () => {
      while (sent < COUNT) {
        sent++;
        // Now and then a body over the limit (they are large, so only a few).
        const c: Case =
          sent % 1000 === 500
            ? (oversized++,
              { kind: "oversized", body: Buffer.alloc(DEFAULT_MAX_REQUEST_BYTES + 1 + (sent % 7), 0x20) })
            : cases.next().value;
        const headers: Record<string, string> =
          c.contentType === undefined
            ? { "content-type": "application/json" }
            : c.contentType
              ? { "content-type": c.contentType }
              : {};
        const res = await server.post(c.body, headers);
        checkResponse(c, res);
        byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + 1);
        byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;
    const total = [...byKind.values()].reduce((a, b) => a + b, 0);
    console.log(
      `      fuzz: ${total} requests in ${seconds.toFixed(1)}s (seed ${SEED}); ` +
        `by kind ${JSON.stringify(Object.fromEntries(byKind))}; by status ${JSON.stringify(Object.fromEntries(byStatus))}`,
    );
    expect(total).to.be.at.least(COUNT);
    expect(oversized).to.be.greaterThan(0);
    expect(byStatus.get(200), "some reviews were admitted").to.be.greaterThan(0);
    expect(byStatus.get(400), "some were rejected as malformed").to.be.greaterThan(0);
    // Still serving after all of it.
    const ok = await server.post(JSON.stringify(podCreateReview("after-fuzz", seedPods[0]!)));
    expect(ok.status).to.equal(200);
    expect(JSON.parse(ok.text).response.uid).to.equal("after-fuzz");
  });
});
