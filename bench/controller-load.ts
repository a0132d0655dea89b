// The objects of the controller benchmark, as pure functions of the load's shape: per namespace
// one Secret of credentials, one Configuration, `components` Components and `apps` Deployments.
//
// Apps are Deployments with `replicas: 0`: each is an app like any other (the controller renders
// its config and Service), without 500 pods that the simulated node would have to run. Most
// Components have no scopes (every app gets them); every fourth is scoped to three apps, so an
// update reaches a known subset. Several read a value from the Secret through secretKeyRef, as
// real ones do. Each Component carries a `benchRevision` setting: an update bumps it, and the
// new value in an app's rendered config shows that the update has reached that app.
import type { V1Deployment, V1Namespace, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { Component, Configuration, MetadataItem } from "../src/apis/types.ts";

export interface LoadShape {
  namespaces: number;
  apps: number;
  components: number;
}

/** Label on everything a run creates: which run, so a later run can clean up after it. */
export const BENCH_RUN_LABEL = "outrigger.dev/bench-run";
export const CREDENTIALS_SECRET = "bench-credentials";
export const CONFIGURATION_NAME = "appconfig";
export const REVISION_SETTING = "benchRevision";

export const namespaceName = (prefix: string, i: number): string => `${prefix}-${i}`;
export const appId = (i: number): string => `app-${i}`;
export const componentName = (c: number): string => `${templates[c % templates.length]!.name}-${c}`;

/** Revisions have a fixed width, so one never occurs inside another in a rendered file. */
export const revision = (n: number): string => `rev-${String(n).padStart(6, "0")}`;

/** The apps a Component is scoped to, or undefined for every app. */
export function componentScopes(shape: LoadShape, c: number): string[] | undefined {
  if (c % 4 !== 3 || shape.apps < 4) return undefined;
  return [...new Set([c, c + 1, c + 2].map((i) => appId(i % shape.apps)))];
}

export function appsInScope(shape: LoadShape, c: number): string[] {
  return componentScopes(shape, c) ?? Array.from({ length: shape.apps }, (_, i) => appId(i));
}

/** The names of the Components an app's config must hold. */
export function componentsOfApp(shape: LoadShape, app: string): string[] {
  return Array.from({ length: shape.components }, (_, c) => c)
    .filter((c) => appsInScope(shape, c).includes(app))
    .map(componentName);
}

const secretRef = (key: string) => ({ secretKeyRef: { name: CREDENTIALS_SECRET, key } });

interface Template {
  name: string;
  type: string;
  metadata: MetadataItem[];
}

// Realistic settings for common Dapr component types.
const templates: Template[] = [
  {
    name: "statestore",
    type: "state.redis",
    metadata: [
      { name: "redisHost", value: "redis-master.data.svc.cluster.local:6379" },
      { name: "redisPassword", ...secretRef("redis-password") },
      { name: "actorStateStore", value: "false" },
      { name: "keyPrefix", value: "appid" },
    ],
  },
  {
    name: "orders",
    type: "pubsub.kafka",
    metadata: [
      { name: "brokers", value: "kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092" },
      { name: "consumerGroup", value: "{appID}" },
      { name: "authType", value: "password" },
      { name: "saslUsername", value: "dapr" },
      { name: "saslPassword", ...secretRef("kafka-password") },
      { name: "initialOffset", value: "oldest" },
    ],
  },
  {
    name: "events",
    type: "pubsub.redis",
    metadata: [
      { name: "redisHost", value: "redis-master.data.svc.cluster.local:6379" },
      { name: "redisPassword", ...secretRef("redis-password") },
      { name: "consumerID", value: "{appID}" },
      { name: "enableTLS", value: "false" },
    ],
  },
  {
    name: "nightly",
    type: "bindings.cron",
    metadata: [
      { name: "schedule", value: "@every 15m" },
      { name: "direction", value: "input" },
    ],
  },
  {
    name: "payments-api",
    type: "bindings.http",
    metadata: [
      { name: "url", value: "https://payments.example.com/v2" },
      { name: "responseTimeout", value: "10s" },
      { name: "securityToken", ...secretRef("payments-token") },
      { name: "securityTokenHeader", value: "Authorization" },
    ],
  },
  {
    name: "orders-db",
    type: "state.postgresql",
    metadata: [
      { name: "connectionString", ...secretRef("postgres-url") },
      { name: "tableName", value: "state" },
      { name: "timeoutInSeconds", value: "20" },
      { name: "cleanupInterval", value: "1h" },
    ],
  },
  {
    name: "lock",
    type: "lock.redis",
    metadata: [
      { name: "redisHost", value: "redis-master.data.svc.cluster.local:6379" },
      { name: "redisPassword", ...secretRef("redis-password") },
    ],
  },
  {
    name: "ratelimit",
    type: "middleware.http.ratelimit",
    metadata: [{ name: "maxRequestsPerSecond", value: "100" }],
  },
];

export function benchNamespace(name: string, run: string): V1Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { [BENCH_RUN_LABEL]: run } } };
}

export function benchSecret(namespace: string, run: string): V1Secret {
  const data = {
    "redis-password": "s3cr3t-redis",
    "kafka-password": "s3cr3t-kafka",
    "payments-token": "Bearer 0123456789abcdef",
    "postgres-url": "postgres://dapr:s3cr3t@postgres.data:5432/orders?sslmode=require",
  };
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: CREDENTIALS_SECRET, namespace, labels: { [BENCH_RUN_LABEL]: run } },
    type: "Opaque",
    stringData: data,
  };
}

export function benchConfiguration(namespace: string, run: string): Configuration {
  return {
    apiVersion: "dapr.io/v1alpha1",
    kind: "Configuration",
    metadata: { name: CONFIGURATION_NAME, namespace, labels: { [BENCH_RUN_LABEL]: run } },
    spec: {
      tracing: {
        samplingRate: "0.1",
        otel: { endpointAddress: "otel-collector.observability:4317", isSecure: false, protocol: "grpc" },
      },
      metric: { enabled: true },
      features: [{ name: "SchedulerReminders", enabled: true }],
    },
  } as Configuration;
}

/** The metadata of Component c at a revision: what an update sends. */
export function componentMetadata(c: number, rev: string): MetadataItem[] {
  return [...templates[c % templates.length]!.metadata, { name: REVISION_SETTING, value: rev }];
}

export function benchComponent(
  shape: LoadShape,
  namespace: string,
  c: number,
  run: string,
  rev: string,
): Component {
  const t = templates[c % templates.length]!;
  const scopes = componentScopes(shape, c);
  return {
    apiVersion: "dapr.io/v1alpha1",
    kind: "Component",
    metadata: { name: componentName(c), namespace, labels: { [BENCH_RUN_LABEL]: run } },
    spec: { type: t.type, version: "v1", metadata: componentMetadata(c, rev) },
    ...(scopes ? { scopes } : {}),
  };
}

export function benchDeployment(namespace: string, app: number, run: string): V1Deployment {
  const id = appId(app);
  const labels = { "app.kubernetes.io/name": id, [BENCH_RUN_LABEL]: run };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: id, namespace, labels },
    spec: {
      replicas: 0,
      selector: { matchLabels: { "app.kubernetes.io/name": id } },
      template: {
        metadata: {
          labels,
          annotations: {
            "dapr.io/enabled": "true",
            "dapr.io/app-id": id,
            "dapr.io/app-port": "8080",
            "dapr.io/config": CONFIGURATION_NAME,
          },
        },
        spec: {
          containers: [
            {
              name: "app",
              image: `ghcr.io/example/${id}:1.0.0`,
              ports: [{ name: "http", containerPort: 8080 }],
              resources: { requests: { cpu: "100m", memory: "128Mi" } },
            },
          ],
        },
      },
    },
  };
}

/** Scheduler that does not exist: unrelated pods stay Pending, so nothing writes to them during a run. */
export const UNSCHEDULED = "outrigger-bench-unscheduled";

/**
 * A pod that has nothing to do with Dapr, about 12 KB as the API server stores it: the kind of
 * pod a cluster holds thousands of (a Java service with a long environment and a big
 * last-applied annotation). The controller should pay next to nothing for it.
 */
export function unrelatedPod(namespace: string, i: number, run: string): V1Pod {
  const name = `other-${i}`;
  const env = Array.from({ length: 60 }, (_, e) => ({
    name: `SETTING_${String(e).padStart(2, "0")}`,
    value: `value-${e}-${"x".repeat(60)}`,
  }));
  const container = {
    name: "app",
    image: `registry.example.com/team/${name}:2.3.4`,
    env,
    ports: [{ name: "http", containerPort: 8080 }],
    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
  };
  const spec = { schedulerName: UNSCHEDULED, containers: [container] };
  const labels = { "app.kubernetes.io/name": "other", [BENCH_RUN_LABEL]: run };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      labels,
      annotations: {
        "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({
          metadata: { name, labels },
          spec,
        }),
      },
    },
    spec,
  };
}
