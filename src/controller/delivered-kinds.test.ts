import { expect } from "chai";
import type {
  HTTPEndpoint,
  MCPServer,
  Resiliency,
  Subscription,
  WorkflowAccessPolicy,
} from "../apis/types.ts";
import {
  HTTP_ENDPOINTS_KEY,
  MCP_SERVERS_KEY,
  RESILIENCY_KEY,
  SUBSCRIPTIONS_KEY,
  WORKFLOW_ACCESS_POLICIES_KEY,
} from "../sidecar/config-secret.ts";
import { changedResources } from "./app-results.ts";
import {
  DELIVERED_KINDS,
  deliveredKindSpec,
  resolveHttpEndpoint,
  resolveMcpServer,
} from "./delivered-kinds.ts";
import { desiredSidecarConfig, parseSidecarFile, sidecarConfigSecret } from "./sidecar-config.ts";

const APP = { namespace: "shop", appId: "checkout", configName: undefined };
const secret = (name: string, data: Record<string, string>) => ({
  metadata: { name, namespace: "shop" },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
});
const endpoint = (name: string, extra: Partial<HTTPEndpoint> = {}): HTTPEndpoint => ({
  apiVersion: "dapr.io/v1alpha1",
  kind: "HTTPEndpoint",
  metadata: { name, namespace: "shop", generation: 1, uid: "u", resourceVersion: "9" },
  spec: { baseUrl: "http://x", headers: [{ name: "Authorization", secretKeyRef: { name: "tok" } }] },
  ...extra,
});
const resiliency = (name: string, scopes?: string[]): Resiliency => ({
  apiVersion: "dapr.io/v1alpha1",
  kind: "Resiliency",
  metadata: { name, namespace: "shop" },
  ...(scopes ? { scopes } : {}),
  spec: { policies: { timeouts: { t: "1s" } }, targets: { apps: { x: { timeout: "t" } } } },
});
const mcpServer = (name: string, spec: MCPServer["spec"], scopes?: string[]): MCPServer => ({
  apiVersion: "dapr.io/v1alpha1",
  kind: "MCPServer",
  metadata: { name, namespace: "shop", generation: 2 },
  ...(scopes ? { scopes } : {}),
  spec: { ignoreErrors: true, ...spec },
});
const policy = (name: string, scopes?: string[]): WorkflowAccessPolicy => ({
  apiVersion: "dapr.io/v1alpha1",
  kind: "WorkflowAccessPolicy",
  metadata: { name, namespace: "shop" },
  ...(scopes ? { scopes } : {}),
  spec: {
    rules: [{ callers: [{ appID: "front" }], workflows: [{ name: "order*", operations: ["schedule"] }] }],
  },
});
const subscription: Subscription = {
  apiVersion: "dapr.io/v2alpha1",
  kind: "Subscription",
  metadata: { name: "orders", namespace: "shop" },
  spec: { pubsubname: "pubsub", topic: "orders", routes: { default: "/orders" } },
};

describe("delivered kinds", () => {
  it("each has its own Secret key", () => {
    expect(DELIVERED_KINDS.map((k) => k.key).sort()).to.deep.equal(
      [
        HTTP_ENDPOINTS_KEY,
        MCP_SERVERS_KEY,
        RESILIENCY_KEY,
        SUBSCRIPTIONS_KEY,
        WORKFLOW_ACCESS_POLICIES_KEY,
      ].sort(),
    );
  });

  it("resolve an HTTPEndpoint header from a Kubernetes Secret, a missing key meaning the Secret's name", () => {
    const r = resolveHttpEndpoint(endpoint("e"), (_, n) =>
      n === "tok" ? secret("tok", { tok: "s3cret" }) : undefined,
    );
    expect(r.ok && (r.rendered.spec as HTTPEndpoint["spec"]).headers).to.deep.equal([
      { name: "Authorization", value: "s3cret" },
    ]);
    expect(r.ok && r.rendered.metadata).to.deep.equal({ name: "e", namespace: "shop" });
  });

  it("leave secretKeyRef to daprd when auth.secretStore names another store", () => {
    const r = resolveHttpEndpoint(endpoint("e", { auth: { secretStore: "vault" } }), () => undefined);
    expect(r.ok && (r.rendered.spec as HTTPEndpoint["spec"]).headers?.[0]?.secretKeyRef).to.deep.equal({
      name: "tok",
    });
  });

  it("name every unresolved reference of headers and clientTLS", () => {
    const e = endpoint("e", {
      spec: {
        baseUrl: "https://x",
        headers: [{ name: "A", secretKeyRef: { name: "gone" } }],
        clientTLS: { privateKey: { secretKeyRef: { name: "tls", key: "tls.key" } } },
      },
    });
    const r = resolveHttpEndpoint(e, (_, n) => (n === "tls" ? secret("tls", {}) : undefined));
    expect(r.ok).to.equal(false);
    expect(!r.ok && r.problems.map((p) => p.reason)).to.deep.equal(["SecretNotFound", "KeyNotFound"]);
  });

  it("deliver by scope, as Components, and keep the last good HTTPEndpoint", () => {
    const withSecret = (ns: string, n: string) => (n === "tok" ? secret("tok", { tok: "v1" }) : undefined);
    const delivered = {
      HTTPEndpoint: [endpoint("e")],
      Resiliency: [resiliency("mine", ["checkout"]), resiliency("theirs", ["other"]), resiliency("all")],
      Subscription: [subscription],
    };
    const first = desiredSidecarConfig(APP, [], undefined, withSecret, undefined, delivered);
    const names = (text: string | undefined) =>
      parseSidecarFile(text ?? "").map((d) => `${d.apiVersion} ${(d.metadata as { name: string }).name}`);
    expect(names(first.data[RESILIENCY_KEY])).to.deep.equal([
      "dapr.io/v1alpha1 all",
      "dapr.io/v1alpha1 mine",
    ]);
    expect(names(first.data[SUBSCRIPTIONS_KEY])).to.deep.equal(["dapr.io/v2alpha1 orders"]);
    expect(first.resources.HTTPEndpoint.map((r) => r.served)).to.deep.equal(["current"]);

    const broken = desiredSidecarConfig(
      APP,
      [],
      undefined,
      () => undefined,
      sidecarConfigSecret(APP, first),
      delivered,
    );
    expect(broken.data[HTTP_ENDPOINTS_KEY]).to.equal(first.data[HTTP_ENDPOINTS_KEY]);
    expect(broken.resources.HTTPEndpoint.map((r) => `${r.served}/${r.reason}`)).to.deep.equal([
      "lastGood/SecretNotFound",
    ]);
    const never = desiredSidecarConfig(APP, [], undefined, () => undefined, undefined, delivered);
    expect(parseSidecarFile(never.data[HTTP_ENDPOINTS_KEY] ?? "")).to.deep.equal([]);
    expect(never.resources.HTTPEndpoint[0]?.served).to.equal("none");
  });

  it("name the delivered resources whose result changed", () => {
    const result = (reason: "Ready" | "SecretNotFound") => ({
      components: [],
      configuration: {
        name: undefined,
        generation: undefined,
        reason: "Default" as const,
        problems: [],
        served: "default" as const,
        warnings: [],
      },
      resources: {
        HTTPEndpoint: [{ name: "e", generation: 1, reason, problems: [], served: "current" as const }],
        Resiliency: [],
        Subscription: [],
        MCPServer: [],
        WorkflowAccessPolicy: [],
      },
    });
    expect(changedResources("shop", result("Ready"), result("SecretNotFound"))).to.deep.equal([
      { kind: "HTTPEndpoint", namespace: "shop", name: "e" },
    ]);
    expect(changedResources("shop", result("Ready"), result("Ready"))).to.deep.equal([]);
  });

  it("resolve an MCPServer's transport headers from Kubernetes Secrets, and list the Secrets it reads", () => {
    const m = mcpServer("tools", {
      endpoint: {
        streamableHTTP: {
          url: "http://tools:8080/mcp",
          headers: [
            { name: "Authorization", secretKeyRef: { name: "mcp", key: "token" } },
            { name: "X-Env", envRef: "MCP_ENV" },
          ],
        },
      },
    });
    expect(deliveredKindSpec("MCPServer").secretNames(m)).to.deep.equal(["mcp"]);
    const r = resolveMcpServer(m, (_, n) => (n === "mcp" ? secret("mcp", { token: "Bearer t" }) : undefined));
    expect(r.ok && (r.rendered.spec as MCPServer["spec"]).endpoint.streamableHTTP?.headers).to.deep.equal([
      { name: "Authorization", value: "Bearer t" },
      { name: "X-Env", envRef: "MCP_ENV" },
    ]);
    const gone = resolveMcpServer(m, () => undefined);
    expect(!gone.ok && gone.problems).to.deep.equal([
      { reason: "SecretNotFound", item: "Authorization", secret: "mcp" },
    ]);
  });

  it("leave an MCPServer's secretKeyRef to daprd when its auth.secretStore names another store", () => {
    const m = mcpServer("tools", {
      endpoint: {
        sse: {
          url: "http://tools/sse",
          auth: { secretStore: "vault", oauth2: { issuer: "http://idp/token", secretKeyRef: { name: "c" } } },
          headers: [{ name: "A", secretKeyRef: { name: "x" } }],
        },
      },
    });
    expect(deliveredKindSpec("MCPServer").secretNames(m)).to.deep.equal([]);
    const r = resolveMcpServer(m, () => undefined);
    expect(r.ok && (r.rendered.spec as MCPServer["spec"]).endpoint.sse?.headers).to.deep.equal([
      { name: "A", secretKeyRef: { name: "x" } },
    ]);
  });

  it("refuse an MCPServer over stdio, and an OAuth2 client secret from the Kubernetes store, naming the field", () => {
    const stdio = resolveMcpServer(
      mcpServer("local", { endpoint: { stdio: { command: "npx" } } }),
      () => undefined,
    );
    expect(!stdio.ok && stdio.problems.map((p) => [p.reason, "field" in p && p.field])).to.deep.equal([
      ["NotDeliverable", "spec.endpoint.stdio"],
    ]);
    const oauth = resolveMcpServer(
      mcpServer("o", {
        endpoint: {
          streamableHTTP: {
            url: "https://o",
            auth: { oauth2: { issuer: "https://idp", secretKeyRef: { name: "c" } } },
          },
        },
      }),
      () => undefined,
    );
    expect(!oauth.ok && oauth.problems.map((p) => [p.reason, "field" in p && p.field])).to.deep.equal([
      ["NotDeliverable", "spec.endpoint.streamableHTTP.auth.oauth2.secretKeyRef"],
    ]);
  });

  it("refuse an MCPServer without ignoreErrors: true, which would make daprd exit without a placement service", () => {
    const strict = resolveMcpServer(
      mcpServer("strict", { ignoreErrors: false, endpoint: { sse: { url: "http://x/sse" } } }),
      () => undefined,
    );
    expect(!strict.ok && strict.problems.map((p) => [p.reason, "field" in p && p.field])).to.deep.equal([
      ["NotDeliverable", "spec.ignoreErrors"],
    ]);
    const { ignoreErrors: _i, ...unset } = mcpServer("unset", {
      endpoint: { sse: { url: "http://x/sse" } },
    }).spec;
    const absent = resolveMcpServer({ ...mcpServer("unset", unset), spec: unset }, () => undefined);
    expect(absent.ok).to.equal(false);
  });

  it("deliver MCPServers and WorkflowAccessPolicies by scope, in files of their own", () => {
    const c = desiredSidecarConfig(APP, [], undefined, () => undefined, undefined, {
      MCPServer: [
        mcpServer("tools", { endpoint: { streamableHTTP: { url: "http://tools/mcp" } } }, ["checkout"]),
        mcpServer("elsewhere", { endpoint: { sse: { url: "http://e/sse" } } }, ["other"]),
        mcpServer("local", { endpoint: { stdio: { command: "npx" } } }),
      ],
      WorkflowAccessPolicy: [policy("all"), policy("theirs", ["other"])],
    });
    const docs = (key: string) => parseSidecarFile(c.data[key] ?? "");
    expect(
      docs(MCP_SERVERS_KEY).map((d) => [d.apiVersion, d.kind, (d.metadata as { name: string }).name]),
    ).to.deep.equal([["dapr.io/v1alpha1", "MCPServer", "tools"]]);
    expect(docs(MCP_SERVERS_KEY)[0]).to.not.have.property("status");
    expect(c.resources.MCPServer.map((r) => `${r.name}/${r.served}/${r.reason}`)).to.deep.equal([
      "local/none/NotDeliverable",
      "tools/current/Ready",
    ]);
    expect(docs(WORKFLOW_ACCESS_POLICIES_KEY)).to.deep.equal([
      {
        apiVersion: "dapr.io/v1alpha1",
        kind: "WorkflowAccessPolicy",
        metadata: { name: "all", namespace: "shop" },
        spec: policy("all").spec,
      },
    ]);
  });

  it("mark a delivered Subscription whose pubsubname names no pub/sub Component of the app, and deliver it all the same", () => {
    const component = (name: string, type: string, scopes?: string[]) => ({
      apiVersion: "dapr.io/v1alpha1",
      kind: "Component",
      metadata: { name, namespace: "shop" },
      ...(scopes ? { scopes } : {}),
      spec: { type, version: "v1", metadata: [] },
    });
    const subs = (pubsubname: string): Subscription => ({
      ...subscription,
      spec: { ...subscription.spec, pubsubname },
    });
    const check = (pubsubname: string, components: ReturnType<typeof component>[]) => {
      const c = desiredSidecarConfig(APP, components, undefined, () => undefined, undefined, {
        Subscription: [subs(pubsubname)],
      });
      expect(parseSidecarFile(c.data[SUBSCRIPTIONS_KEY] ?? "")).to.have.length(1);
      return c.resources.Subscription[0]?.pubsubMissingFor;
    };
    expect(check("pubsub", [component("pubsub", "pubsub.in-memory")])).to.equal(undefined);
    expect(check("pubsub", []), "no Component").to.equal("checkout");
    expect(check("pubsub", [component("pubsub", "pubsub.redis", ["other"])]), "out of scope").to.equal(
      "checkout",
    );
    expect(check("pubsub", [component("pubsub", "state.redis")]), "not a pub/sub").to.equal("checkout");
    expect(check("other", [component("pubsub", "pubsub.in-memory")]), "another name").to.equal("checkout");
  });
});
