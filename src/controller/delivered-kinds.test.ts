import { expect } from "chai";
import type { HTTPEndpoint, Resiliency, Subscription } from "../apis/types.ts";
import { HTTP_ENDPOINTS_KEY, RESILIENCY_KEY, SUBSCRIPTIONS_KEY } from "../sidecar/config-secret.ts";
import { changedResources } from "./app-results.ts";
import { DELIVERED_KINDS, resolveHttpEndpoint } from "./delivered-kinds.ts";
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
const subscription: Subscription = {
  apiVersion: "dapr.io/v2alpha1",
  kind: "Subscription",
  metadata: { name: "orders", namespace: "shop" },
  spec: { pubsubname: "pubsub", topic: "orders", routes: { default: "/orders" } },
};

describe("delivered kinds", () => {
  it("each has its own Secret key", () => {
    expect(DELIVERED_KINDS.map((k) => k.key).sort()).to.deep.equal(
      [HTTP_ENDPOINTS_KEY, RESILIENCY_KEY, SUBSCRIPTIONS_KEY].sort(),
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
      },
    });
    expect(changedResources("shop", result("Ready"), result("SecretNotFound"))).to.deep.equal([
      { kind: "HTTPEndpoint", namespace: "shop", name: "e" },
    ]);
    expect(changedResources("shop", result("Ready"), result("Ready"))).to.deep.equal([]);
  });
});
