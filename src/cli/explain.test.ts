// `outrigger explain`, pure: golden texts under testdata/explain (UPDATE_GOLDEN=1 rewrites them;
// review the diff), and the decisions behind them asserted directly. Injected pods are made by
// the injector's own admit(), and the app's Secret by the controller's own desiredSidecarConfig.
import { expect } from "chai";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { parseManifests } from "../apis/crd-schema.ts";
import type { Component, Configuration } from "../apis/types.ts";
import { desiredSidecarConfig, sidecarConfigSecret } from "../controller/sidecar-config.ts";
import type { DeliveredResource } from "../controller/delivered-kinds.ts";
import { admit } from "../injector/admit.ts";
import { applyJsonPatch, type JsonPatchOp } from "../injector/patch.ts";
import { builtInSidecarDefaults, type SidecarDefaults } from "../sidecar/defaults.ts";
import { outriggerVersion } from "../shared/version.ts";
import { explainApp, explainPod, formatAppExplanation, formatPodExplanation } from "./explain.ts";
import { explainConfig } from "./explain-command.ts";
import { goldenTrustAnchors } from "../injector/golden-settings.testing.ts";

const dir = new URL("./testdata/explain/", import.meta.url);
const update = process.env.UPDATE_GOLDEN === "1";
const settings: SidecarDefaults = { ...builtInSidecarDefaults, sidecarImage: "ghcr.io/dapr/daprd:1.18.3" };
const newer: SidecarDefaults = { ...settings, sidecarImage: "ghcr.io/dapr/daprd:1.19.0" };

function golden(name: string, text: string): void {
  const file = new URL(`${name}.expected.txt`, dir);
  const stable = text.replaceAll(`Outrigger ${outriggerVersion}`, "Outrigger OUTRIGGER_VERSION");
  if (update) writeFileSync(file, stable);
  expect(stable).to.equal(readFileSync(file, "utf8"));
}

function load(name: string): unknown[] {
  return parseManifests(readFileSync(new URL(name, dir), "utf8"));
}

/** The pod as the webhook makes it. */
function injected(pod: Record<string, unknown>, with_: SidecarDefaults = settings): V1Pod {
  const outcome = admit(
    {
      uid: "u",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      operation: "CREATE",
      object: pod,
    },
    with_,
    goldenTrustAnchors,
  );
  if (outcome.result !== "injected") throw new Error(`not injected: ${outcome.response.status?.message}`);
  const ops = JSON.parse(Buffer.from(outcome.response.patch ?? "", "base64").toString()) as JsonPatchOp[];
  const applied = applyJsonPatch(pod, ops);
  if (!applied.ok) throw new Error(applied.message);
  return applied.document as V1Pod;
}

describe("outrigger explain pod", () => {
  const cases = readdirSync(dir)
    .filter((f) => f.startsWith("pod-") && f.endsWith(".input.yaml"))
    .map((f) => f.slice(0, -".input.yaml".length))
    .sort();

  for (const name of cases) {
    it(name, () => {
      const [pod] = load(`${name}.input.yaml`) as V1Pod[];
      golden(name, formatPodExplanation(explainPod(pod as V1Pod, settings)));
    });
  }

  it("says why each pod is as it is: the decision, its reason, and the state", () => {
    const of = (name: string) => explainPod((load(`${name}.input.yaml`) as V1Pod[])[0] as V1Pod, settings);
    expect(of("pod-not-enabled")).to.deep.include({
      decision: "skip",
      reason: "not-enabled",
      state: "no-sidecar",
    });
    const denied = of("pod-denied");
    expect(denied).to.deep.include({ decision: "deny", reason: "invalid-annotation", state: "no-sidecar" });
    expect(denied.summary).to.include('dapr.io/app-port: "eighty" is not a port number');
    expect(denied.annotations.find((a) => a.key === "dapr.io/app-port")?.problem).to.be.a("string");
    expect(denied.warnings.join()).to.include("did you mean dapr.io/log-level?");
    // At admission a workload's pod has only generateName, so its name is no app-id.
    expect(of("pod-no-app-id")).to.deep.include({ decision: "deny", reason: "missing-app-id" });
    expect(of("pod-missed")).to.deep.include({ decision: "inject", state: "no-sidecar" });
    expect(of("pod-foreign")).to.deep.include({
      decision: "skip",
      reason: "already-injected",
      state: "foreign-sidecar",
    });
  });

  it("explains an injected pod: current with the defaults it was injected with, stale with newer ones", () => {
    const [pod] = parseManifests(
      readFileSync(new URL("../injector/testdata/minimal.input.yaml", import.meta.url), "utf8"),
    ) as Record<string, unknown>[];
    const pod1 = injected(pod as Record<string, unknown>);
    const current = explainPod(pod1, settings);
    expect(current).to.deep.include({ decision: "inject", state: "injected", reason: "injected" });
    expect(current.details[0]).to.equal("current: the injector would inject the same sidecar now");
    golden("pod-injected", formatPodExplanation(current));
    const stale = explainPod(pod1, newer);
    expect(stale.details[0]).to.match(/^stale: .*image now ghcr.io\/dapr\/daprd:1.19.0/);
  });
});

describe("outrigger explain app", () => {
  const objects = load("app-cart.input.yaml") as Array<{ kind: string } & Record<string, unknown>>;
  const ofKind = <T>(kind: string) => objects.filter((o) => o.kind === kind) as T[];
  const deployment = ofKind<{ spec: { template: { metadata: Record<string, unknown>; spec: unknown } } }>(
    "Deployment",
  )[0];
  const components = ofKind<Component>("Component");
  const configurations = ofKind<Configuration>("Configuration");
  const delivered = {
    Resiliency: ofKind<DeliveredResource>("Resiliency"),
    Subscription: ofKind<DeliveredResource>("Subscription"),
    HTTPEndpoint: ofKind<DeliveredResource>("HTTPEndpoint"),
  };
  const podOf = (name: string, with_: SidecarDefaults) =>
    injected(
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { ...deployment?.spec.template.metadata, namespace: "shop" },
        spec: deployment?.spec.template.spec,
      },
      with_,
    ) as V1Pod;
  // Pods of the Deployment: covered by it, so not sources of their own.
  const owner = { apiVersion: "apps/v1", kind: "Deployment", name: "cart", uid: "u-cart", controller: true };
  const named = (pod: V1Pod, name: string): V1Pod => ({
    ...pod,
    metadata: { ...pod.metadata, name, ownerReferences: [owner] },
  });
  const pods = [named(podOf("a", settings), "cart-1"), named(podOf("b", newer), "cart-2")];
  // Rendered by the controller, before the HTTPEndpoint existed.
  const app = { namespace: "shop", appId: "cart", configName: "tracing" };
  const config = desiredSidecarConfig(app, components, configurations[0], () => undefined, undefined, {
    Resiliency: delivered.Resiliency,
    Subscription: delivered.Subscription,
  });
  const secret: V1Secret = sidecarConfigSecret(app, config);
  const facts = {
    namespace: "shop",
    appId: "cart",
    objects: { deployments: ofKind("Deployment"), pods },
    components,
    configurations,
    delivered,
    secret,
    settings: newer,
  } as Parameters<typeof explainApp>[0];

  it("lists what the app receives and why, what it does not and why, its Secret and its pods", () => {
    const e = explainApp(facts);
    golden("app-cart", formatAppExplanation(e));
    const line = (name: string) => e.resources.find((r) => r.name === name);
    expect(line("statestore")).to.deep.include({
      receives: true,
      why: "no scopes: every app of the namespace",
    });
    expect(line("statestore")?.delivered).to.equal(true);
    expect(line("pubsub")).to.deep.include({ receives: false, why: "scopes [orders] do not include cart" });
    // Scoped to it but broken: the controller left it out, and its condition says why.
    expect(line("payments-db")).to.deep.include({ receives: true, delivered: false });
    expect(line("payments-db")?.ready).to.include("SecretNotFound");
    expect(line("retries")).to.deep.include({ receives: true, delivered: true });
    expect(line("api")).to.deep.include({ receives: true, delivered: false });
    expect(e.configuration).to.deep.include({ name: "tracing", receives: true, delivered: true });
    expect(e.sources).to.deep.equal([{ kind: "Deployment", name: "cart", configName: "tracing" }]);
    expect(e.pods.map((p) => p.sidecar.includes("stale"))).to.deep.equal([true, false]);
  });

  it("says when there is no such app, no Secret, or a Configuration that does not exist", () => {
    const none = explainApp({ ...facts, appId: "ghost", secret: undefined });
    expect(none.sources).to.deep.equal([]);
    expect(none.secret[0]).to.equal("Secret ghost-dapr-sidecar: none (no app ghost in the namespace)");
    const missing = explainApp({ ...facts, secret: undefined, configurations: [] });
    expect(missing.secret[0]).to.include("missing; the controller writes it");
    expect(missing.configuration).to.deep.include({ name: "tracing", receives: false });
  });
});

describe("outrigger explain flags", () => {
  it("takes one pod/<name> or app/<app-id>, and refuses sidecar flags beside --from-cluster", () => {
    expect(explainConfig({}, ["pod/web"])).to.deep.include({ target: { kind: "pod", name: "web" } });
    expect(explainConfig({ namespace: "shop" }, ["app/cart"])).to.deep.include({
      target: { kind: "app", name: "cart" },
      namespace: "shop",
    });
    expect(explainConfig({}, [])).to.deep.equal({
      problems: ['want one pod/<name> or app/<app-id>, got "nothing"'],
    });
    expect(explainConfig({}, ["deployment/web"])).to.have.property("problems");
    expect(explainConfig({ "from-cluster": true, "sidecar-image": "x:1" }, ["pod/web"])).to.deep.equal({
      problems: [
        "--sidecar-image cannot be combined with --from-cluster, which reads the sidecar defaults from the injector",
      ],
    });
  });
});
