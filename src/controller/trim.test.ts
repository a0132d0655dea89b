import type {
  V1CronJob,
  V1Deployment,
  V1Job,
  V1ObjectMeta,
  V1Pod,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1StatefulSet,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { SIDECAR_STATUS_ANNOTATION } from "../sidecar/status.ts";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import { appsFromObjects, type AppObjects } from "./apps.ts";
import { LAST_APPLIED } from "../shared/metadata-protobuf.ts";
import { staleSidecar } from "./stale-sidecars.ts";
import {
  trimmedCronJob,
  trimmedDaprResource,
  trimmedPod,
  trimmedWorkload,
  withoutManagedFields,
} from "./trim.ts";

const NS = "shop";
const managedFields = [{ manager: "kubectl", operation: "Apply", fieldsV1: { "f:spec": { "f:x": {} } } }];

function meta(name: string, owner?: { kind: string; name: string }): V1ObjectMeta {
  return {
    name,
    namespace: NS,
    uid: `uid-${name}`,
    resourceVersion: "7",
    labels: { app: name },
    annotations: { [LAST_APPLIED]: JSON.stringify({ kind: "whatever", big: "x".repeat(2000) }), team: "a" },
    managedFields,
    ...(owner && {
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: owner.kind,
          name: owner.name,
          uid: `uid-${owner.name}`,
          controller: true,
        },
      ],
    }),
  };
}

/** A pod template with a real-sized spec: everything the trim should drop. */
function template(appId: string, extra: Record<string, string> = {}): V1PodTemplateSpec {
  return {
    metadata: {
      labels: { app: appId },
      annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": appId, ...extra },
    },
    spec: {
      containers: [
        {
          name: "app",
          image: "example/app:1",
          env: Array.from({ length: 20 }, (_, i) => ({ name: `VAR_${i}`, value: "v".repeat(40) })),
          ports: [{ containerPort: 8080 }],
        },
      ],
      volumes: [{ name: "data", emptyDir: {} }],
    },
  };
}

const selector = (app: string) => ({ matchLabels: { app } });

function fixture(): AppObjects {
  const deployments: V1Deployment[] = [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta("web"),
      spec: { selector: selector("web"), template: template("web") },
    },
  ];
  const replicaSets: V1ReplicaSet[] = [
    // Revision history of web (scaled to zero) and its current ReplicaSet.
    {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: meta("web-old", { kind: "Deployment", name: "web" }),
      spec: { replicas: 0, selector: selector("web"), template: template("web-renamed") },
    },
    {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: meta("web-new", { kind: "Deployment", name: "web" }),
      spec: { replicas: 2, selector: selector("web"), template: template("web") },
    },
    // A bare ReplicaSet is an app of its own.
    {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: meta("rs"),
      spec: { replicas: 1, selector: selector("rs"), template: template("rs") },
    },
  ];
  const statefulSets: V1StatefulSet[] = [
    {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: meta("db"),
      spec: { serviceName: "db", selector: selector("db"), template: template("db") },
    },
  ];
  const jobs: V1Job[] = [
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: meta("done"),
      spec: { template: template("done") },
      status: { conditions: [{ type: "Complete", status: "True" }] },
    },
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: meta("running"),
      spec: { template: template("running") },
      status: {},
    },
  ];
  const cronJobs: V1CronJob[] = [
    {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: meta("nightly"),
      spec: { schedule: "0 0 * * *", jobTemplate: { spec: { template: template("nightly") } } },
    },
  ];
  const pod = (name: string, phase: string, owner?: { kind: string; name: string }): V1Pod => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...meta(name, owner),
      annotations: {
        ...template(name).metadata?.annotations,
        [SIDECAR_STATUS_ANNOTATION]: JSON.stringify({
          version: "0",
          image: "old/daprd:1",
          settingsHash: "0",
        }),
      },
      labels: { app: "web", "dapr.io/app-id": "web" },
    },
    spec: template(name).spec!,
    status: { phase, podIP: "10.0.0.1", conditions: [{ type: "Ready", status: "True" }] },
  });
  const pods = [
    pod("web-new-abcde", "Running", { kind: "ReplicaSet", name: "web-new" }),
    pod("bare", "Running"),
    pod("finished", "Succeeded"),
  ];
  return { deployments, replicaSets, statefulSets, jobs, cronJobs, pods };
}

function trimmedFixture(o: AppObjects): AppObjects {
  return {
    deployments: o.deployments?.map(trimmedWorkload),
    replicaSets: o.replicaSets?.map(trimmedWorkload),
    statefulSets: o.statefulSets?.map(trimmedWorkload),
    jobs: o.jobs?.map(trimmedWorkload),
    cronJobs: o.cronJobs?.map(trimmedCronJob),
    pods: o.pods?.map(trimmedPod),
  };
}

describe("trimmed objects", () => {
  it("give the same apps, conflicts and ignored sources as the full objects", () => {
    const full = fixture();
    const expected = appsFromObjects(full);
    expect(expected.apps.map((a) => a.appId)).to.include.members(["web", "rs", "running", "nightly", "bare"]);
    expect(appsFromObjects(trimmedFixture(full))).to.deep.equal(expected);
  });

  it("give the same stale-sidecar verdicts", () => {
    for (const p of fixture().pods ?? []) {
      expect(staleSidecar(trimmedPod(p), builtInSidecarDefaults), p.metadata?.name).to.deep.equal(
        staleSidecar(p, builtInSidecarDefaults),
      );
    }
    expect(staleSidecar(fixture().pods![0]!, builtInSidecarDefaults)).to.not.equal(undefined);
  });

  it("drop pod specs, managedFields and kubectl's last-applied copy, and shrink a lot", () => {
    const full = fixture();
    const trimmed = trimmedFixture(full);
    const text = JSON.stringify(trimmed);
    expect(text).to.not.include("managedFields");
    expect(text).to.not.include(LAST_APPLIED);
    expect(text).to.not.include("VAR_0");
    expect(text.length).to.be.below(JSON.stringify(full).length / 5);
  });

  it("leave the input alone", () => {
    const full = fixture();
    const before = structuredClone(full);
    trimmedFixture(full);
    expect(full).to.deep.equal(before);
  });

  it("keep a Dapr resource whole but for bookkeeping metadata", () => {
    const component = {
      apiVersion: "dapr.io/v1alpha1",
      kind: "Component",
      metadata: meta("statestore"),
      spec: { type: "state.redis", version: "v1", metadata: [{ name: "redisHost", value: "redis:6379" }] },
      scopes: ["web"],
      status: { appCount: 1 },
    };
    const t = trimmedDaprResource(component);
    expect(t.spec).to.equal(component.spec);
    expect(t.scopes).to.equal(component.scopes);
    expect(t.status).to.equal(component.status);
    expect(t.metadata?.annotations).to.deep.equal({ team: "a" });
    expect(t.metadata).to.not.have.property("managedFields");
    expect(t.metadata).to.include({ name: "statestore", uid: "uid-statestore", resourceVersion: "7" });
  });

  it("keep objects the controller writes whole but for managedFields", () => {
    const secret = { apiVersion: "v1", kind: "Secret", metadata: meta("s"), data: { a: "Yg==" } };
    const t = withoutManagedFields(secret);
    expect(t.metadata).to.not.have.property("managedFields");
    expect(t.metadata?.annotations).to.equal(secret.metadata.annotations);
    expect(t.data).to.equal(secret.data);
    const bare = { apiVersion: "v1", kind: "Secret", metadata: { name: "n" } };
    expect(withoutManagedFields(bare)).to.equal(bare);
  });
});
