import type {
  V1CronJob,
  V1Deployment,
  V1Job,
  V1OwnerReference,
  V1Pod,
  V1ReplicaSet,
  V1StatefulSet,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { appKey, appsFromObjects, type AppObjects } from "./apps.ts";

const NS = "shop";

function meta(name: string, owner?: { kind: string; name: string; uid?: string }, namespace = NS) {
  const ownerReferences: V1OwnerReference[] | undefined = owner && [
    {
      apiVersion: "apps/v1",
      kind: owner.kind,
      name: owner.name,
      uid: owner.uid ?? `uid-${owner.name}`,
      controller: true,
    },
  ];
  return { name, namespace, uid: `uid-${name}`, ownerReferences };
}

function template(annotations: Record<string, string>, labels: Record<string, string> = { app: "web" }) {
  return { metadata: { annotations, labels }, spec: { containers: [] } };
}

const dapr = (appId?: string, config?: string, extra: Record<string, string> = {}) => ({
  "dapr.io/enabled": "true",
  ...(appId === undefined ? {} : { "dapr.io/app-id": appId }),
  ...(config === undefined ? {} : { "dapr.io/config": config }),
  ...extra,
});

function deployment(name: string, annotations: Record<string, string>, namespace = NS): V1Deployment {
  return {
    metadata: meta(name, undefined, namespace),
    spec: { selector: { matchLabels: { app: name } }, template: template(annotations, { app: name }) },
  };
}

function replicaSet(
  name: string,
  annotations: Record<string, string>,
  owner?: string,
  replicas = 1,
): V1ReplicaSet {
  return {
    metadata: meta(name, owner === undefined ? undefined : { kind: "Deployment", name: owner }),
    spec: {
      replicas,
      selector: { matchLabels: { app: "web", hash: name } },
      template: template(annotations),
    },
  };
}

function statefulSet(name: string, annotations: Record<string, string>): V1StatefulSet {
  return {
    metadata: meta(name),
    spec: {
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: template(annotations, { app: name }),
    },
  };
}

function pod(
  name: string,
  annotations: Record<string, string>,
  owner?: { kind: string; name: string },
  phase = "Running",
): V1Pod {
  return { metadata: { ...meta(name, owner), annotations, labels: { app: "web" } }, status: { phase } };
}

function job(
  name: string,
  annotations: Record<string, string>,
  opts: { finished?: boolean; owner?: string } = {},
): V1Job {
  return {
    metadata: meta(name, opts.owner === undefined ? undefined : { kind: "CronJob", name: opts.owner }),
    spec: {
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": `uid-${name}` } },
      template: template(annotations, { "batch.kubernetes.io/controller-uid": `uid-${name}`, job: name }),
    },
    status: opts.finished ? { conditions: [{ type: "Complete", status: "True" }] } : {},
  };
}

function cronJob(
  name: string,
  annotations: Record<string, string>,
  labels?: Record<string, string>,
): V1CronJob {
  return {
    metadata: meta(name),
    spec: {
      schedule: "* * * * *",
      jobTemplate: { spec: { template: { metadata: { annotations, labels }, spec: { containers: [] } } } },
    },
  };
}

describe("appsFromObjects", () => {
  it("takes an app from an annotated Deployment, with its selector and Configuration", () => {
    const { apps, conflicts, ignored } = appsFromObjects({
      deployments: [deployment("web", dapr("web-app", "tracing", { "dapr.io/grpc-port": "6000" }))],
    });
    expect(conflicts).to.deep.equal([]);
    expect(ignored).to.deep.equal([]);
    expect(apps).to.deep.equal([
      {
        namespace: NS,
        appId: "web-app",
        configName: "tracing",
        selector: { app: "web" },
        sources: [{ kind: "Deployment", name: "web", configName: "tracing" }],
        podAnnotations: dapr("web-app", "tracing", { "dapr.io/grpc-port": "6000" }),
      },
    ]);
  });

  it("reads dapr.io/enabled case-insensitively and skips objects that are not enabled", () => {
    const { apps } = appsFromObjects({
      deployments: [
        deployment("a", { ...dapr("a"), "dapr.io/enabled": "TRUE" }),
        deployment("b", { ...dapr("b"), "dapr.io/enabled": "false" }),
        deployment("c", { "dapr.io/app-id": "c" }),
        deployment("d", { ...dapr("d"), "dapr.io/enabled": "maybe" }),
      ],
    });
    expect(apps.map((a) => a.appId)).to.deep.equal(["a"]);
  });

  it("does not give the ReplicaSets and pods of a listed Deployment entries of their own", () => {
    const annotations = dapr("web", "cfg");
    const { apps, conflicts } = appsFromObjects({
      deployments: [deployment("web", annotations)],
      replicaSets: [replicaSet("web-123", annotations, "web")],
      pods: [pod("web-123-abc", annotations, { kind: "ReplicaSet", name: "web-123" })],
    });
    expect(conflicts).to.deep.equal([]);
    expect(apps).to.have.length(1);
    expect(apps[0]?.sources).to.deep.equal([{ kind: "Deployment", name: "web", configName: "cfg" }]);
    expect(apps[0]?.selector).to.deep.equal({ app: "web" });
  });

  it("does not report a conflict in the middle of a rollout that changes the Configuration", () => {
    const { apps, conflicts } = appsFromObjects({
      deployments: [deployment("web", dapr("web", "new"))],
      replicaSets: [
        replicaSet("web-old", dapr("web", "old"), "web", 2),
        replicaSet("web-new", dapr("web", "new"), "web"),
      ],
      pods: [pod("web-old-1", dapr("web", "old"), { kind: "ReplicaSet", name: "web-old" })],
    });
    expect(conflicts).to.deep.equal([]);
    expect(apps.map((a) => [a.appId, a.configName])).to.deep.equal([["web", "new"]]);
  });

  it("keeps an app renamed by a rollout while its old pods run, and not after", () => {
    const during = appsFromObjects({
      deployments: [deployment("web", dapr("web-v2"))],
      replicaSets: [replicaSet("web-old", dapr("web-v1"), "web", 2)],
    });
    expect(during.apps.map((a) => a.appId)).to.deep.equal(["web-v1", "web-v2"]);
    expect(during.apps[0]?.sources).to.deep.equal([
      { kind: "ReplicaSet", name: "web-old", configName: undefined },
    ]);

    const scaledDown = appsFromObjects({
      deployments: [deployment("web", dapr("web-v2"))],
      replicaSets: [replicaSet("web-old", dapr("web-v1"), "web", 0)],
      pods: [pod("web-old-1", dapr("web-v1"), { kind: "ReplicaSet", name: "web-old" })],
    });
    // The last old pod still runs a sidecar that reads web-v1's config.
    expect(scaledDown.apps.map((a) => a.appId)).to.deep.equal(["web-v1", "web-v2"]);
    expect(scaledDown.apps[0]?.sources).to.deep.equal([
      { kind: "Pod", name: "web-old-1", configName: undefined },
    ]);

    const done = appsFromObjects({
      deployments: [deployment("web", dapr("web-v2"))],
      replicaSets: [replicaSet("web-old", dapr("web-v1"), "web", 0)],
    });
    expect(done.apps.map((a) => a.appId)).to.deep.equal(["web-v2"]);
  });

  it("names a bare pod's app after the pod when it has no app-id, and selects it by the app-id label", () => {
    const { apps } = appsFromObjects({ pods: [pod("debug", dapr())] });
    expect(apps).to.have.length(1);
    expect(apps[0]?.appId).to.equal("debug");
    expect(apps[0]?.selector).to.deep.equal({ "dapr.io/app-id": "debug" });
  });

  it("makes each pod of a StatefulSet without app-id its own app, and reports nothing", () => {
    const { apps, ignored } = appsFromObjects({
      statefulSets: [statefulSet("db", dapr())],
      pods: [
        pod("db-0", dapr(), { kind: "StatefulSet", name: "db" }),
        pod("db-1", dapr(), { kind: "StatefulSet", name: "db" }),
      ],
    });
    expect(ignored).to.deep.equal([]);
    expect(apps.map((a) => a.appId)).to.deep.equal(["db-0", "db-1"]);
  });

  it("reports a Deployment without app-id once, not its ReplicaSets too", () => {
    const { apps, ignored } = appsFromObjects({
      deployments: [deployment("web", dapr())],
      replicaSets: [replicaSet("web-1", dapr(), "web")],
    });
    expect(apps).to.deep.equal([]);
    expect(ignored).to.have.length(1);
    expect(ignored[0]).to.include({ namespace: NS, kind: "Deployment", name: "web", reason: "MissingAppId" });
    expect(ignored[0]?.message).to.contain("dapr.io/app-id");
  });

  it("reports invalid app-ids and Configuration names", () => {
    const { apps, ignored } = appsFromObjects({
      deployments: [deployment("a", dapr("Not_Valid")), deployment("b", dapr("x".repeat(59)))],
      statefulSets: [statefulSet("c", dapr("c", "Bad Name"))],
      pods: [pod("p".repeat(60), dapr())],
    });
    expect(apps).to.deep.equal([]);
    expect(ignored.map((i) => [i.kind, i.name.slice(0, 3), i.reason])).to.deep.equal([
      ["Deployment", "a", "InvalidAppId"],
      ["Deployment", "b", "InvalidAppId"],
      ["Pod", "ppp", "InvalidAppId"],
      ["StatefulSet", "c", "InvalidAnnotation"],
    ]);
    expect(ignored[1]?.message).to.contain("at most 58");
  });

  it("resolves two workloads with one app-id and different Configurations by kind/name, and reports it", () => {
    const objects: AppObjects = {
      statefulSets: [statefulSet("alpha", dapr("orders", "b-config"))],
      deployments: [deployment("zeta", dapr("orders", "a-config"))],
    };
    const { apps, conflicts } = appsFromObjects(objects);
    expect(apps).to.have.length(1);
    // "Deployment/zeta" < "StatefulSet/alpha"
    expect(apps[0]?.configName).to.equal("a-config");
    expect(apps[0]?.sources.map((s) => `${s.kind}/${s.name}`)).to.deep.equal([
      "Deployment/zeta",
      "StatefulSet/alpha",
    ]);
    // Two workloads: only the app-id label selects both.
    expect(apps[0]?.selector).to.deep.equal({ "dapr.io/app-id": "orders" });
    expect(conflicts).to.deep.equal([
      {
        namespace: NS,
        appId: "orders",
        chosen: { kind: "Deployment", name: "zeta", configName: "a-config" },
        others: [{ kind: "StatefulSet", name: "alpha", configName: "b-config" }],
        message:
          "app-id orders is used by Deployment/zeta (config a-config), StatefulSet/alpha (config b-config), " +
          "which name different Configurations; using Deployment/zeta (config a-config) (first by kind/name)",
      },
    ]);
  });

  it("treats a missing dapr.io/config as different from a named one", () => {
    const { conflicts } = appsFromObjects({
      deployments: [deployment("a", dapr("orders")), deployment("b", dapr("orders", "cfg"))],
    });
    expect(conflicts).to.have.length(1);
    expect(conflicts[0]?.chosen.configName).to.equal(undefined);
  });

  it("shares one app between workloads that agree, without a conflict", () => {
    const { apps, conflicts } = appsFromObjects({
      deployments: [deployment("a", dapr("orders", "cfg")), deployment("b", dapr("orders", "cfg"))],
    });
    expect(conflicts).to.deep.equal([]);
    expect(apps).to.have.length(1);
    expect(apps[0]?.sources).to.have.length(2);
  });

  it("gives the same result whatever the order of the input", () => {
    const objects: AppObjects = {
      deployments: [
        deployment("b", dapr("x", "two")),
        deployment("a", dapr("x", "one")),
        deployment("c", dapr("y")),
      ],
      pods: [pod("p1", dapr("z")), pod("p0", dapr("z"))],
    };
    const reversed: AppObjects = {
      deployments: [...(objects.deployments ?? [])].reverse(),
      pods: [...(objects.pods ?? [])].reverse(),
    };
    expect(appsFromObjects(reversed)).to.deep.equal(appsFromObjects(objects));
  });

  it("keeps namespaces apart", () => {
    const { apps, conflicts } = appsFromObjects({
      deployments: [deployment("web", dapr("web", "a"), "one"), deployment("web", dapr("web", "b"), "two")],
    });
    expect(conflicts).to.deep.equal([]);
    expect(apps.map((a) => appKey(a.namespace, a.appId))).to.deep.equal(["one/web", "two/web"]);
  });

  it("ignores finished Jobs and pods, and covers the Jobs of a CronJob", () => {
    const { apps } = appsFromObjects({
      jobs: [
        job("done", dapr("batch-done"), { finished: true }),
        job("running", dapr("batch")),
        job("nightly-1", dapr("nightly"), { owner: "nightly" }),
      ],
      cronJobs: [cronJob("nightly", dapr("nightly"), { role: "nightly" })],
      pods: [pod("old", dapr("old"), undefined, "Succeeded")],
    });
    expect(apps.map((a) => [a.appId, a.sources.map((s) => s.kind), a.selector])).to.deep.equal([
      ["batch", ["Job"], { "batch.kubernetes.io/controller-uid": "uid-running" }],
      ["nightly", ["CronJob"], { role: "nightly" }],
    ]);
  });

  it("selects a CronJob's pods by the app-id label when its template has no labels", () => {
    const { apps } = appsFromObjects({ cronJobs: [cronJob("nightly", dapr("nightly"))] });
    expect(apps[0]?.selector).to.deep.equal({ "dapr.io/app-id": "nightly" });
  });

  it("uses the pod template labels when the workload selector has matchExpressions", () => {
    const d = deployment("web", dapr("web"));
    d.spec!.selector = { matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] };
    const { apps } = appsFromObjects({ deployments: [d] });
    expect(apps[0]?.selector).to.deep.equal({ app: "web" });
  });

  it("makes a pod whose controller is not listed a source of its own", () => {
    const { apps } = appsFromObjects({
      deployments: [deployment("web", dapr("web"))],
      pods: [pod("web-x", dapr("web"), { kind: "ReplicaSet", name: "web-unlisted" })],
    });
    expect(apps[0]?.sources.map((s) => `${s.kind}/${s.name}`)).to.deep.equal(["Deployment/web", "Pod/web-x"]);
    expect(apps[0]?.selector).to.deep.equal({ "dapr.io/app-id": "web" });
  });
});
