// The thin reader of `outrigger check`: gathers from the cluster what the pure checks take, each
// read on its own so one failure (a permission, a missing object) leaves the others standing.
// Read-only but for the dry-run pod (dryRun=All: nothing is stored) and SelfSubjectAccessReviews.
import { readdirSync, readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Deployment,
  V1Lease,
  V1MutatingWebhookConfiguration,
  V1Pod,
  V1Secret,
} from "@kubernetes/client-node";
import { load } from "js-yaml";
import { CRD_DIR, parseCrd, parseManifests, type CustomResourceDefinition } from "../../apis/crd-schema.ts";
import type { AppObjects } from "../../controller/apps.ts";
import { resourcePath, resources, type ResourceType } from "../../controller/runtime/resource.ts";
import { kubeListerWatcher } from "../../controller/runtime/watch.ts";
import { jsonOrUndefined, streamLines, type KubeHttp } from "../../shared/kube-http.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../../sidecar/config-secret.ts";
import type { AccessReview, Read, ServingCertificate, StatusedResource } from "./checks.ts";

const CHART = new URL("../../../deploy/helm/outrigger/Chart.yaml", import.meta.url);
const MANIFESTS = new URL("../../../deploy/manifests/outrigger.yaml", import.meta.url);

/** Runs a read, turning a failure into its message. */
export async function attempt<T>(fn: () => Promise<T>): Promise<Read<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** GET of one object; undefined when it does not exist. */
function getOrUndefined<T>(http: KubeHttp, path: string): Promise<T | undefined> {
  return jsonOrUndefined<T>(http, { path, timeoutMs: 15_000 });
}

/** The chart's `kubeVersion` constraint, shipped with this version. */
export function chartKubeVersion(): string {
  const chart = load(readFileSync(CHART, "utf8")) as { kubeVersion?: string };
  return chart.kubeVersion ?? "";
}

/** The CRDs shipped with this version (crds/). */
export function packagedCrds(): CustomResourceDefinition[] {
  return readdirSync(CRD_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => parseCrd(readFileSync(`${CRD_DIR}${f}`, "utf8")));
}

export function readVersion(http: KubeHttp): Promise<Read<string>> {
  return attempt(
    async () => (await http.json<{ gitVersion: string }>({ path: "/version", timeoutMs: 15_000 })).gitVersion,
  );
}

export function readAdmissionApi(http: KubeHttp): Promise<Read<boolean>> {
  return attempt(async () => {
    const list = await http.json<{ resources?: Array<{ name: string }> }>({
      path: "/apis/admissionregistration.k8s.io/v1",
      timeoutMs: 15_000,
    });
    return (list.resources ?? []).some((r) => r.name === "mutatingwebhookconfigurations");
  });
}

/** The API server's /metrics text (needs the nonResourceURL permission, which admins have). */
export function readApiServerMetrics(http: KubeHttp): Promise<Read<string>> {
  return attempt(async () => {
    const lines: string[] = [];
    await streamLines(http, { path: "/metrics", timeoutMs: 30_000 }, (l) => lines.push(l));
    return lines.join("\n");
  });
}

/**
 * SelfSubjectAccessReviews for what the chart installs: each kind of the rendered manifests
 * (deploy/manifests/outrigger.yaml), mapped to its resource by API discovery.
 */
export async function readInstallerAccess(http: KubeHttp, namespace: string): Promise<AccessReview[]> {
  const objects = parseManifests(readFileSync(MANIFESTS, "utf8")) as KubernetesObject[];
  const kinds = new Map<string, { apiVersion: string; kind: string }>();
  for (const o of objects)
    if (o.apiVersion && o.kind)
      kinds.set(`${o.apiVersion}/${o.kind}`, { apiVersion: o.apiVersion, kind: o.kind });
  const discovery = new Map<string, Read<Array<{ name: string; kind: string; namespaced: boolean }>>>();
  const reviews: AccessReview[] = [];
  for (const { apiVersion, kind } of kinds.values()) {
    const path = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (!discovery.has(path))
      discovery.set(
        path,
        await attempt(
          async () =>
            (
              await http.json<{ resources: Array<{ name: string; kind: string; namespaced: boolean }> }>({
                path,
                timeoutMs: 15_000,
              })
            ).resources,
        ),
      );
    const found = discovery.get(path)!;
    const group = apiVersion.includes("/") ? apiVersion.split("/")[0]! : "";
    const r = found.ok ? found.value.find((x) => x.kind === kind && !x.name.includes("/")) : undefined;
    for (const verb of ["get", "create", "patch", "delete"]) {
      if (!r) {
        reviews.push({
          group,
          resource: kind,
          verb,
          allowed: { ok: false, error: found.ok ? `${apiVersion} ${kind} is not served` : found.error },
        });
        continue;
      }
      const ns = r.namespaced ? namespace : undefined;
      reviews.push({
        group,
        resource: r.name,
        verb,
        ...(ns ? { namespace: ns } : {}),
        allowed: await attempt(async () => {
          const answer = await http.json<{ status?: { allowed?: boolean } }>({
            method: "POST",
            path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            body: {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SelfSubjectAccessReview",
              spec: {
                resourceAttributes: { group, resource: r.name, verb, ...(ns ? { namespace: ns } : {}) },
              },
            },
            timeoutMs: 15_000,
          });
          return answer.status?.allowed === true;
        }),
      });
    }
  }
  return reviews;
}

export function readCrds(
  http: KubeHttp,
  names: readonly string[],
): Promise<Read<Map<string, CustomResourceDefinition>>> {
  return attempt(async () => {
    const out = new Map<string, CustomResourceDefinition>();
    for (const name of names) {
      const crd = await getOrUndefined<CustomResourceDefinition>(
        http,
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
      );
      if (crd) out.set(name, crd);
    }
    return out;
  });
}

export function readWebhookConfig(
  http: KubeHttp,
  name: string,
): Promise<Read<V1MutatingWebhookConfiguration | undefined>> {
  return attempt(() =>
    getOrUndefined<V1MutatingWebhookConfiguration>(
      http,
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`,
    ),
  );
}

/** The certificate presented at https://host:port, without trusting it (the check verifies it). */
export function presentedCertificate(host: string, port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      servername: /^[\d.:]+$/.test(host) ? undefined : host,
      rejectUnauthorized: false,
    });
    const timer = setTimeout(
      () => socket.destroy(new Error(`no TLS answer from ${host}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once("secureConnect", () => {
      const raw = socket.getPeerCertificate().raw;
      clearTimeout(timer);
      socket.end();
      if (!raw) return reject(new Error(`${host}:${port} presented no certificate`));
      // Node's own PEM of the DER the server sent.
      resolve(new X509Certificate(raw).toString());
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * The injector's serving certificate: fetched over TLS when the webhook calls a URL (a local
 * run), else read from its Secret (a Service inside the cluster is not reachable from here).
 */
export function readServingCertificate(
  http: KubeHttp,
  config: Read<V1MutatingWebhookConfiguration | undefined>,
  namespace: string,
  secretName: string,
): Promise<Read<ServingCertificate>> {
  return attempt(async () => {
    const client = config.ok ? config.value?.webhooks?.[0]?.clientConfig : undefined;
    if (client?.url) {
      const url = new URL(client.url);
      const host = url.hostname.replace(/^\[|\]$/g, "");
      const pem = await presentedCertificate(host, Number(url.port || 443));
      return { pem, source: `TLS at ${url.host}`, hostname: host };
    }
    const secret = await getOrUndefined<V1Secret>(
      http,
      resourcePath(resources.secrets, namespace, secretName),
    );
    const crt = secret?.data?.["tls.crt"];
    if (!crt) throw new Error(`Secret ${namespace}/${secretName} has no tls.crt (--cert-secret-name)`);
    const svc = client?.service;
    return {
      pem: Buffer.from(crt, "base64").toString("utf8"),
      source: `Secret ${namespace}/${secretName}`,
      hostname: svc ? `${svc.name}.${svc.namespace}.svc` : `${secretName}.${namespace}.svc`,
    };
  });
}

/** A server-side dry-run (nothing stored) of a pod that asks for a sidecar. */
export function readDryRunPod(http: KubeHttp, namespace: string): Promise<Read<V1Pod>> {
  return attempt(() =>
    http.json<V1Pod>({
      method: "POST",
      path: resourcePath(resources.pods, namespace),
      query: { dryRun: "All" },
      body: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          generateName: "outrigger-check-",
          labels: { app: "outrigger-check" },
          annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "outrigger-check" },
        },
        spec: {
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: "app",
              image: "registry.k8s.io/pause:3.10",
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
            },
          ],
        },
      },
      timeoutMs: 30_000,
    }),
  );
}

export function readLease(
  http: KubeHttp,
  namespace: string,
  name: string,
): Promise<Read<V1Lease | undefined>> {
  return attempt(() => getOrUndefined<V1Lease>(http, resourcePath(resources.leases, namespace, name)));
}

export function readConfigMap(
  http: KubeHttp,
  namespace: string,
  name: string,
): Promise<Read<V1ConfigMap | undefined>> {
  return attempt(() =>
    getOrUndefined<V1ConfigMap>(http, resourcePath(resources.configMaps, namespace, name)),
  );
}

export function readDeployment(
  http: KubeHttp,
  namespace: string,
  name: string,
): Promise<Read<V1Deployment | undefined>> {
  return attempt(() =>
    getOrUndefined<V1Deployment>(http, resourcePath(resources.deployments, namespace, name)),
  );
}

/** Every object of one type (all pages), in one namespace or all. */
export async function listAll<T extends KubernetesObject>(
  http: KubeHttp,
  rt: ResourceType,
  namespace: string | undefined,
  labelSelector?: string,
  metadataOnly = false,
): Promise<T[]> {
  const lw = kubeListerWatcher<T>(http, rt, {
    ...(namespace ? { namespace } : {}),
    ...(labelSelector ? { labelSelector } : {}),
    metadataOnly,
  });
  return (await lw.list(new AbortController().signal)).items;
}

export function readAppObjects(
  http: KubeHttp,
  namespace: string | undefined,
): Promise<Read<AppObjects & { pods: V1Pod[] }>> {
  return attempt(async () => ({
    pods: await listAll<V1Pod>(http, resources.pods, namespace),
    deployments: await listAll(http, resources.deployments, namespace),
    statefulSets: await listAll(http, resources.statefulSets, namespace),
    daemonSets: await listAll(http, resources.daemonSets, namespace),
    replicaSets: await listAll(http, resources.replicaSets, namespace),
    jobs: await listAll(http, resources.jobs, namespace),
    cronJobs: await listAll(http, resources.cronJobs, namespace),
  }));
}

/** The Secrets Outrigger wrote, metadata only: their names are what is checked, never their content. */
export function readSidecarConfigSecrets(
  http: KubeHttp,
  namespace: string | undefined,
): Promise<Read<V1Secret[]>> {
  return attempt(() =>
    listAll<V1Secret>(http, resources.secrets, namespace, `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`, true),
  );
}

/** The kinds whose status the controller reports, by kind name. */
export const STATUSED_KINDS = [
  ["Component", resources.components],
  ["Configuration", resources.configurations],
  ["Subscription", resources.subscriptions],
  ["Resiliency", resources.resiliencies],
  ["HTTPEndpoint", resources.httpEndpoints],
] as const;

export function readStatused(
  http: KubeHttp,
  rt: ResourceType,
  namespace: string | undefined,
): Promise<Read<StatusedResource[]>> {
  return attempt(() => listAll<StatusedResource & KubernetesObject>(http, rt, namespace));
}
