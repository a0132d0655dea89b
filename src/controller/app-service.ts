// The `<app-id>-dapr` headless Service of an app: how sidecars find each other through the
// Kubernetes name resolver. Ports and names as Dapr's operator creates them, so clients and
// dashboards that know Dapr keep working. Pure: desired object, update check, prune list.

import type { V1Service, V1ServicePort } from "@kubernetes/client-node";
import { annotations } from "../sidecar/annotations.ts";
import {
  APP_ID_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  appServiceName,
} from "../sidecar/config-secret.ts";
import type { App } from "./apps.ts";
import { canonicalJson } from "../shared/canonical-json.ts";
import { leftoversOfGoneApps } from "./sidecar-config.ts";

/** daprd's HTTP API port; it has no annotation. The Service exposes it on port 80, as Dapr does. */
export const DAPR_HTTP_PORT = 3500;
export const DAPR_HTTP_SERVICE_PORT = 80;

// Dapr puts these on the Service when metrics are on, so Prometheus' Kubernetes discovery scrapes it.
const PROMETHEUS_ANNOTATIONS = [
  "prometheus.io/probe",
  "prometheus.io/scrape",
  "prometheus.io/port",
  "prometheus.io/path",
];

/** Annotation keys we set on the Service; others' annotations are left alone. */
const OWNED_ANNOTATIONS = [annotations.appId.key, ...PROMETHEUS_ANNOTATIONS];

export function desiredAppService(
  app: Pick<App, "namespace" | "appId" | "selector" | "podAnnotations">,
): V1Service {
  const grpcPort = annotationValue(app, annotations.grpcPort);
  const internalGrpcPort = annotationValue(app, annotations.internalGrpcPort);
  const metricsPort = annotationValue(app, annotations.metricsPort);
  const metricsEnabled = annotationValue(app, annotations.enableMetrics);
  const serviceAnnotations: Record<string, string> = { [annotations.appId.key]: app.appId };
  if (metricsEnabled) {
    serviceAnnotations["prometheus.io/probe"] = "true";
    serviceAnnotations["prometheus.io/scrape"] = "true";
    serviceAnnotations["prometheus.io/port"] = String(metricsPort);
    serviceAnnotations["prometheus.io/path"] = "/";
  }
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: appServiceName(app.appId),
      namespace: app.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        [APP_ID_LABEL]: app.appId,
        // Dapr's operator labels its Services so; tools select them by it.
        [annotations.enabled.key]: "true",
      },
      annotations: serviceAnnotations,
    },
    spec: {
      clusterIP: "None",
      selector: { ...app.selector },
      ports: [
        port("dapr-http", DAPR_HTTP_SERVICE_PORT, DAPR_HTTP_PORT, "http"),
        port("dapr-grpc", grpcPort, grpcPort, "grpc"),
        // Sidecars run in standalone mode without Sentry, so internal gRPC is plaintext gRPC.
        port("dapr-internal", internalGrpcPort, internalGrpcPort, "grpc"),
        port("dapr-metrics", metricsPort, metricsPort, "http"),
      ],
    },
  };
}

function port(name: string, servicePort: number, targetPort: number, appProtocol: string): V1ServicePort {
  return { name, port: servicePort, targetPort, protocol: "TCP", appProtocol };
}

/** The annotation's value for the app, or its default when it is absent or invalid (the injector denies invalid pods). */
function annotationValue<T>(
  app: Pick<App, "podAnnotations">,
  spec: { key: string; parser: { parse(raw: string): { ok: true; value: T } | { ok: false } }; default?: T },
): T {
  const raw = app.podAnnotations[spec.key];
  const parsed = raw === undefined ? undefined : spec.parser.parse(raw);
  if (parsed?.ok) return parsed.value;
  if (spec.default === undefined) throw new Error(`annotation ${spec.key} has no default`);
  return spec.default;
}

/**
 * What to do with an existing Service of the app's name that is ours:
 * - "none": it matches;
 * - "update": a PUT of `serviceForUpdate` fixes it;
 * - "recreate": it is not headless, and clusterIP cannot change in place: delete, then create.
 */
export type ServiceChange = "none" | "update" | "recreate";

export function serviceChange(existing: V1Service, desired: V1Service): ServiceChange {
  if (existing.spec?.clusterIP !== "None") return "recreate";
  return serviceNeedsUpdate(existing, desired) ? "update" : "none";
}

/**
 * Whether a PUT of `serviceForUpdate` would change anything: selector, ports, our labels and
 * annotations (including Prometheus annotations to remove when metrics were turned off).
 * Defaults the API server fills in (sessionAffinity, ipFamilies, clusterIPs...) are not
 * compared, nor clusterIP, which a PUT cannot change: see `serviceChange`.
 */
export function serviceNeedsUpdate(existing: V1Service, desired: V1Service): boolean {
  if (canonicalJson(existing.spec?.selector ?? {}) !== canonicalJson(desired.spec?.selector ?? {}))
    return true;
  if (canonicalJson(comparablePorts(existing)) !== canonicalJson(comparablePorts(desired))) return true;
  const haveLabels = existing.metadata?.labels ?? {};
  if (Object.entries(desired.metadata?.labels ?? {}).some(([k, v]) => haveLabels[k] !== v)) return true;
  return canonicalJson(ownedAnnotations(existing)) !== canonicalJson(ownedAnnotations(desired));
}

/** `existing` with our fields from `desired`, for a PUT that keeps resourceVersion, clusterIP and others' metadata. */
export function serviceForUpdate(existing: V1Service, desired: V1Service): V1Service {
  const others = Object.fromEntries(
    Object.entries(existing.metadata?.annotations ?? {}).filter(([k]) => !OWNED_ANNOTATIONS.includes(k)),
  );
  return {
    ...existing,
    metadata: {
      ...existing.metadata,
      labels: { ...existing.metadata?.labels, ...desired.metadata?.labels },
      annotations: { ...others, ...desired.metadata?.annotations },
    },
    spec: { ...existing.spec, selector: desired.spec?.selector, ports: desired.spec?.ports },
  };
}

/** Our app Services whose app is not in `apps`: to delete. */
export function leftoverAppServices(
  existing: readonly V1Service[],
  apps: readonly Pick<App, "namespace" | "appId">[],
): V1Service[] {
  return leftoversOfGoneApps(existing, apps, appServiceName);
}

function comparablePorts(s: V1Service): unknown[] {
  return (s.spec?.ports ?? [])
    .map((p) => ({
      name: p.name ?? "",
      port: p.port,
      // 3500 and "3500" are the same target; a named target port stays a name.
      targetPort: String(p.targetPort ?? p.port),
      protocol: p.protocol ?? "TCP",
      appProtocol: p.appProtocol ?? "",
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function ownedAnnotations(s: V1Service): Record<string, string> {
  const all = s.metadata?.annotations ?? {};
  return Object.fromEntries(
    OWNED_ANNOTATIONS.filter((k) => all[k] !== undefined).map((k) => [k, all[k] as string]),
  );
}
