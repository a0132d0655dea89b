import { expect } from "chai";
import https from "node:https";
import tls from "node:tls";
import zlib from "node:zlib";
import forge from "node-forge";
import { admit, type AdmissionOutcome, type AdmissionRequest } from "./admit.ts";
import { LOOPBACK_HOSTS, rotateCertificates } from "./certs.ts";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import { goldenTrustAnchors } from "./golden-settings.testing.ts";
import { annotatedPod, podCreateReview, startTestServer, type TestServer } from "./server.testing.ts";
import { admissionReviewJson, errorReview, type AdmissionReviewResponse } from "./server.ts";

const realAdmit = (request: AdmissionRequest) => admit(request, builtInSidecarDefaults, goldenTrustAnchors);

function parse(text: string): Record<string, unknown> & { response: Record<string, unknown> } {
  return JSON.parse(text) as Record<string, unknown> & { response: Record<string, unknown> };
}

async function metricValue(
  server: TestServer,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = (await server.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const sample = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return sample?.value ?? 0;
}

/** The first `admission` log line the server wrote. */
const admissionLog = (server: TestServer) => server.logs.find((l) => l.msg === "admission");

describe("admissionReviewJson", function () {
  it("is the review's JSON, with the patch appended as it is", function () {
    const injected = admit(
      podCreateReview("uid-j", annotatedPod()).request as AdmissionRequest,
      builtInSidecarDefaults,
      goldenTrustAnchors,
    );
    const reviews: AdmissionReviewResponse[] = [
      { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: injected.response },
      {
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: { ...injected.response, uid: 'u"\\\u2028', warnings: ['dapr.io/x: "…"'] },
      },
      { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "u", allowed: true } },
      errorReview("u", 400, 'bad "input"'),
    ];
    expect(injected.response.patch).to.be.a("string").and.not.equal("");
    for (const review of reviews) expect(JSON.parse(admissionReviewJson(review))).to.deep.equal(review);
  });
});

describe("webhook HTTPS shell", function () {
  let server: TestServer;
  afterEach(async () => server?.stop());

  describe("with the real admission core", function () {
    beforeEach(async () => (server = await startTestServer({ admit: realAdmit })));

    it("answers a pod CREATE review with a patch, echoing apiVersion, kind and uid", async function () {
      const res = await server.post(JSON.stringify(podCreateReview("uid-1", annotatedPod())));
      expect(res.status).to.equal(200);
      expect(res.headers["content-type"]).to.match(/^application\/json/);
      const body = parse(res.text);
      expect(body.apiVersion).to.equal("admission.k8s.io/v1");
      expect(body.kind).to.equal("AdmissionReview");
      expect(body.response.uid).to.equal("uid-1");
      expect(body.response.allowed).to.equal(true);
      expect(body.response.patchType).to.equal("JSONPatch");
      const ops = JSON.parse(Buffer.from(body.response.patch as string, "base64").toString()) as Array<{
        path: string;
      }>;
      expect(ops.map((o) => o.path)).to.include("/spec/initContainers");
      expect(
        await metricValue(server, "outrigger_injector_admission_requests_total", { result: "injected" }),
      ).to.equal(1);
      expect(await metricValue(server, "outrigger_injector_injections_total", { dry_run: "false" })).to.equal(
        1,
      );
    });

    it("logs an injection at debug, with uid, namespace, generateName, decision and reason", async function () {
      await server.post(JSON.stringify(podCreateReview("uid-log", annotatedPod())));
      expect(admissionLog(server)).to.include({
        level: 20,
        uid: "uid-log",
        namespace: "shop",
        generateName: "checkout-7d9f8b6c5d-",
        decision: "injected",
        reason: "injected",
        appId: "checkout",
        dryRun: false,
      });
    });

    it("treats a dry run exactly like a real request", async function () {
      const real = parse((await server.post(JSON.stringify(podCreateReview("u", annotatedPod())))).text);
      const dry = parse(
        (await server.post(JSON.stringify(podCreateReview("u", annotatedPod(), { dryRun: true })))).text,
      );
      expect(dry).to.deep.equal(real);
      expect(await metricValue(server, "outrigger_injector_injections_total", { dry_run: "true" })).to.equal(
        1,
      );
    });

    it("skips a pod without annotations and counts the reason", async function () {
      const pod = { metadata: { name: "plain" }, spec: { containers: [{ name: "c", image: "busybox" }] } };
      const body = parse((await server.post(JSON.stringify(podCreateReview("uid-skip", pod)))).text);
      expect(body.response).to.deep.equal({ uid: "uid-skip", allowed: true });
      expect(await metricValue(server, "outrigger_injector_skips_total", { reason: "not-enabled" })).to.equal(
        1,
      );
      expect(admissionLog(server)).to.include({
        level: 20,
        name: "plain",
        decision: "skipped",
      });
    });

    it("denies an invalid annotation with the core's message", async function () {
      const pod = annotatedPod();
      (pod.metadata as { annotations: Record<string, string> }).annotations["dapr.io/app-port"] = "http";
      const res = await server.post(JSON.stringify(podCreateReview("uid-deny", pod)));
      expect(res.status).to.equal(200);
      const body = parse(res.text);
      expect(body.response.allowed).to.equal(false);
      expect((body.response.status as { message: string }).message).to.contain('dapr.io/app-port: "http"');
      expect(
        await metricValue(server, "outrigger_injector_denials_total", { reason: "invalid-annotation" }),
      ).to.equal(1);
      // Unlike pods admitted, a denial is logged at info, with the message the user sees.
      expect(admissionLog(server)).to.include({
        level: 30,
        uid: "uid-deny",
        decision: "denied",
        reason: "invalid-annotation",
      });
      expect(admissionLog(server)?.message).to.contain('dapr.io/app-port: "http"');
    });
  });

  describe("bad input", function () {
    const calls: AdmissionRequest[] = [];
    const stubAdmit = (request: AdmissionRequest): AdmissionOutcome => {
      calls.push(request);
      return { response: { uid: request.uid, allowed: true }, result: "skipped", reason: "not-enabled" };
    };
    beforeEach(async () => {
      calls.length = 0;
      server = await startTestServer({ admit: stubAdmit, maxRequestBytes: 4096 });
    });

    async function expectError(
      res: { status: number; text: string },
      status: number,
      uid: string,
      message: RegExp,
    ) {
      expect(res.status).to.equal(status);
      const body = parse(res.text);
      expect(body.apiVersion).to.equal("admission.k8s.io/v1");
      expect(body.kind).to.equal("AdmissionReview");
      expect(body.response.uid).to.equal(uid);
      expect(body.response.allowed).to.equal(false);
      const st = body.response.status as { code: number; message: string };
      expect(st.code).to.equal(status);
      expect(st.message).to.match(message);
      expect(calls, "the core never sees a rejected request").to.have.length(0);
    }

    it("answers 413 for a body over the limit", async function () {
      const big = JSON.stringify(podCreateReview("uid-big", { metadata: { name: "x".repeat(5000) } }));
      await expectError(await server.post(big), 413, "", /larger than 4096 bytes/);
      expect(
        await metricValue(server, "outrigger_injector_invalid_requests_total", { reason: "too-large" }),
      ).to.equal(1);
    });

    it("answers 415 for a wrong or missing content type, or a charset other than UTF-8", async function () {
      const body = JSON.stringify(podCreateReview("u", {}));
      await expectError(
        await server.post(body, { "content-type": "text/plain" }),
        415,
        "",
        /application\/json/,
      );
      await expectError(await server.post(body, {}), 415, "", /application\/json/);
      await expectError(
        await server.post(body, { "content-type": "application/json; charset=utf-16" }),
        415,
        "",
        /UTF-8/,
      );
      const ok = await server.post(body, { "content-type": "application/json; charset=UTF-8" });
      expect(ok.status).to.equal(200);
    });

    it("reads gzip, deflate and br bodies, and answers 415 for any other Content-Encoding", async function () {
      const body = JSON.stringify(podCreateReview("uid-zip", {}));
      for (const [encoding, bytes] of [
        ["gzip", zlib.gzipSync(body)],
        ["deflate", zlib.deflateSync(body)],
        ["br", zlib.brotliCompressSync(body)],
      ] as const) {
        const res = await server.post(bytes, {
          "content-type": "application/json",
          "content-encoding": encoding,
        });
        expect(res.status, encoding).to.equal(200);
        expect(parse(res.text).response.uid).to.equal("uid-zip");
      }
      expect(calls).to.have.length(3);
      calls.length = 0;
      await expectError(
        await server.post(body, { "content-type": "application/json", "content-encoding": "zstd" }),
        415,
        "",
        /Content-Encoding "zstd"/,
      );
    });

    it("answers 413 when a compressed body inflates past the limit", async function () {
      const bomb = zlib.gzipSync(Buffer.alloc(1024 * 1024, " "));
      expect(bomb.length).to.be.below(4096);
      await expectError(
        await server.post(bomb, { "content-type": "application/json", "content-encoding": "gzip" }),
        413,
        "",
        /larger than 4096 bytes/,
      );
    });

    it("lets go of a request whose client disconnects mid-body, and keeps serving", async function () {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: server.webhook.address().port,
        ca: server.certificates.caBundlePem,
        servername: "localhost",
      });
      await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
      socket.write(
        'POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"apiVersion":',
      );
      await new Promise((r) => setTimeout(r, 50));
      socket.destroy();
      const gone = () => server.logs.some((l) => l.msg === "client went away before its request was read");
      for (let i = 0; i < 100 && !gone(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(gone(), "the abandoned read settles").to.equal(true);
      expect(server.webhook.inFlight()).to.equal(0);
      expect(calls).to.have.length(0);
      const ok = await server.post(JSON.stringify(podCreateReview("after", {})));
      expect(ok.status).to.equal(200);
      calls.length = 0;
    });

    it("answers 400 for a body that is not valid compressed data", async function () {
      await expectError(
        await server.post("not gzip", { "content-type": "application/json", "content-encoding": "gzip" }),
        400,
        "",
        /could not read the body/,
      );
    });

    it("answers 400 for malformed JSON", async function () {
      await expectError(
        await server.post('{"apiVersion": "admission.k8s.io/v1",'),
        400,
        "",
        /malformed JSON/,
      );
      await expectError(await server.post(""), 400, "", /malformed JSON/);
    });

    it("answers 400 when request.uid is missing, echoing nothing it does not have", async function () {
      const review = podCreateReview("x", {});
      delete (review.request as Record<string, unknown>).uid;
      await expectError(await server.post(JSON.stringify(review)), 400, "", /request\.uid/);
      (review.request as Record<string, unknown>).uid = 42;
      await expectError(await server.post(JSON.stringify(review)), 400, "", /request\.uid/);
    });

    it("answers 400 for something that is not an AdmissionReview, echoing the uid it found", async function () {
      const v1beta1 = { ...podCreateReview("uid-old", {}), apiVersion: "admission.k8s.io/v1beta1" };
      await expectError(await server.post(JSON.stringify(v1beta1)), 400, "uid-old", /admission\.k8s\.io\/v1/);
      await expectError(await server.post("[1,2,3]"), 400, "", /not a JSON object/);
      const noRequest = { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" };
      await expectError(await server.post(JSON.stringify(noRequest)), 400, "", /request is missing/);
    });

    it("answers 405 for other methods on /mutate and 404 elsewhere", async function () {
      const get = await server.request("GET", "/mutate");
      expect(get.headers.allow).to.equal("POST");
      await expectError(get, 405, "", /use POST/);
      const other = await server.post("{}", { "content-type": "application/json" }, "/validate");
      expect(other.status).to.equal(404);
      expect(JSON.parse(other.text)).to.have.property("message");
    });

    it("converts Subscriptions at POST /convert, answering a ConversionReview with the request's uid", async function () {
      const review = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "ConversionReview",
        request: {
          uid: "conv-1",
          desiredAPIVersion: "dapr.io/v2alpha1",
          objects: [
            {
              apiVersion: "dapr.io/v1alpha1",
              kind: "Subscription",
              metadata: { name: "orders", namespace: "shop" },
              spec: { pubsubname: "pubsub", topic: "orders", route: "/orders" },
            },
          ],
        },
      };
      const res = await server.post(
        JSON.stringify(review),
        { "content-type": "application/json" },
        "/convert",
      );
      expect(res.status).to.equal(200);
      const body = JSON.parse(res.text) as {
        kind: string;
        response: {
          uid: string;
          result: { status: string };
          convertedObjects: Array<Record<string, unknown>>;
        };
      };
      expect(body.kind).to.equal("ConversionReview");
      expect(body.response.uid).to.equal("conv-1");
      expect(body.response.result.status).to.equal("Success");
      expect(body.response.convertedObjects[0]).to.deep.include({ apiVersion: "dapr.io/v2alpha1" });
      expect((body.response.convertedObjects[0]!.spec as { routes: unknown }).routes).to.deep.equal({
        default: "/orders",
      });
      expect(server.logs.find((l) => l.msg === "conversion")).to.include({
        uid: "conv-1",
        result: "Success",
      });
      expect(
        await metricValue(server, "outrigger_injector_conversion_requests_total", { result: "success" }),
      ).to.equal(1);
      const duration = (await server.registry.getMetricsAsJSON()).find(
        (m) => m.name === "outrigger_injector_conversion_duration_seconds",
      );
      const count = (
        duration?.values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>
      ).find(
        (v) =>
          v.metricName === "outrigger_injector_conversion_duration_seconds_count" &&
          v.labels.result === "success",
      );
      expect(count?.value, "one latency sample of a successful conversion").to.equal(1);
      // /convert is not an admission: the /mutate series stay at zero.
      expect(
        await metricValue(server, "outrigger_injector_admission_requests_total", { result: "invalid" }),
      ).to.equal(0);
    });

    it("answers a review it cannot convert with a Failure result, and bad requests with 4xx", async function () {
      const review = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "ConversionReview",
        request: { uid: "conv-2", desiredAPIVersion: "dapr.io/v9", objects: [] },
      };
      const failed = await server.post(
        JSON.stringify(review),
        { "content-type": "application/json" },
        "/convert",
      );
      expect(failed.status).to.equal(200);
      expect(JSON.parse(failed.text).response.result).to.deep.equal({
        status: "Failure",
        message: "cannot convert Subscriptions to dapr.io/v9",
      });
      expect((await server.post("{", { "content-type": "application/json" }, "/convert")).status).to.equal(
        400,
      );
      expect((await server.post("{}", { "content-type": "text/plain" }, "/convert")).status).to.equal(415);
      const get = await server.request("GET", "/convert");
      expect(get.status).to.equal(405);
      expect(get.headers.allow).to.equal("POST");
      const conversions = async (result: string) =>
        metricValue(server, "outrigger_injector_conversion_requests_total", { result });
      expect([
        await conversions("success"),
        await conversions("failure"),
        await conversions("invalid"),
      ]).to.deep.equal([0, 1, 3]);
      const failures = async (reason: string) =>
        metricValue(server, "outrigger_injector_conversion_failures_total", { reason });
      expect(await failures("unsupported-version")).to.equal(1);
      expect(await failures("malformed-json")).to.equal(1);
      expect(await failures("unsupported-media-type")).to.equal(1);
      expect(await failures("method-not-allowed")).to.equal(1);
    });

    it("counts /convert failures only under the closed set of reasons, each starting at zero", async function () {
      const reasons = async () =>
        (await server.registry.getMetricsAsJSON())
          .find((m) => m.name === "outrigger_injector_conversion_failures_total")!
          .values.map((v) => String(v.labels.reason))
          .sort();
      const before = await reasons();
      expect(before).to.include.members(["not-a-review", "conversion-error", "too-large", "read-failed"]);
      for (const body of [
        '{"kind":"x"}',
        '{"kind":"ConversionReview","request":{"objects":1}}',
        "[]",
        "null",
      ])
        await server.post(body, { "content-type": "application/json" }, "/convert");
      await server.post(
        "{}",
        { "content-type": "application/json", "content-encoding": "br-evil" },
        "/convert",
      );
      expect(await reasons(), "no new label values").to.deep.equal(before);
      expect(
        await metricValue(server, "outrigger_injector_conversion_failures_total", { reason: "not-a-review" }),
      ).to.equal(3);
      expect(
        await metricValue(server, "outrigger_injector_conversion_failures_total", {
          reason: "objects-not-a-list",
        }),
      ).to.equal(1);
      expect(
        await metricValue(server, "outrigger_injector_conversion_failures_total", {
          reason: "unsupported-media-type",
        }),
      ).to.equal(1);
    });

    it("echoes the request's uid even when the core answers with another", async function () {
      await server.stop();
      server = await startTestServer({
        admit: () => ({
          response: { uid: "wrong", allowed: true },
          result: "skipped",
          reason: "not-enabled",
        }),
      });
      const body = parse((await server.post(JSON.stringify(podCreateReview("right", {})))).text);
      expect(body.response.uid).to.equal("right");
    });

    it("answers 500 with a review if the core throws, and keeps serving", async function () {
      await server.stop();
      let fail = true;
      server = await startTestServer({
        admit: (r) => {
          if (fail) throw new Error("boom");
          return stubAdmit(r);
        },
      });
      const res = await server.post(JSON.stringify(podCreateReview("uid-500", {})));
      expect(res.status).to.equal(500);
      expect(parse(res.text).response).to.deep.include({ uid: "uid-500", allowed: false });
      fail = false;
      expect((await server.post(JSON.stringify(podCreateReview("uid-ok", {})))).status).to.equal(200);
      expect(
        await metricValue(server, "outrigger_injector_admission_requests_total", { result: "error" }),
      ).to.equal(1);
    });
  });

  describe("TLS", function () {
    beforeEach(async () => (server = await startTestServer({ admit: realAdmit })));

    function handshake(opts: tls.ConnectionOptions): Promise<tls.PeerCertificate> {
      return new Promise((resolve, reject) => {
        const socket = tls.connect(
          { host: "127.0.0.1", port: server.webhook.address().port, ...opts },
          () => {
            const cert = socket.getPeerCertificate();
            socket.end();
            resolve(cert);
          },
        );
        socket.on("error", reject);
      });
    }

    it("refuses TLS 1.1 and accepts TLS 1.2 and 1.3", async function () {
      const ca = server.certificates.caBundlePem;
      let refused: unknown;
      await handshake({ ca, servername: "localhost", minVersion: "TLSv1", maxVersion: "TLSv1.1" }).catch(
        (err: unknown) => (refused = err),
      );
      expect(refused, "a TLS 1.1 handshake fails").to.be.instanceOf(Error);
      await handshake({ ca, servername: "localhost", maxVersion: "TLSv1.2" });
      await handshake({ ca, servername: "localhost", minVersion: "TLSv1.3" });
    });

    it("serves a new certificate to new connections after setCertificate", async function () {
      const before = await handshake({ ca: server.certificates.caBundlePem, servername: "localhost" });
      const fresh = rotateCertificates(undefined, new Date(), {
        ...LOOPBACK_HOSTS,
        caCommonName: "other",
        caValidityMs: 3_600_000,
        servingValidityMs: 600_000,
      }).certificates;
      server.webhook.setCertificate(fresh.serving);
      const after = await handshake({ ca: fresh.caBundlePem, servername: "localhost" });
      const serial = forge.pki.certificateFromPem(fresh.serving.certPem).serialNumber.toUpperCase();
      expect(after.serialNumber.toUpperCase().replace(/^0+/, "")).to.equal(serial.replace(/^0+/, ""));
      expect(after.serialNumber).to.not.equal(before.serialNumber);
      // And the old CA no longer verifies the server.
      let failed: unknown;
      await handshake({ ca: server.certificates.caBundlePem, servername: "localhost" }).catch(
        (e: unknown) => (failed = e),
      );
      expect(failed).to.be.instanceOf(Error);
    });
  });

  describe("shutdown", function () {
    it("finishes in-flight requests, then stops accepting connections", async function () {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      let entered: () => void = () => undefined;
      const inCore = new Promise<void>((r) => (entered = r));
      // The core is synchronous, so hold the response back instead.
      server = await startTestServer({
        admit: (r) => ({ response: { uid: r.uid, allowed: true }, result: "skipped", reason: "not-enabled" }),
      });
      server.webhook.server.prependListener("request", (_req, res) => {
        entered();
        const write = res.end.bind(res) as (...args: unknown[]) => unknown;
        res.end = ((...args: unknown[]) => {
          void gate.then(() => write(...args));
          return res;
        }) as typeof res.end;
      });
      const port = server.webhook.address().port;
      const pending = server.post(JSON.stringify(podCreateReview("slow", {})));
      await inCore;
      expect(server.webhook.inFlight()).to.equal(1);
      let closed = false;
      const closing = server.webhook.close(10_000).then(() => (closed = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(closed, "close waits for the in-flight request").to.equal(false);
      release();
      const res = await pending;
      expect(res.status).to.equal(200);
      expect(parse(res.text).response.uid).to.equal("slow");
      await closing;
      let refused: unknown;
      await new Promise<void>((resolve) => {
        const req = https.request(
          { host: "127.0.0.1", port, method: "GET", path: "/", rejectUnauthorized: false },
          () => resolve(),
        );
        req.on("error", (e) => {
          refused = e;
          resolve();
        });
        req.end();
      });
      expect(refused).to.be.instanceOf(Error);
      server.agent.destroy();
    });
  });
});
