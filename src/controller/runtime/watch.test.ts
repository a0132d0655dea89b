import type { KubernetesObject } from "@kubernetes/client-node";
import { expect } from "chai";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { KubeApiError, classifyApiError } from "../../shared/api-errors.ts";
import type { ApiEndpoint } from "../../shared/kubeconfig.ts";
import { createKubeHttp, streamLines } from "../../shared/kube-http.ts";
import { decodeMetadataList } from "../../shared/metadata-protobuf.ts";
import { resourcePath, resources } from "./resource.ts";
import { WatchDecodeError, kubeListerWatcher, parseWatchLine, type WatchEvent } from "./watch.ts";

function endpointAt(port: number, headers: Record<string, string> = {}): ApiEndpoint {
  return {
    server: `http://127.0.0.1:${port}`,
    namespace: undefined,
    source: "test",
    requestOptions: async () => ({ headers }),
  };
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

/** A stand-in API server on loopback; each test sets the handler. */
async function fakeApiServer() {
  let handler: Handler = (_req, res) => res.writeHead(500).end();
  const requests: URL[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    requests.push(url);
    headers.push(req.headers);
    handler(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: endpointAt(port, { Authorization: "Bearer secret-token" }),
    port,
    requests,
    headers,
    handle: (h: Handler) => void (handler = h),
    close: () =>
      new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const status = (code: number, reason: string) =>
  JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    reason,
    message: `${reason}!`,
  });
const cm = (name: string, rv: string): KubernetesObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "ns", resourceVersion: rv },
});
const line = (type: string, object: unknown) => JSON.stringify({ type, object }) + "\n";

describe("resourcePath", () => {
  it("builds core, group, namespaced and cluster-wide paths", () => {
    expect(resourcePath(resources.configMaps, "ns")).to.equal("/api/v1/namespaces/ns/configmaps");
    expect(resourcePath(resources.secrets)).to.equal("/api/v1/secrets");
    expect(resourcePath(resources.components, "a", "redis")).to.equal(
      "/apis/dapr.io/v1alpha1/namespaces/a/components/redis",
    );
    expect(resourcePath(resources.namespaces, "ignored", "default")).to.equal("/api/v1/namespaces/default");
    expect(resourcePath(resources.cronJobs, "x")).to.equal("/apis/batch/v1/namespaces/x/cronjobs");
  });
});

describe("parseWatchLine", () => {
  it("decodes events and throws ERROR events as API errors", () => {
    expect(parseWatchLine(line("ADDED", cm("a", "1")).trim())).to.deep.equal({
      type: "ADDED",
      object: cm("a", "1"),
    });
    const gone = () =>
      parseWatchLine(
        line("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" }),
      );
    expect(gone).to.throw(KubeApiError).with.property("statusCode", 410);
    expect(() => parseWatchLine("{not json")).to.throw(WatchDecodeError);
    expect(() => parseWatchLine(JSON.stringify({ type: "WHAT", object: {} }))).to.throw(WatchDecodeError);
  });
});

describe("kubeListerWatcher over HTTP", () => {
  let api: Awaited<ReturnType<typeof fakeApiServer>>;
  beforeEach(async () => (api = await fakeApiServer()));
  afterEach(async () => api.close());

  it("lists every page with the selectors and the kubeconfig's credentials", async () => {
    api.handle((_req, res, url) => {
      const page2 = url.searchParams.get("continue") === "tok";
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          items: page2 ? [cm("c", "3")] : [cm("a", "1"), cm("b", "2")],
          metadata: { resourceVersion: "10", continue: page2 ? "" : "tok" },
        }),
      );
    });
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.configMaps, {
      namespace: "ns",
      labelSelector: "app=x",
      pageSize: 2,
    });
    const list = await lw.list(new AbortController().signal);
    expect(list.items.map((o) => o.metadata!.name)).to.deep.equal(["a", "b", "c"]);
    expect(list.resourceVersion).to.equal("10");
    expect(api.requests.map((u) => u.pathname)).to.deep.equal([
      "/api/v1/namespaces/ns/configmaps",
      "/api/v1/namespaces/ns/configmaps",
    ]);
    expect(api.requests[0]!.searchParams.get("labelSelector")).to.equal("app=x");
    expect(api.requests[0]!.searchParams.get("limit")).to.equal("2");
    expect(api.requests[1]!.searchParams.get("continue")).to.equal("tok");
    expect(api.headers[0]!.authorization).to.equal("Bearer secret-token");
  });

  it("asks for PartialObjectMetadata (protobuf, else JSON) when metadataOnly, and plain JSON otherwise", async () => {
    api.handle((req, res, url) => {
      if (url.searchParams.get("watch")) return res.writeHead(200).end(line("ADDED", cm("a", "2")));
      res.writeHead(200).end(JSON.stringify({ items: [cm("a", "1")], metadata: { resourceVersion: "1" } }));
    });
    const http = createKubeHttp(api.endpoint);
    const meta = kubeListerWatcher(http, resources.pods, { metadataOnly: true });
    // A server that answers in JSON is read as JSON.
    expect((await meta.list(new AbortController().signal)).items).to.deep.equal([cm("a", "1")]);
    const events: WatchEvent<KubernetesObject>[] = [];
    await meta.watch("1", (e) => events.push(e), new AbortController().signal);
    expect(events).to.deep.equal([{ type: "ADDED", object: cm("a", "2") }]);
    await kubeListerWatcher(http, resources.pods, {}).list(new AbortController().signal);
    const pb = "application/vnd.kubernetes.protobuf";
    expect(api.headers.map((h) => h.accept)).to.deep.equal([
      `${pb};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`,
      `${pb};as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`,
      "application/json",
    ]);
  });

  it("reads metadata-only pages and watches answered in protobuf (real API server answers)", async () => {
    const golden = (name: string) =>
      readFileSync(join(import.meta.dirname, "../../shared/testdata/protobuf", name));
    api.handle((_req, res, url) => {
      const body = url.searchParams.get("watch")
        ? golden("watch.pb")
        : golden(url.searchParams.get("continue") ? "list-page2.pb" : "list-page1.pb");
      res.writeHead(200, {
        "content-type": `application/vnd.kubernetes.protobuf${url.searchParams.get("watch") ? ";stream=watch" : ""}`,
      });
      // In small writes, so that frames and pages arrive split across chunks.
      for (let i = 0; i < body.length; i += 1000) res.write(body.subarray(i, i + 1000));
      res.end();
    });
    const names: string[] = [];
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.pods, {
      metadataOnly: true,
      pageSize: 2,
      transform: (p) => (names.push(p.metadata!.name!), p),
    });
    const list = await lw.list(new AbortController().signal);
    const all = decodeMetadataList(golden("list-all.pb"));
    expect(list.items).to.deep.equal(all.items);
    expect(list.resourceVersion).to.equal(all.metadata.resourceVersion);
    expect(api.requests.map((u) => u.searchParams.get("continue"))).to.deep.equal([
      null,
      decodeMetadataList(golden("list-page1.pb")).metadata.continue,
    ]);
    const events: WatchEvent<KubernetesObject>[] = [];
    await lw.watch(list.resourceVersion, (e) => events.push(e), new AbortController().signal);
    expect(events.map((e) => `${e.type} ${e.object.metadata!.name}`)).to.deep.equal([
      "MODIFIED a",
      "MODIFIED b",
      "DELETED b",
    ]);
    expect(names).to.deep.equal(["a", "b", list.items[2]!.metadata!.name, "a", "b", "b"]);
  });

  it("falls back to one unpaginated list when a continue token has expired", async () => {
    api.handle((_req, res, url) => {
      if (url.searchParams.get("continue")) return res.writeHead(410).end(status(410, "Expired"));
      if (url.searchParams.get("limit"))
        return res
          .writeHead(200)
          .end(
            JSON.stringify({ items: [cm("a", "1")], metadata: { resourceVersion: "5", continue: "old" } }),
          );
      res
        .writeHead(200)
        .end(JSON.stringify({ items: [cm("a", "1"), cm("b", "2")], metadata: { resourceVersion: "6" } }));
    });
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.configMaps, {});
    const list = await lw.list(new AbortController().signal);
    expect(list.items).to.have.length(2);
    expect(list.resourceVersion).to.equal("6");
  });

  it("watches with resourceVersion, bookmarks and a spread server timeout, and reads events split across chunks", async () => {
    api.handle((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const payload =
        line("ADDED", cm("a", "2")) +
        line("BOOKMARK", { metadata: { resourceVersion: "3" } }) +
        line("DELETED", cm("a", "4"));
      res.write(payload.slice(0, 17));
      setTimeout(() => res.write(payload.slice(17, 90)), 5);
      setTimeout(() => res.end(payload.slice(90)), 10);
    });
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.configMaps, {
      namespace: "ns",
      minWatchTimeoutSeconds: 300,
      random: () => 0.5,
    });
    const events: WatchEvent<KubernetesObject>[] = [];
    await lw.watch("1", (e) => events.push(e), new AbortController().signal);
    expect(events.map((e) => `${e.type}@${e.object.metadata?.resourceVersion}`)).to.deep.equal([
      "ADDED@2",
      "BOOKMARK@3",
      "DELETED@4",
    ]);
    const q = api.requests[0]!.searchParams;
    expect(Object.fromEntries(q)).to.deep.equal({
      watch: "true",
      resourceVersion: "1",
      allowWatchBookmarks: "true",
      timeoutSeconds: "450",
    });
  });

  it("transforms every listed and watched object, but not bookmarks", async () => {
    api.handle((_req, res, url) => {
      res.writeHead(200, { "content-type": "application/json" });
      if (url.searchParams.get("watch") !== "true")
        return res.end(JSON.stringify({ items: [cm("a", "1")], metadata: { resourceVersion: "1" } }));
      res.end(
        line("MODIFIED", cm("a", "2")) +
          line("BOOKMARK", { metadata: { resourceVersion: "3" } }) +
          line("DELETED", cm("a", "4")),
      );
    });
    const lw = kubeListerWatcher<KubernetesObject>(createKubeHttp(api.endpoint), resources.configMaps, {
      transform: (o) => ({ ...o, metadata: { ...o.metadata, labels: { trimmed: "yes" } } }),
    });
    const list = await lw.list(new AbortController().signal);
    expect(list.items[0]?.metadata?.labels).to.deep.equal({ trimmed: "yes" });
    const events: WatchEvent<KubernetesObject>[] = [];
    await lw.watch("1", (e) => events.push(e), new AbortController().signal);
    expect(events.map((e) => `${e.type}:${e.object.metadata?.labels?.trimmed ?? "-"}`)).to.deep.equal([
      "MODIFIED:yes",
      "BOOKMARK:-",
      "DELETED:yes",
    ]);
  });

  it("rejects with 410 for an ERROR event carrying Expired", async () => {
    api.handle((_req, res) => {
      res.writeHead(200);
      res.write(
        line("ERROR", {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          code: 410,
          reason: "Expired",
          message: "too old resource version: 1 (50)",
        }),
      );
      // The real server closes after an ERROR event; keep it open to show we do not wait for that.
    });
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.configMaps, {});
    const err = await lw
      .watch("1", () => {}, new AbortController().signal)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(classifyApiError(err)).to.include({ kind: "gone", statusCode: 410, reason: "Expired" });
  });

  it("rejects with 410 when the watch request itself answers 410", async () => {
    api.handle((_req, res) =>
      res.writeHead(410, { "content-type": "application/json" }).end(status(410, "Gone")),
    );
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.configMaps, {});
    const err = await lw
      .watch("1", () => {}, new AbortController().signal)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(classifyApiError(err)).to.include({ kind: "gone", reason: "Gone" });
  });

  it("rejects on a line that is not a watch event", async () => {
    api.handle((_req, res) => res.writeHead(200).end("<html>proxy error</html>\n"));
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.configMaps, {});
    const err = await lw
      .watch("1", () => {}, new AbortController().signal)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).to.be.instanceOf(WatchDecodeError);
  });

  it("rejects as a network error when the connection drops mid-stream", async () => {
    api.handle((req, res) => {
      res.writeHead(200);
      res.write(line("ADDED", cm("a", "2")));
      setTimeout(() => req.socket.destroy(), 10);
    });
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.configMaps, {});
    const events: unknown[] = [];
    const err = await lw
      .watch("1", (e) => events.push(e), new AbortController().signal)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(events).to.have.length(1);
    expect(classifyApiError(err).kind).to.equal("network");
  });

  it("stops a watch at once when aborted", async () => {
    let closed = false;
    api.handle((req, res) => {
      res.writeHead(200);
      res.write(line("ADDED", cm("a", "2")));
      req.socket.on("close", () => (closed = true));
    });
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.configMaps, {});
    const ac = new AbortController();
    const watching = lw.watch("1", () => ac.abort(new Error("stop")), ac.signal);
    const err = await watching.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).to.equal("stop");
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).to.equal(true);
  });
});

describe("createKubeHttp", () => {
  let api: Awaited<ReturnType<typeof fakeApiServer>>;
  beforeEach(async () => (api = await fakeApiServer()));
  afterEach(async () => api.close());

  it("sends JSON bodies and turns error statuses into KubeApiError with the Status", async () => {
    let received = "";
    api.handle((req, res) => {
      req.on("data", (c: Buffer) => (received += c.toString()));
      req.on("end", () => res.writeHead(409, { "retry-after": "1" }).end(status(409, "AlreadyExists")));
    });
    const err = await createKubeHttp(api.endpoint)
      .json({ method: "POST", path: "/api/v1/namespaces/ns/configmaps", body: cm("a", "") })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(JSON.parse(received).metadata.name).to.equal("a");
    expect(err).to.be.instanceOf(KubeApiError);
    expect(classifyApiError(err)).to.include({
      kind: "already-exists",
      message: "AlreadyExists!",
      retryAfterMs: 1_000,
    });
  });

  it("reads an error Status answered in protobuf, as the API server may for a protobuf request", async () => {
    const notFound = readFileSync(
      join(import.meta.dirname, "../../shared/testdata/protobuf/status-not-found.pb"),
    );
    api.handle((_req, res) =>
      res.writeHead(404, { "content-type": "application/vnd.kubernetes.protobuf" }).end(notFound),
    );
    const lw = kubeListerWatcher(createKubeHttp(api.endpoint), resources.pods, { metadataOnly: true });
    const err = await lw.list(new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(KubeApiError);
    expect(classifyApiError(err)).to.include({ kind: "not-found", message: 'pods "missing" not found' });
  });

  it("enforces its deadline on a server that never answers", async () => {
    api.handle(() => {});
    const started = Date.now();
    const err = await streamLines(
      createKubeHttp(api.endpoint),
      { path: "/api/v1/configmaps", timeoutMs: 100 },
      () => {},
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(classifyApiError(err).kind).to.equal("timeout");
    expect(Date.now() - started).to.be.lessThan(2_000);
  });

  it("reports a refused connection as a network error", async () => {
    const port = api.port;
    await api.close();
    const err = await createKubeHttp(endpointAt(port))
      .json({ path: "/version" })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(classifyApiError(err).kind).to.equal("network");
    api = await fakeApiServer(); // for afterEach
  });
});
