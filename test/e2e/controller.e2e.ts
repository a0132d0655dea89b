// The controller, as its own process against the real API server: propagation, last good
// config, restart without writes, API-server outage, failover and a corpus round trip.
import { readFileSync } from "node:fs";
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1Secret,
  type V1Service,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { load, loadAll } from "js-yaml";
import { corpusFiles } from "../../src/apis/conformance.testing.ts";
import {
  COMPONENTS_KEY,
  CONFIGURATION_KEY,
  appServiceName,
  sidecarConfigSecretName,
} from "../../src/sidecar/config-secret.ts";
import { cluster } from "./harness/cluster.ts";
import { useNamespace } from "./harness/namespace.ts";
import { STATIC_TRUST_ANCHORS_FILE, startOutrigger, type OutriggerProcess } from "./harness/outrigger.ts";
import { eventually, freePort, sleep } from "./harness/util.ts";
import { localInjectorArgs } from "../../hack/local-injector.ts";

type Obj = Record<string, unknown> & { metadata?: { name?: string } };

const core = () => cluster().kc.makeApiClient(CoreV1Api);
const apps = () => cluster().kc.makeApiClient(AppsV1Api);
const custom = () => cluster().kc.makeApiClient(CustomObjectsApi);

async function startController(
  namespace: string,
  extra: string[] = [],
): Promise<OutriggerProcess & { opsPort: number }> {
  const port = await freePort();
  const proc = startOutrigger("controller", [
    "--watch-namespace",
    namespace,
    "--leader-election-namespace",
    namespace,
    "--ops-address",
    `127.0.0.1:${port}`,
    ...extra,
  ]);
  await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status, "controller /readyz").to.equal(200);
    },
    { timeoutMs: 30_000 },
  );
  return Object.assign(proc, { opsPort: port });
}

/** An injector for the pods of one namespace, with its own system namespace and webhook. */
async function startScopedInjector(
  appNamespace: string,
  systemNamespace: string,
  sidecarImage: string,
): Promise<OutriggerProcess> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const proc = startOutrigger(
    "injector",
    localInjectorArgs(
      { namespace: systemNamespace, port, opsPort },
      "--webhook-config-name",
      `outrigger-injector-${systemNamespace}`,
      "--webhook-namespace-selector",
      `kubernetes.io/metadata.name=${appNamespace}`,
      "--sidecar-image",
      sidecarImage,
      "--trust-anchors-file",
      STATIC_TRUST_ANCHORS_FILE,
    ),
  );
  await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
      expect(res.status, "injector /readyz").to.equal(200);
    },
    { timeoutMs: 60_000 },
  );
  return proc;
}

async function createApp(namespace: string, appId: string, annotations: Record<string, string> = {}) {
  await apps().createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: appId },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: appId } },
        template: {
          metadata: {
            labels: { app: appId },
            annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": appId, ...annotations },
          },
          spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
        },
      },
    },
  });
}

/** Creates or replaces a Component, re-reading on 409: the controller's status writes bump resourceVersion. */
async function createConfiguration(namespace: string, name: string, spec: object): Promise<void> {
  await custom().createNamespacedCustomObject({
    group: "dapr.io",
    version: "v1alpha1",
    namespace,
    plural: "configurations",
    body: { apiVersion: "dapr.io/v1alpha1", kind: "Configuration", metadata: { name }, spec },
  });
}

async function applyComponent(namespace: string, body: Obj): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyComponentOnce(namespace, body);
    } catch (err) {
      if ((err as { code?: number }).code !== 409 || attempt >= 10) throw err;
    }
  }
}

async function applyComponentOnce(namespace: string, body: Obj) {
  const name = body.metadata?.name ?? "";
  const existing = await custom()
    .getNamespacedCustomObject({
      group: "dapr.io",
      version: "v1alpha1",
      namespace,
      plural: "components",
      name,
    })
    .catch(() => undefined);
  const full = { apiVersion: "dapr.io/v1alpha1", kind: "Component", ...body };
  if (existing) {
    (full.metadata as Record<string, unknown>).resourceVersion = (
      existing as { metadata: { resourceVersion: string } }
    ).metadata.resourceVersion;
    await custom().replaceNamespacedCustomObject({
      group: "dapr.io",
      version: "v1alpha1",
      namespace,
      plural: "components",
      name,
      body: full,
    });
  } else {
    await custom().createNamespacedCustomObject({
      group: "dapr.io",
      version: "v1alpha1",
      namespace,
      plural: "components",
      body: full,
    });
  }
}

function component(name: string, value: string, scopes?: string[]): Obj {
  return {
    metadata: { name },
    spec: { type: "state.redis", version: "v1", metadata: [{ name: "redisHost", value }] },
    ...(scopes ? { scopes } : {}),
  };
}

async function readSecret(namespace: string, appId: string): Promise<V1Secret | undefined> {
  return core()
    .readNamespacedSecret({ namespace, name: sidecarConfigSecretName(appId) })
    .catch(() => undefined);
}

/** The Components in an app's rendered sidecar config, by name. */
async function renderedComponents(namespace: string, appId: string): Promise<Map<string, Obj>> {
  const secret = await readSecret(namespace, appId);
  expect(secret, `sidecar config of ${appId}`).to.not.equal(undefined);
  const text = Buffer.from(secret?.data?.[COMPONENTS_KEY] ?? "", "base64").toString("utf8");
  const docs = (loadAll(text) as Obj[]).filter((d) => d && typeof d === "object");
  return new Map(docs.map((d) => [d.metadata?.name ?? "", d]));
}

function metadataValue(doc: Obj | undefined, item: string): unknown {
  const items = (
    (doc?.spec as { metadata?: Array<{ name: string; value?: unknown }> })?.metadata ?? []
  ).filter((m) => m.name === item);
  return items[0]?.value;
}

async function componentStatus(namespace: string, name: string) {
  const obj = (await custom().getNamespacedCustomObject({
    group: "dapr.io",
    version: "v1alpha1",
    namespace,
    plural: "components",
    name,
  })) as { metadata: { generation: number }; status?: Record<string, unknown> };
  return obj;
}

async function resourceVersions(namespace: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const s of (await core().listNamespacedSecret({ namespace })).items)
    out[`secret/${s.metadata?.name}`] = s.metadata?.resourceVersion ?? "";
  for (const s of (await core().listNamespacedService({ namespace })).items)
    out[`service/${s.metadata?.name}`] = s.metadata?.resourceVersion ?? "";
  const comps = (await custom().listNamespacedCustomObject({
    group: "dapr.io",
    version: "v1alpha1",
    namespace,
    plural: "components",
  })) as { items: Obj[] };
  for (const c of comps.items)
    out[`component/${c.metadata?.name}`] = (c.metadata as { resourceVersion: string }).resourceVersion;
  return out;
}

describe("controller", function () {
  const ns = useNamespace("controller");

  it("propagates Component creates, updates and deletes to exactly the apps in scope", async function () {
    await startController(ns.name);
    await createApp(ns.name, "app-a");
    await createApp(ns.name, "app-b");
    await applyComponent(ns.name, component("scoped", "redis-a:6379", ["app-a"]));
    await applyComponent(ns.name, component("shared", "redis-shared:6379"));

    await eventually(async () => {
      const a = await renderedComponents(ns.name, "app-a");
      const b = await renderedComponents(ns.name, "app-b");
      expect([...a.keys()].sort()).to.deep.equal(["scoped", "shared"]);
      expect([...b.keys()]).to.deep.equal(["shared"]);
    });

    // The Service of each app, with Dapr's ports and the workload's selector.
    const svc: V1Service = await core().readNamespacedService({
      namespace: ns.name,
      name: appServiceName("app-a"),
    });
    expect(svc.spec?.clusterIP).to.equal("None");
    expect(svc.spec?.selector).to.deep.equal({ app: "app-a" });
    expect(svc.spec?.ports?.map((p) => [p.name, p.port, p.targetPort]).sort()).to.deep.equal(
      [
        ["dapr-grpc", 50001, 50001],
        ["dapr-http", 80, 3500],
        ["dapr-internal", 50002, 50002],
        ["dapr-metrics", 9090, 9090],
      ].sort(),
    );

    // An update reaches app-a only: app-b's config is not even rewritten.
    const bBefore = (await readSecret(ns.name, "app-b"))?.metadata?.resourceVersion;
    await applyComponent(ns.name, component("scoped", "redis-a2:6379", ["app-a"]));
    await eventually(async () => {
      expect(metadataValue((await renderedComponents(ns.name, "app-a")).get("scoped"), "redisHost")).to.equal(
        "redis-a2:6379",
      );
    });
    expect((await readSecret(ns.name, "app-b"))?.metadata?.resourceVersion).to.equal(bBefore);

    // Status: Ready, and the number of apps reached.
    await eventually(async () => {
      const c = await componentStatus(ns.name, "shared");
      const ready = (c.status?.conditions as Array<{ type: string; status: string }> | undefined)?.find(
        (x) => x.type === "Ready",
      );
      expect(ready?.status).to.equal("True");
      expect(c.status?.observedGeneration).to.equal(c.metadata.generation);
      expect(c.status?.appCount).to.equal(2);
    });

    await custom().deleteNamespacedCustomObject({
      group: "dapr.io",
      version: "v1alpha1",
      namespace: ns.name,
      plural: "components",
      name: "shared",
    });
    await eventually(async () => {
      expect([...(await renderedComponents(ns.name, "app-a")).keys()]).to.deep.equal(["scoped"]);
      expect([...(await renderedComponents(ns.name, "app-b")).keys()]).to.deep.equal([]);
    });
  });

  it("follows a referenced Secret, renders the annotated Configuration, and prunes a removed app", async function () {
    await startController(ns.name);
    await core().createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: "redis" }, stringData: { password: "one" } },
    });
    await createConfiguration(ns.name, "tracing", {
      tracing: { samplingRate: "1", zipkin: { endpointAddress: "http://zipkin:9411/api/v2/spans" } },
    });
    await createApp(ns.name, "orders", { "dapr.io/config": "tracing" });
    await applyComponent(ns.name, {
      metadata: { name: "store" },
      spec: {
        type: "state.redis",
        version: "v1",
        metadata: [{ name: "redisPassword", secretKeyRef: { name: "redis", key: "password" } }],
      },
    });
    await eventually(async () => {
      expect(
        metadataValue((await renderedComponents(ns.name, "orders")).get("store"), "redisPassword"),
      ).to.equal("one");
    });
    const cfgText = Buffer.from(
      (await readSecret(ns.name, "orders"))?.data?.[CONFIGURATION_KEY] ?? "",
      "base64",
    ).toString("utf8");
    const cfg = load(cfgText) as { metadata: { name: string }; spec: { tracing: { samplingRate: string } } };
    expect(cfg.metadata.name).to.equal("tracing");
    expect(cfg.spec.tracing.samplingRate).to.equal("1");

    await core().replaceNamespacedSecret({
      namespace: ns.name,
      name: "redis",
      body: { metadata: { name: "redis" }, stringData: { password: "two" } },
    });
    await eventually(async () => {
      expect(
        metadataValue((await renderedComponents(ns.name, "orders")).get("store"), "redisPassword"),
      ).to.equal("two");
    });

    await apps().deleteNamespacedDeployment({
      namespace: ns.name,
      name: "orders",
      propagationPolicy: "Foreground",
    });
    await eventually(
      async () => {
        expect(await readSecret(ns.name, "orders"), "pruned sidecar config").to.equal(undefined);
        const svc = await core()
          .readNamespacedService({ namespace: ns.name, name: appServiceName("orders") })
          .catch(() => undefined);
        expect(svc, "pruned Service").to.equal(undefined);
      },
      { timeoutMs: 60_000 },
    );
  });

  it("keeps the last good config when a referenced Secret goes missing, and says SecretNotFound", async function () {
    await startController(ns.name);
    await core().createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: "creds" }, stringData: { token: "good" } },
    });
    await createApp(ns.name, "billing");
    const ref = (secret: string) => ({
      metadata: { name: "queue" },
      spec: {
        type: "pubsub.redis",
        version: "v1",
        metadata: [{ name: "redisPassword", secretKeyRef: { name: secret, key: "token" } }],
      },
    });
    await applyComponent(ns.name, ref("creds"));
    await eventually(async () => {
      expect(
        metadataValue((await renderedComponents(ns.name, "billing")).get("queue"), "redisPassword"),
      ).to.equal("good");
    });

    await applyComponent(ns.name, ref("missing"));
    await eventually(async () => {
      const c = await componentStatus(ns.name, "queue");
      const ready = (c.status?.conditions as Array<Record<string, string>> | undefined)?.find(
        (x) => x.type === "Ready",
      );
      expect(ready?.status).to.equal("False");
      expect(ready?.reason).to.equal("SecretNotFound");
      expect(ready?.message).to.contain("missing");
      expect(c.status?.observedGeneration).to.equal(c.metadata.generation);
    });
    // The app still has the version that worked.
    expect(
      metadataValue((await renderedComponents(ns.name, "billing")).get("queue"), "redisPassword"),
    ).to.equal("good");
  });

  it("says whether accessControl can identify callers: True with mTLS on (the default), False with --mtls=false", async function () {
    const callersIdentified = async () => {
      const c = (await custom().getNamespacedCustomObject({
        group: "dapr.io",
        version: "v1alpha1",
        namespace: ns.name,
        plural: "configurations",
        name: "guarded",
      })) as {
        metadata: { generation: number };
        status?: { observedGeneration?: number; conditions?: Array<Record<string, string>> };
      };
      return c.status?.conditions?.find((x) => x.type === "CallersIdentified");
    };
    const on = await startController(ns.name);
    try {
      await createConfiguration(ns.name, "guarded", {
        accessControl: {
          defaultAction: "deny",
          trustDomain: "public",
          policies: [
            { appId: "frontend", defaultAction: "allow", namespace: ns.name, trustDomain: "public" },
          ],
        },
      });
      await createApp(ns.name, "checkout", { "dapr.io/config": "guarded" });
      await eventually(async () => {
        expect(await callersIdentified()).to.deep.include({ status: "True", reason: "MTLSEnabled" });
      });
    } finally {
      expect(await on.stop()).to.equal(0);
    }
    // The switch off: the same policy can no longer match any caller, and the status says so.
    const off = await startController(ns.name, ["--mtls=false"]);
    try {
      await eventually(async () => {
        const c = await callersIdentified();
        expect(c).to.deep.include({ status: "False", reason: "MTLSDisabled" });
        expect(c?.message).to.contain("accessControl names apps (frontend) but mTLS is off");
      });
    } finally {
      await off.stop();
    }
  });

  it("writes nothing when restarted with nothing changed", async function () {
    const first = await startController(ns.name);
    await createApp(ns.name, "quiet");
    await applyComponent(ns.name, component("c1", "redis:6379"));
    await eventually(async () => {
      expect([...(await renderedComponents(ns.name, "quiet")).keys()]).to.deep.equal(["c1"]);
      const c = await componentStatus(ns.name, "c1");
      expect(c.status?.appCount).to.equal(1);
    });
    await sleep(2000); // let the last status write land
    const before = await resourceVersions(ns.name);
    expect(await first.stop()).to.equal(0);

    const second = await startController(ns.name);
    await sleep(5000); // long enough to reconcile everything once
    expect(await resourceVersions(ns.name)).to.deep.equal(before);
    expect(second.logs()).to.not.contain('"msg":"wrote object"');
    expect(second.logs()).to.not.contain('"msg":"status updated"');
  });

  describe("outage", function () {
    it("converges after the kube-apiserver was down for 10 s while changes were made", async function () {
      if (cluster().provider !== "local") this.skip(); // only the local provider can stop the API server
      await startController(ns.name);
      await createApp(ns.name, "survivor");
      await applyComponent(ns.name, component("before", "redis:1"));
      await eventually(async () => {
        expect([...(await renderedComponents(ns.name, "survivor")).keys()]).to.deep.equal(["before"]);
      });
      // A change lands just before the outage; the watch connections are cut with it.
      await applyComponent(ns.name, component("during", "redis:2"));
      await cluster().stopComponent("kube-apiserver");
      await sleep(10_000);
      await cluster().startComponent("kube-apiserver");
      // Back means serving every path again, custom resources included (until then: 503).
      await eventually(
        async () =>
          custom().listNamespacedCustomObject({
            group: "dapr.io",
            version: "v1alpha1",
            namespace: ns.name,
            plural: "components",
          }),
        { timeoutMs: 60_000 },
      );
      // And changes right after it.
      await applyComponent(ns.name, component("after", "redis:3"));
      await applyComponent(ns.name, component("before", "redis:1b"));
      await eventually(
        async () => {
          const rendered = await renderedComponents(ns.name, "survivor");
          expect([...rendered.keys()].sort()).to.deep.equal(["after", "before", "during"]);
          expect(metadataValue(rendered.get("before"), "redisHost")).to.equal("redis:1b");
        },
        { timeoutMs: 60_000 },
      );
    });
  });

  it("fails over: exactly one of two replicas leads, and the other takes over after kill -9", async function () {
    const lease = { name: "outrigger-controller", namespace: ns.name };
    const a = await startController(ns.name, ["--lease-duration", "6"]);
    const b = await startController(ns.name, ["--lease-duration", "6"]);
    const holder = await eventually(async () => {
      const l = await cluster().kc.makeApiClient(CoordinationV1Api).readNamespacedLease(lease);
      expect(l.spec?.holderIdentity).to.be.a("string").and.not.equal("");
      return l.spec?.holderIdentity ?? "";
    });
    await createApp(ns.name, "ha");
    await eventually(async () => expect(await readSecret(ns.name, "ha")).to.not.equal(undefined));
    const leaders = [a, b].filter((p) => p.logs().includes("leading: starting reconcilers"));
    expect(leaders, "replicas that lead").to.have.length(1);
    const [leader, follower] = leaders[0] === a ? [a, b] : [b, a];

    await leader!.kill9();
    const killedAt = Date.now();
    await applyComponent(ns.name, component("after-failover", "redis:9"));
    await eventually(
      async () => {
        expect([...(await renderedComponents(ns.name, "ha")).keys()]).to.deep.equal(["after-failover"]);
      },
      { timeoutMs: 6_000 + 5_000, intervalMs: 200 },
    );
    const tookMs = Date.now() - killedAt;
    console.log(`      failover converged ${tookMs} ms after kill -9 (lease 6 s); first holder ${holder}`);
    expect(follower!.logs()).to.contain("leading: starting reconcilers");
  });

  it("renders a Component from Dapr's docs so that it parses back as the same resource, secrets substituted", async function () {
    const file = corpusFiles("Component").find((f) => f.name.includes("howto-encrypt-state"));
    expect(file, "corpus file").to.not.equal(undefined);
    const original = load(readFileSync(file!.path, "utf8")) as Obj & {
      spec: {
        metadata: Array<{ name: string; value?: unknown; secretKeyRef?: { name: string; key: string } }>;
      };
      metadata: Record<string, unknown>;
    };
    delete original.metadata.namespace;
    // Create every Secret it references, with a value we can recognise.
    for (const item of original.spec.metadata) {
      if (!item.secretKeyRef) continue;
      await core()
        .createNamespacedSecret({
          namespace: ns.name,
          body: {
            metadata: { name: item.secretKeyRef.name },
            stringData: { [item.secretKeyRef.key]: `value-of-${item.name}` },
          },
        })
        .catch(() => undefined);
    }
    await startController(ns.name);
    await createApp(ns.name, "roundtrip");
    await applyComponent(ns.name, original);
    const rendered = await eventually(async () => {
      const r = (await renderedComponents(ns.name, "roundtrip")).get(original.metadata.name as string);
      expect(r).to.not.equal(undefined);
      return r!;
    });
    const expected = original.spec.metadata.map((m) =>
      m.secretKeyRef ? { name: m.name, value: `value-of-${m.name}` } : m,
    );
    expect((rendered.spec as { metadata: unknown }).metadata).to.deep.equal(expected);
    expect((rendered.spec as { type: string }).type).to.equal(
      (original.spec as unknown as { type: string }).type,
    );
    expect(rendered.kind).to.equal("Component");
  });

  it("reports pods whose sidecar is stale after the injector's image changed", async function () {
    const system = `${ns.name}-sys`.slice(0, 63);
    await core().createNamespace({ body: { metadata: { name: system } } });
    const oldImage = "ghcr.io/dapr/daprd:1.18.3";
    const newImage = "ghcr.io/dapr/daprd:1.19.0";
    let injector = await startScopedInjector(ns.name, system, oldImage);
    try {
      await applyComponent(ns.name, component("store", "redis:6379"));
      await createApp(ns.name, "legacy");
      const podName = await eventually(
        async () => {
          const pods = (await core().listNamespacedPod({ namespace: ns.name, labelSelector: "app=legacy" }))
            .items;
          const daprd = pods[0]?.spec?.initContainers?.find((c) => c.name === "daprd");
          expect(daprd?.image, "the injected sidecar").to.equal(oldImage);
          return pods[0]!.metadata!.name!;
        },
        { timeoutMs: 60_000 },
      );

      // The upgrade: the injector and the controller now carry the new image.
      await injector.stop();
      injector = await startScopedInjector(ns.name, system, newImage);
      const controller = await startController(ns.name, ["--sidecar-image", newImage]);

      await eventually(
        async () => {
          const events = await core().listNamespacedEvent({
            namespace: ns.name,
            fieldSelector: `reason=StaleSidecar,involvedObject.name=${podName}`,
          });
          expect(events.items, "a StaleSidecar Event on the pod").to.have.length.greaterThan(0);
          expect(events.items[0]?.message).to.contain(oldImage).and.contain(newImage);
          const metrics = await (await fetch(`http://127.0.0.1:${controller.opsPort}/metrics`)).text();
          expect(metrics).to.match(/^outrigger_stale_sidecars 1$/m);
          const c = await componentStatus(ns.name, "store");
          expect(c.status?.staleSidecars).to.equal(1);
          const cond = (c.status?.conditions as Array<Record<string, string>> | undefined)?.find(
            (x) => x.type === "SidecarsCurrent",
          );
          expect(cond?.status).to.equal("False");
          expect(cond?.message).to.contain(podName);
        },
        { timeoutMs: 30_000 },
      );

      // Restarting the workload's pod brings the new sidecar, and the report clears.
      await core().deleteNamespacedPod({ namespace: ns.name, name: podName });
      await eventually(
        async () => {
          const c = await componentStatus(ns.name, "store");
          expect(c.status?.staleSidecars).to.equal(0);
          const metrics = await (await fetch(`http://127.0.0.1:${controller.opsPort}/metrics`)).text();
          expect(metrics).to.match(/^outrigger_stale_sidecars 0$/m);
        },
        { timeoutMs: 60_000 },
      );
    } finally {
      await injector.stop();
      await core()
        .deleteNamespace({ name: system })
        .catch(() => undefined);
    }
  });

  it("leaves a same-named object without our label alone, and reports conflicting workloads", async function () {
    await core().createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: sidecarConfigSecretName("taken") }, stringData: { mine: "do not touch" } },
    });
    for (const name of ["alpha", "beta"]) {
      await custom().createNamespacedCustomObject({
        group: "dapr.io",
        version: "v1alpha1",
        namespace: ns.name,
        plural: "configurations",
        body: { apiVersion: "dapr.io/v1alpha1", kind: "Configuration", metadata: { name }, spec: {} },
      });
    }
    await startController(ns.name);
    await createApp(ns.name, "taken");
    // Two workloads, one app-id, two Configurations.
    await createApp(ns.name, "twin", { "dapr.io/config": "alpha" });
    await apps().createNamespacedStatefulSet({
      namespace: ns.name,
      body: {
        metadata: { name: "twin-db" },
        spec: {
          serviceName: "twin-db",
          selector: { matchLabels: { app: "twin-db" } },
          template: {
            metadata: {
              labels: { app: "twin-db" },
              annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "twin", "dapr.io/config": "beta" },
            },
            spec: { containers: [{ name: "db", image: "registry.k8s.io/pause:3.10" }] },
          },
        },
      },
    });
    await eventually(async () => {
      const events = (await core().listNamespacedEvent({ namespace: ns.name })).items;
      const conflict = events.find((e) => e.reason === "ConflictingObject");
      expect(conflict?.involvedObject.name, "conflict Event").to.equal(sidecarConfigSecretName("taken"));
      const twin = events.find((e) => e.reason === "AppConflict");
      expect(twin?.message, "AppConflict Event").to.contain("twin");
    });
    const secret = await readSecret(ns.name, "taken");
    expect(secret?.metadata?.labels ?? {}).to.not.have.property("app.kubernetes.io/managed-by");
    expect(Buffer.from(secret?.data?.mine ?? "", "base64").toString()).to.equal("do not touch");
    // The winner is deterministic: Deployment/twin sorts before StatefulSet/twin-db.
    const cfg = load(
      Buffer.from((await readSecret(ns.name, "twin"))?.data?.[CONFIGURATION_KEY] ?? "", "base64").toString(),
    ) as { metadata: { name: string } };
    expect(cfg.metadata.name).to.equal("alpha");
  });
});
