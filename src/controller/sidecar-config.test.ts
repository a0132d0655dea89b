import type { V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import { load } from "js-yaml";
import type { JsonValue } from "../apis/types.ts";
import { COMPONENTS_KEY, CONFIGURATION_KEY, SIDECAR_CONFIG_ITEMS } from "../sidecar/config-secret.ts";
import { CONFIG_HASH_ANNOTATION } from "./hash.ts";
import {
  componentAppliesTo,
  desiredSidecarConfig,
  isOurs,
  needsUpdate,
  parseSidecarFile,
  problemMessage,
  referencedSecretNames,
  resolveComponent,
  secretForUpdate,
  sidecarConfigSecret,
  leftoverSidecarConfigSecrets,
  type Component,
  type Configuration,
  type SecretLookup,
} from "./sidecar-config.ts";

const NS = "shop";
const APP = { namespace: NS, appId: "checkout", configName: undefined };

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

function secretsOf(secrets: Record<string, Record<string, string>>): SecretLookup {
  return (namespace, name) => {
    const data = secrets[`${namespace}/${name}`];
    return (
      data && {
        metadata: { name, namespace },
        data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
      }
    );
  };
}
const NO_SECRETS: SecretLookup = () => undefined;

function component(name: string, extra: Partial<Component> = {}, items?: Component["spec"]): Component {
  return {
    apiVersion: "dapr.io/v1alpha1",
    kind: "Component",
    metadata: { name, namespace: NS, uid: `uid-${name}`, resourceVersion: "7", generation: 3 },
    spec: items ?? {
      type: "state.redis",
      version: "v1",
      metadata: [{ name: "redisHost", value: "redis:6379" }],
    },
    ...extra,
  };
}

function redisWithPassword(ref: { name: string; key?: string }, extra: Partial<Component> = {}): Component {
  return component("store", extra, {
    type: "state.redis",
    version: "v1",
    metadata: [
      { name: "redisHost", value: "redis:6379" },
      { name: "redisPassword", secretKeyRef: ref },
    ],
  });
}

/** The documents of a rendered file, split the way daprd splits it ("\n---" then the rest of that line). */
function daprdSplit(text: string): string[] {
  const docs: string[] = [];
  let rest = text;
  for (;;) {
    const i = rest.indexOf("\n---");
    if (i < 0) break;
    docs.push(rest.slice(0, i));
    const eol = rest.indexOf("\n", i + 4);
    rest = eol < 0 ? "" : rest.slice(eol + 1);
  }
  if (rest.length > 0) docs.push(rest);
  return docs;
}

function renderedComponents(text: string | undefined): Record<string, unknown>[] {
  return parseSidecarFile(text ?? "");
}

describe("desiredSidecarConfig", () => {
  describe("components", () => {
    it("delivers the Components of the namespace that have no scopes or name the app", () => {
      const config = desiredSidecarConfig(
        APP,
        [
          component("a-unscoped"),
          component("b-scoped-in", { scopes: ["other", "checkout"] }),
          component("c-scoped-out", { scopes: ["other"] }),
          {
            ...component("d-other-namespace"),
            metadata: { name: "d-other-namespace", namespace: "elsewhere" },
          },
        ],
        undefined,
        NO_SECRETS,
        undefined,
      );
      const names = renderedComponents(config.data[COMPONENTS_KEY]).map(
        (d) => (d.metadata as { name: string }).name,
      );
      expect(names).to.deep.equal(["a-unscoped", "b-scoped-in"]);
      expect(config.components.map((c) => [c.name, c.reason, c.served])).to.deep.equal([
        ["a-unscoped", "Ready", "current"],
        ["b-scoped-in", "Ready", "current"],
      ]);
    });

    it("orders Components by name whatever the input order", () => {
      const forward = desiredSidecarConfig(
        APP,
        [component("x"), component("a"), component("m")],
        undefined,
        NO_SECRETS,
        undefined,
      );
      const backward = desiredSidecarConfig(
        APP,
        [component("m"), component("a"), component("x")],
        undefined,
        NO_SECRETS,
        undefined,
      );
      expect(forward.data).to.deep.equal(backward.data);
      expect(
        renderedComponents(forward.data[COMPONENTS_KEY]).map((d) => (d.metadata as { name: string }).name),
      ).to.deep.equal(["a", "m", "x"]);
    });

    it("substitutes Kubernetes secrets as plain values and drops the secretKeyRef", () => {
      const config = desiredSidecarConfig(
        APP,
        [redisWithPassword({ name: "redis", key: "password" })],
        undefined,
        secretsOf({ "shop/redis": { password: "s3cret" } }),
        undefined,
      );
      const [doc] = renderedComponents(config.data[COMPONENTS_KEY]);
      expect((doc?.spec as Component["spec"])?.metadata).to.deep.equal([
        { name: "redisHost", value: "redis:6379" },
        { name: "redisPassword", value: "s3cret" },
      ]);
    });

    it("reads the key named like the Secret when secretKeyRef has no key, as Dapr does", () => {
      const config = desiredSidecarConfig(
        APP,
        [redisWithPassword({ name: "redis-password" }, { auth: { secretStore: "kubernetes" } })],
        undefined,
        secretsOf({ "shop/redis-password": { "redis-password": "from-default-key" } }),
        undefined,
      );
      expect(config.data[COMPONENTS_KEY]).to.contain("value: from-default-key");
      expect(config.data[COMPONENTS_KEY]).to.not.contain("secretKeyRef");
    });

    it("leaves secretKeyRef of other secret stores, and envRef, to the runtime", () => {
      const vaultBacked = redisWithPassword(
        { name: "redis", key: "password" },
        { auth: { secretStore: "vault" } },
      );
      vaultBacked.spec!.metadata!.push({ name: "token", envRef: "REDIS_TOKEN" });
      const config = desiredSidecarConfig(APP, [vaultBacked], undefined, NO_SECRETS, undefined);
      const [doc] = renderedComponents(config.data[COMPONENTS_KEY]);
      expect((doc?.spec as Component["spec"])?.metadata).to.deep.equal([
        { name: "redisHost", value: "redis:6379" },
        { name: "redisPassword", secretKeyRef: { name: "redis", key: "password" } },
        { name: "token", envRef: "REDIS_TOKEN" },
      ]);
      expect(doc?.auth).to.deep.equal({ secretStore: "vault" });
      expect(config.components[0]?.reason).to.equal("Ready");
    });

    it("keeps values of any JSON type, multi-line text and YAML 1.1 look-alikes intact", () => {
      const values: JsonValue[] = [
        1,
        2.5,
        true,
        null,
        { nested: ["a", 1] },
        "yes",
        "on",
        "0755",
        "2024-01-01",
        "---x",
        "a\n---\nb\n",
        "~",
        "#",
      ];
      const c = component(
        "values",
        {},
        {
          type: "bindings.http",
          version: "v1",
          metadata: values.map((value, i) => ({ name: `v${i}`, value })),
        },
      );
      const config = desiredSidecarConfig(APP, [c], undefined, NO_SECRETS, undefined);
      const [doc] = renderedComponents(config.data[COMPONENTS_KEY]);
      expect((doc?.spec as Component["spec"])?.metadata?.map((m) => m.value)).to.deep.equal(values);
    });

    it("strips what the API server adds, so only a change of meaning changes the content", () => {
      const plain = component("store");
      const fromServer: Component = {
        ...component("store"),
        metadata: {
          name: "store",
          namespace: NS,
          uid: "0f0e",
          resourceVersion: "123456",
          generation: 9,
          creationTimestamp: new Date("2024-01-01T00:00:00Z"),
          managedFields: [{ manager: "kubectl", operation: "Apply" }],
          annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{...}" },
          finalizers: [],
        },
        status: {
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "Ready",
              message: "",
              lastTransitionTime: "2024-01-01T00:00:00Z",
            },
          ],
        },
      };
      const a = desiredSidecarConfig(APP, [plain], undefined, NO_SECRETS, undefined);
      const b = desiredSidecarConfig(APP, [fromServer], undefined, NO_SECRETS, undefined);
      expect(b.data).to.deep.equal(a.data);
      expect(b.hash).to.equal(a.hash);
      const [doc] = renderedComponents(b.data[COMPONENTS_KEY]);
      expect(doc?.metadata).to.deep.equal({ name: "store", namespace: NS });
      expect(doc).to.not.have.property("status");
    });

    it("keeps the user's labels and annotations", () => {
      const c = component("store");
      c.metadata = { ...c.metadata, name: "store", labels: { team: "a" }, annotations: { note: "b" } };
      const [doc] = renderedComponents(
        desiredSidecarConfig(APP, [c], undefined, NO_SECRETS, undefined).data[COMPONENTS_KEY],
      );
      expect(doc?.metadata).to.deep.equal({
        name: "store",
        namespace: NS,
        labels: { team: "a" },
        annotations: { note: "b" },
      });
    });

    it("changes the content when a referenced Secret's value changes", () => {
      const c = redisWithPassword({ name: "redis", key: "password" });
      const before = desiredSidecarConfig(
        APP,
        [c],
        undefined,
        secretsOf({ "shop/redis": { password: "one" } }),
        undefined,
      );
      const after = desiredSidecarConfig(
        APP,
        [c],
        undefined,
        secretsOf({ "shop/redis": { password: "two" } }),
        undefined,
      );
      expect(after.hash).to.not.equal(before.hash);
    });
  });

  describe("last good config", () => {
    const broken = redisWithPassword({ name: "redis", key: "password" });
    const working = desiredSidecarConfig(
      APP,
      [broken, component("other")],
      undefined,
      secretsOf({ "shop/redis": { password: "old-password" } }),
      undefined,
    );
    const previous = sidecarConfigSecret(APP, working);

    it("keeps the last good version of a Component whose Secret is gone, and says what is missing", () => {
      const config = desiredSidecarConfig(APP, [broken, component("other")], undefined, NO_SECRETS, previous);
      expect(config.data[COMPONENTS_KEY]).to.equal(working.data[COMPONENTS_KEY]);
      expect(config.components[1]).to.deep.equal({
        name: "store",
        generation: 3,
        reason: "SecretNotFound",
        problems: [{ reason: "SecretNotFound", item: "redisPassword", secret: "redis" }],
        served: "lastGood",
      });
      expect(problemMessage(config.components[1]!.problems[0]!)).to.equal(
        'Secret "redis" not found (metadata "redisPassword")',
      );
    });

    it("keeps the last good version when the key is missing, even if the Component changed meanwhile", () => {
      const changed = redisWithPassword({ name: "redis", key: "pass" });
      changed.spec!.metadata![0] = { name: "redisHost", value: "new-host:6379" };
      const config = desiredSidecarConfig(
        APP,
        [changed, component("other")],
        undefined,
        secretsOf({ "shop/redis": { password: "x" } }),
        previous,
      );
      expect(config.data[COMPONENTS_KEY]).to.equal(working.data[COMPONENTS_KEY]);
      expect(config.components.find((c) => c.name === "store")).to.include({
        reason: "KeyNotFound",
        served: "lastGood",
      });
      expect(config.components.find((c) => c.name === "store")?.problems).to.deep.equal([
        { reason: "KeyNotFound", item: "redisPassword", secret: "redis", key: "pass" },
      ]);
    });

    it("goes without a broken Component it never had", () => {
      const config = desiredSidecarConfig(
        APP,
        [broken, component("other")],
        undefined,
        NO_SECRETS,
        undefined,
      );
      const names = renderedComponents(config.data[COMPONENTS_KEY]).map(
        (d) => (d.metadata as { name: string }).name,
      );
      expect(names).to.deep.equal(["other"]);
      expect(config.components.find((c) => c.name === "store")?.served).to.equal("none");
    });

    it("does not trust a previous Secret that is not ours", () => {
      const foreign: V1Secret = { ...previous, metadata: { ...previous.metadata, labels: {} } };
      const config = desiredSidecarConfig(APP, [broken], undefined, NO_SECRETS, foreign);
      expect(config.components[0]?.served).to.equal("none");
    });

    it("reports a value that is not text instead of writing it", () => {
      const lookup: SecretLookup = () => ({
        data: { password: Buffer.from([0xff, 0xfe, 0x00]).toString("base64") },
      });
      const config = desiredSidecarConfig(APP, [broken], undefined, lookup, undefined);
      expect(config.components[0]).to.include({ reason: "SecretValueNotText", served: "none" });
    });

    it("drops a Component that was deleted, even if it was good", () => {
      const config = desiredSidecarConfig(APP, [component("other")], undefined, NO_SECRETS, previous);
      expect(renderedComponents(config.data[COMPONENTS_KEY])).to.have.length(1);
    });

    it("lists every missing Secret, not just the first", () => {
      const c = component(
        "two",
        {},
        {
          type: "bindings.http",
          version: "v1",
          metadata: [
            { name: "a", secretKeyRef: { name: "s1", key: "k" } },
            { name: "b", secretKeyRef: { name: "s2", key: "k" } },
          ],
        },
      );
      const resolution = resolveComponent(c, NO_SECRETS);
      expect(resolution.ok).to.equal(false);
      expect(
        resolution.ok ? [] : resolution.problems.map((p) => ("secret" in p ? p.secret : p.field)),
      ).to.deep.equal(["s1", "s2"]);
    });
  });

  describe("configuration", () => {
    function configuration(name: string, spec: Record<string, unknown> = {}): Configuration {
      return {
        apiVersion: "dapr.io/v1alpha1",
        kind: "Configuration",
        metadata: { name, namespace: NS, resourceVersion: "5", generation: 2 },
        spec,
      };
    }
    const parsedConfig = (text: string | undefined) => load(text ?? "") as Configuration;

    it("renders a default Configuration with Kubernetes name resolution and hot reload when the app names none", () => {
      const config = desiredSidecarConfig(APP, [], undefined, NO_SECRETS, undefined);
      expect(parsedConfig(config.data[CONFIGURATION_KEY])).to.deep.equal({
        apiVersion: "dapr.io/v1alpha1",
        kind: "Configuration",
        metadata: { name: "outrigger-default", namespace: NS },
        spec: {
          features: [{ name: "HotReload", enabled: true }],
          nameResolution: { component: "kubernetes" },
        },
      });
      expect(config.configuration).to.deep.include({ name: undefined, reason: "Default", served: "default" });
    });

    it("renders the named Configuration with the defaults, keeping what the user set", () => {
      const app = { ...APP, configName: "tracing" };
      const cfg = configuration("tracing", {
        tracing: { samplingRate: "1" },
        features: [{ name: "HotReload", enabled: false }],
        nameResolution: { configuration: { clusterDomain: "example.local" } },
      });
      const config = desiredSidecarConfig(app, [], cfg, NO_SECRETS, undefined);
      expect(parsedConfig(config.data[CONFIGURATION_KEY]).spec).to.deep.equal({
        tracing: { samplingRate: "1" },
        features: [{ name: "HotReload", enabled: false }],
        nameResolution: { component: "kubernetes", configuration: { clusterDomain: "example.local" } },
      });
      expect(config.configuration).to.deep.include({
        name: "tracing",
        reason: "Ready",
        served: "current",
        generation: 2,
      });
    });

    it("keeps a name resolver the user chose", () => {
      const app = { ...APP, configName: "nr" };
      const cfg = configuration("nr", { nameResolution: { component: "sqlite", version: "v1" } });
      const spec = parsedConfig(
        desiredSidecarConfig(app, [], cfg, NO_SECRETS, undefined).data[CONFIGURATION_KEY],
      ).spec;
      expect(spec?.nameResolution).to.deep.equal({ component: "sqlite", version: "v1" });
    });

    it("falls back to the default Configuration when the named one does not exist, and says so", () => {
      const config = desiredSidecarConfig(
        { ...APP, configName: "missing" },
        [],
        undefined,
        NO_SECRETS,
        undefined,
      );
      expect(parsedConfig(config.data[CONFIGURATION_KEY]).metadata?.name).to.equal("outrigger-default");
      expect(config.configuration).to.deep.include({
        name: "missing",
        reason: "NotFound",
        served: "default",
      });
    });

    it("resolves Kubernetes secrets of OpenTelemetry headers, and keeps the last good one when they break", () => {
      const app = { ...APP, configName: "otel" };
      const cfg = configuration("otel", {
        tracing: {
          otel: {
            endpointAddress: "collector:4317",
            headers: [{ name: "api-key", secretKeyRef: { name: "otel", key: "key" } }],
          },
        },
      });
      const good = desiredSidecarConfig(app, [], cfg, secretsOf({ "shop/otel": { key: "abc" } }), undefined);
      const tracing = parsedConfig(good.data[CONFIGURATION_KEY]).spec?.tracing as {
        otel: { headers: unknown[] };
      };
      // Standalone daprd reads "name=value" strings; the CRD form makes it exit (issue 11).
      expect(tracing.otel.headers).to.deep.equal(["api-key=abc"]);
      expect(referencedSecretNames(cfg, "Configuration")).to.deep.equal(["otel"]);

      const broken = desiredSidecarConfig(app, [], cfg, NO_SECRETS, sidecarConfigSecret(app, good));
      expect(broken.data[CONFIGURATION_KEY]).to.equal(good.data[CONFIGURATION_KEY]);
      expect(broken.configuration).to.deep.include({ reason: "SecretNotFound", served: "lastGood" });

      const neverGood = desiredSidecarConfig(app, [], cfg, NO_SECRETS, undefined);
      expect(parsedConfig(neverGood.data[CONFIGURATION_KEY]).metadata?.name).to.equal("outrigger-default");
      expect(neverGood.configuration).to.deep.include({ reason: "SecretNotFound", served: "default" });
    });

    it("renders every otel header as the name=value string standalone daprd reads", () => {
      const app = { ...APP, configName: "otel" };
      const cfg = configuration("otel", {
        tracing: {
          otel: {
            endpointAddress: "collector:4318",
            headers: [
              { name: "x-api-key", value: "k-123" },
              { name: "x-tenant", value: "shop" },
              { name: "x-query", value: "a=b" },
              { name: "x-count", value: 3 },
              { name: "x-from-env", envRef: "OTEL_TOKEN" },
            ],
          },
        },
      });
      const config = desiredSidecarConfig(app, [], cfg, NO_SECRETS, undefined);
      const tracing = parsedConfig(config.data[CONFIGURATION_KEY]).spec?.tracing as {
        otel: { headers: unknown[] };
      };
      expect(tracing.otel.headers).to.deep.equal([
        "x-api-key=k-123",
        "x-tenant=shop",
        "x-query=a=b",
        "x-count=3",
        "x-from-env=${OTEL_TOKEN}",
      ]);
      // The ${VAR} of an envRef is meant for daprd's expansion, so it is not warned about.
      expect(config.configuration.warnings).to.deep.equal([]);
      expect(config.configuration.reason).to.equal("Ready");
    });

    it("does not deliver a Configuration daprd would refuse: the app keeps its last good one, the field is named", () => {
      const app = { ...APP, configName: "acl" };
      const good = configuration("acl", {
        accessControl: {
          defaultAction: "deny",
          policies: [{ appId: "frontend", trustDomain: "public", namespace: "shop", defaultAction: "allow" }],
        },
      });
      const goodConfig = desiredSidecarConfig(app, [], good, NO_SECRETS, undefined);
      expect(goodConfig.configuration.reason).to.equal("Ready");
      const bad = configuration("acl", {
        accessControl: { defaultAction: "deny", policies: [{ appId: "frontend", defaultAction: "allow" }] },
      });
      const kept = desiredSidecarConfig(app, [], bad, NO_SECRETS, sidecarConfigSecret(app, goodConfig));
      expect(kept.data[CONFIGURATION_KEY]).to.equal(goodConfig.data[CONFIGURATION_KEY]);
      expect(kept.configuration).to.deep.include({ reason: "RejectedByDaprd", served: "lastGood" });
      expect(kept.configuration.problems.map(problemMessage)).to.deep.equal([
        "spec.accessControl.policies[0].trustDomain is empty; daprd refuses an access control policy without it",
        "spec.accessControl.policies[0].namespace is empty; daprd refuses an access control policy without it",
      ]);
      const first = desiredSidecarConfig(app, [], bad, NO_SECRETS, undefined);
      expect(first.configuration).to.deep.include({ reason: "RejectedByDaprd", served: "default" });
    });

    it("warns about $, which daprd expands from its environment in a Configuration file", () => {
      const app = { ...APP, configName: "dollar" };
      const cfg = configuration("dollar", { tracing: { zipkin: { endpointAddress: "http://$HOST/api" } } });
      expect(desiredSidecarConfig(app, [], cfg, NO_SECRETS, undefined).configuration.warnings).to.have.length(
        1,
      );
      expect(
        desiredSidecarConfig(APP, [], undefined, NO_SECRETS, undefined).configuration.warnings,
      ).to.deep.equal([]);
    });
  });

  describe("file format", () => {
    it("splits into exactly one document per Component the way daprd splits, even with --- inside values", () => {
      const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
      const components = [
        component("a", {}, { type: "bindings.http", version: "v1", metadata: [{ name: "ca", value: pem }] }),
        redisWithPassword({ name: "tls", key: "key" }),
        component("c"),
      ];
      const config = desiredSidecarConfig(
        APP,
        components,
        undefined,
        secretsOf({ "shop/tls": { key: `---\n${pem}` } }),
        undefined,
      );
      const text = config.data[COMPONENTS_KEY] ?? "";
      const pieces = daprdSplit(text).map((p) => load(p) as Component);
      expect(pieces.map((p) => p.metadata?.name)).to.deep.equal(["a", "c", "store"]);
      expect(pieces.map((p) => p.metadata?.name)).to.deep.equal(
        parseSidecarFile(text).map((d) => (d.metadata as { name: string }).name),
      );
      expect(pieces[2]?.spec?.metadata?.[1]?.value).to.equal(`---\n${pem}`);
    });

    it("writes a header comment and no documents when no Component applies", () => {
      const config = desiredSidecarConfig(APP, [], undefined, NO_SECRETS, undefined);
      expect(config.data[COMPONENTS_KEY]).to.match(/^# Components of app "checkout" in namespace "shop"/);
      expect(parseSidecarFile(config.data[COMPONENTS_KEY] ?? "")).to.deep.equal([]);
    });
  });
});

describe("componentAppliesTo and referencedSecretNames", () => {
  it("treats empty scopes as everyone", () => {
    expect(componentAppliesTo(component("a", { scopes: [] }), "x")).to.equal(true);
    expect(componentAppliesTo(component("a", { scopes: ["y"] }), "x")).to.equal(false);
  });

  it("lists the Kubernetes Secrets a Component reads, and none for another store", () => {
    const c = redisWithPassword({ name: "redis", key: "password" });
    c.spec!.metadata!.push(
      { name: "again", secretKeyRef: { name: "redis" } },
      { name: "b", secretKeyRef: { name: "a-secret" } },
    );
    expect(referencedSecretNames(c, "Component")).to.deep.equal(["a-secret", "redis"]);
    expect(referencedSecretNames({ ...c, auth: { secretStore: "vault" } }, "Component")).to.deep.equal([]);
  });
});

describe("the sidecar config Secret", () => {
  const config = desiredSidecarConfig(APP, [component("store")], undefined, NO_SECRETS, undefined);
  const desired = sidecarConfigSecret(APP, config);

  it("is named for the app, labelled, annotated with the hash and holds the files", () => {
    expect(desired.metadata).to.deep.equal({
      name: "checkout-dapr-sidecar",
      namespace: NS,
      labels: { "app.kubernetes.io/managed-by": "outrigger", "dapr.io/app-id": "checkout" },
      annotations: { [CONFIG_HASH_ANNOTATION]: config.hash },
    });
    expect(desired.type).to.equal("Opaque");
    expect(Buffer.from(desired.data?.[COMPONENTS_KEY] ?? "", "base64").toString()).to.equal(
      config.data[COMPONENTS_KEY],
    );
    expect(Object.keys(desired.data ?? {}).sort()).to.deep.equal(
      SIDECAR_CONFIG_ITEMS.map((i) => i.key).sort(),
    );
  });

  it("needs no update when the server's copy has the same content plus server fields", () => {
    const fromServer: V1Secret = {
      ...desired,
      metadata: {
        ...desired.metadata,
        resourceVersion: "42",
        uid: "u",
        labels: { ...desired.metadata?.labels, extra: "x" },
      },
    };
    expect(needsUpdate(fromServer, desired)).to.equal(false);
  });

  it("needs an update when data, the hash, a label or the type differ", () => {
    const edited = { ...desired, data: { ...desired.data, [COMPONENTS_KEY]: b64("tampered") } };
    expect(needsUpdate(edited, desired)).to.equal(true);
    expect(needsUpdate({ ...desired, metadata: { ...desired.metadata, annotations: {} } }, desired)).to.equal(
      true,
    );
    expect(
      needsUpdate(
        { ...desired, metadata: { ...desired.metadata, labels: { "dapr.io/app-id": "checkout" } } },
        desired,
      ),
    ).to.equal(true);
    expect(needsUpdate({ ...desired, type: "kubernetes.io/tls" }, desired)).to.equal(true);
  });

  it("updates our fields and keeps resourceVersion and other people's metadata", () => {
    const existing: V1Secret = {
      metadata: {
        name: desired.metadata?.name,
        namespace: NS,
        resourceVersion: "9",
        labels: { extra: "x", ...desired.metadata?.labels },
      },
      type: "Opaque",
      data: { [COMPONENTS_KEY]: b64("old") },
    };
    const update = secretForUpdate(existing, desired);
    expect(update.metadata?.resourceVersion).to.equal("9");
    expect(update.metadata?.labels).to.include({ extra: "x", "app.kubernetes.io/managed-by": "outrigger" });
    expect(update.data).to.deep.equal(desired.data);
    expect(needsUpdate(update, desired)).to.equal(false);
  });

  it("is ours only with the managed-by label", () => {
    expect(isOurs(desired)).to.equal(true);
    expect(isOurs({ metadata: { name: "checkout-dapr-sidecar" } })).to.equal(false);
    expect(isOurs({ metadata: { labels: { "app.kubernetes.io/managed-by": "helm" } } })).to.equal(false);
  });

  it("finds our sidecar configs whose app is gone, and nothing else", () => {
    const gone = sidecarConfigSecret({ namespace: NS, appId: "gone" }, config);
    const otherNs = sidecarConfigSecret({ namespace: "other", appId: "checkout" }, config);
    const foreign: V1Secret = {
      metadata: { name: "x-dapr-sidecar", namespace: NS, labels: { "dapr.io/app-id": "x" } },
    };
    const webhookCert: V1Secret = {
      metadata: {
        name: "outrigger-webhook-tls",
        namespace: NS,
        labels: { "app.kubernetes.io/managed-by": "outrigger" },
      },
    };
    const stale = leftoverSidecarConfigSecrets([desired, gone, otherNs, foreign, webhookCert], [APP]);
    expect(stale.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`)).to.deep.equal([
      "shop/gone-dapr-sidecar",
      "other/checkout-dapr-sidecar",
    ]);
  });
});
