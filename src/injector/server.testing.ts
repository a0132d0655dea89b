// Test support for the HTTPS shell: a real server on 127.0.0.1:0 with a fresh CA, and a client
// that trusts only that CA. Used by server.test.ts and server-fuzz.test.ts.
import https from "node:https";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import type { AdmissionOutcome, AdmissionRequest } from "./admit.ts";
import { LOOPBACK_HOSTS, rotateCertificates, type StoredCertificates } from "./certs.ts";
import { createInjectorMetrics, type InjectorMetrics } from "./metrics.ts";
import { createWebhookHandler, startWebhookServer, type WebhookServer } from "./server.ts";

export interface TestServer {
  webhook: WebhookServer;
  registry: Registry;
  metrics: InjectorMetrics;
  logs: Array<Record<string, unknown>>;
  certificates: Required<Pick<StoredCertificates, "ca" | "serving" | "caBundlePem">>;
  agent: https.Agent;
  post(body: string | Buffer, headers?: Record<string, string>, path?: string): Promise<TestResponse>;
  request(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<TestResponse>;
  stop(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const policy = {
  ...LOOPBACK_HOSTS,
  caCommonName: "test-injector-ca",
  caValidityMs: 24 * 3_600_000,
  servingValidityMs: 3_600_000,
};

let cachedCertificates: TestServer["certificates"] | undefined;

/** One CA and serving certificate for the whole test run: RSA keys take a while to generate. */
export function testCertificates(): TestServer["certificates"] {
  cachedCertificates ??= rotateCertificates(undefined, new Date(), policy).certificates;
  return cachedCertificates;
}

export function captureLogger(lines: Array<Record<string, unknown>>, level = "info"): Logger {
  return pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
}

export async function startTestServer(opts: {
  admit: (request: AdmissionRequest) => AdmissionOutcome;
  maxRequestBytes?: number;
  keepLogs?: boolean;
}): Promise<TestServer> {
  const registry = new Registry();
  const metrics = createInjectorMetrics(registry);
  const logs: Array<Record<string, unknown>> = [];
  // Debug and up, so a test can tell which level a line was logged at (its `level` field).
  const log = opts.keepLogs === false ? pino({ level: "silent" }) : captureLogger(logs, "debug");
  const certificates = testCertificates();
  const handler = createWebhookHandler({
    admit: opts.admit,
    log,
    metrics,
    ...(opts.maxRequestBytes ? { maxRequestBytes: opts.maxRequestBytes } : {}),
  });
  const webhook = await startWebhookServer({
    handler,
    host: "127.0.0.1",
    port: 0,
    certificate: certificates.serving,
    log,
  });
  const agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: certificates.caBundlePem });
  const { port } = webhook.address();

  const request: TestServer["request"] = (method, path, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = https.request(
        { host: "127.0.0.1", port, method, path, agent, headers, servername: "localhost" },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: Buffer.concat(chunks).toString(),
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  return {
    webhook,
    registry,
    metrics,
    logs,
    certificates,
    agent,
    request,
    post: (body, headers = { "content-type": "application/json" }, path = "/mutate") =>
      request("POST", path, body, headers),
    async stop() {
      agent.destroy();
      await webhook.close(1000);
    },
  };
}

/** A pod CREATE review as the API server sends it. */
export function podCreateReview(
  uid: string,
  pod: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const metadata = (pod.metadata ?? {}) as Record<string, unknown>;
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      ...(typeof metadata.name === "string" ? { name: metadata.name } : {}),
      namespace: "shop",
      operation: "CREATE",
      userInfo: {
        username: "system:serviceaccount:kube-system:replicaset-controller",
        groups: ["system:authenticated"],
      },
      object: { apiVersion: "v1", kind: "Pod", ...pod },
      oldObject: null,
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
      ...extra,
    },
  };
}

/** A Deployment's pod with Dapr annotations. */
export function annotatedPod(): Record<string, unknown> {
  return {
    metadata: {
      generateName: "checkout-7d9f8b6c5d-",
      namespace: "shop",
      labels: { app: "checkout" },
      annotations: {
        "dapr.io/enabled": "true",
        "dapr.io/app-id": "checkout",
        "dapr.io/app-port": "8080",
      },
    },
    spec: {
      containers: [{ name: "app", image: "ghcr.io/example/checkout:1.0", ports: [{ containerPort: 8080 }] }],
    },
  };
}
