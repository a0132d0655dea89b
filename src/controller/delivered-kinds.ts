// The kinds delivered to a sidecar besides Components and the Configuration: Subscriptions,
// Resiliency and HTTPEndpoints. Each is one multi-document file in daprd's resources path,
// scoped by `scopes` like a Component, kept in its last good version when it breaks. What differs
// between them is in one table (DELIVERED_KINDS): the Secret key, the apiVersion daprd's disk
// loader reads, and how its secrets resolve. Pure. docs/sidecar-config.md has the rules.
import { DAPR_API_VERSION, DAPR_GROUP, SUBSCRIPTION_V2ALPHA1 } from "../apis/resources.ts";
import type { HTTPEndpoint, MetadataItem, Resiliency, Subscription, TLSDocument } from "../apis/types.ts";
import { HTTP_ENDPOINTS_KEY, RESILIENCY_KEY, SUBSCRIPTIONS_KEY } from "../sidecar/config-secret.ts";
import {
  canonical,
  cleanMetadata,
  resolveItems,
  type RenderProblem,
  type Resolution,
  type SecretLookup,
} from "./sidecar-config.ts";

export type DeliveredKind = "Subscription" | "Resiliency" | "HTTPEndpoint";
export type DeliveredResource = Subscription | Resiliency | HTTPEndpoint;

export interface DeliveredKindSpec {
  kind: DeliveredKind;
  /** Secret key (and file name in the resources path). */
  key: string;
  /** What the file header calls its content. */
  title: string;
  /** The apiVersion written into the file: the one daprd's disk loader decodes. */
  apiVersion: string;
  /** Names of the Kubernetes Secrets it reads (for the cache index). */
  secretNames(obj: DeliveredResource): string[];
  /** The resource as the sidecar receives it, secrets substituted. */
  resolve(obj: DeliveredResource, secrets: SecretLookup): Resolution;
}

/** In the order the files are listed. */
export const DELIVERED_KINDS: readonly DeliveredKindSpec[] = [
  {
    kind: "HTTPEndpoint",
    key: HTTP_ENDPOINTS_KEY,
    title: "HTTPEndpoints",
    apiVersion: DAPR_API_VERSION,
    secretNames: (o) => httpEndpointSecretNames(o as HTTPEndpoint),
    resolve: (o, s) => resolveHttpEndpoint(o as HTTPEndpoint, s),
  },
  {
    kind: "Resiliency",
    key: RESILIENCY_KEY,
    title: "Resiliency policies",
    apiVersion: DAPR_API_VERSION,
    secretNames: () => [],
    resolve: (o) => render(o, DAPR_API_VERSION, "Resiliency"),
  },
  {
    // daprd's disk loader reads v1alpha1 and v2alpha1 Subscriptions; we write the stored form.
    kind: "Subscription",
    key: SUBSCRIPTIONS_KEY,
    title: "Subscriptions",
    apiVersion: `${DAPR_GROUP}/${SUBSCRIPTION_V2ALPHA1}`,
    secretNames: () => [],
    resolve: (o) => render(o, `${DAPR_GROUP}/${SUBSCRIPTION_V2ALPHA1}`, "Subscription"),
  },
];

export function deliveredKindSpec(kind: DeliveredKind): DeliveredKindSpec {
  return DELIVERED_KINDS.find((k) => k.kind === kind)!;
}

/** Whether an app receives the resource: no scopes means every app of the namespace. */
export function appliesTo(obj: { scopes?: string[] }, appId: string): boolean {
  const scopes = obj.scopes ?? [];
  return scopes.length === 0 || scopes.includes(appId);
}

/** HTTPEndpoint secrets come from Kubernetes when `auth.secretStore` is empty or `kubernetes`, as for Components. */
function usesKubernetesSecrets(e: HTTPEndpoint): boolean {
  const store = e.auth?.secretStore ?? "";
  return store === "" || store === "kubernetes";
}

const TLS_DOCUMENTS = ["rootCA", "certificate", "privateKey"] as const;

/** Headers and clientTLS documents as metadata items named by their field, for resolveItems. */
function httpEndpointItems(e: HTTPEndpoint): { headers: MetadataItem[]; tls: MetadataItem[] } {
  if (!usesKubernetesSecrets(e)) return { headers: [], tls: [] };
  const tls = e.spec?.clientTLS;
  return {
    headers: (e.spec?.headers ?? []) as MetadataItem[],
    tls: TLS_DOCUMENTS.flatMap((f) => {
      const doc: TLSDocument | undefined = tls?.[f];
      return doc ? [{ ...doc, name: `clientTLS.${f}` } as MetadataItem] : [];
    }),
  };
}

function httpEndpointSecretNames(e: HTTPEndpoint): string[] {
  const { headers, tls } = httpEndpointItems(e);
  const names = new Set(
    [...headers, ...tls].map((i) => i.secretKeyRef?.name).filter((n): n is string => !!n),
  );
  return [...names].sort();
}

/**
 * The HTTPEndpoint as its sidecar receives it: `secretKeyRef` of headers and clientTLS documents
 * resolved from Kubernetes Secrets of its namespace (daprd in standalone mode has no Kubernetes
 * secret store). With another `auth.secretStore` they are left for daprd.
 */
export function resolveHttpEndpoint(e: HTTPEndpoint, secrets: SecretLookup): Resolution {
  if (!usesKubernetesSecrets(e) || !e.spec) return render(e, DAPR_API_VERSION, "HTTPEndpoint");
  const namespace = e.metadata?.namespace ?? "";
  const { headers, tls } = httpEndpointItems(e);
  const h = resolveItems(headers, namespace, secrets);
  const t = resolveItems(tls, namespace, secrets);
  const problems: RenderProblem[] = [...h.problems, ...t.problems];
  if (problems.length > 0) return { ok: false, problems };
  const spec: Record<string, unknown> = { ...e.spec };
  if (e.spec.headers !== undefined) spec.headers = h.items;
  if (e.spec.clientTLS !== undefined) {
    const clientTLS: Record<string, unknown> = { ...e.spec.clientTLS };
    for (const item of t.items) {
      const { name, ...doc } = item;
      clientTLS[name.slice("clientTLS.".length)] = doc;
    }
    spec.clientTLS = clientTLS;
  }
  return render({ ...e, spec } as unknown as DeliveredResource, DAPR_API_VERSION, "HTTPEndpoint");
}

function render(obj: DeliveredResource, apiVersion: string, kind: DeliveredKind): Resolution {
  const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = obj;
  return {
    ok: true,
    rendered: canonical({ apiVersion, kind, metadata: cleanMetadata(metadata), ...rest }),
  };
}
