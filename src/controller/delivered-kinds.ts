// The kinds delivered to a sidecar besides Components and the Configuration: Subscriptions,
// Resiliency, HTTPEndpoints, MCPServers and WorkflowAccessPolicies. Each is one multi-document file in daprd's resources path,
// scoped by `scopes` like a Component, kept in its last good version when it breaks. What differs
// between them is in one table (DELIVERED_KINDS): the Secret key, the apiVersion daprd's disk
// loader reads, and how its secrets resolve. Pure. docs/sidecar-config.md has the rules.
import { DAPR_API_VERSION, DAPR_GROUP, SUBSCRIPTION_V2ALPHA1 } from "../apis/resources.ts";
import type {
  HTTPEndpoint,
  MCPAuth,
  MCPServer,
  MetadataItem,
  Resiliency,
  Subscription,
  TLSDocument,
  WorkflowAccessPolicy,
} from "../apis/types.ts";
import {
  HTTP_ENDPOINTS_KEY,
  MCP_SERVERS_KEY,
  RESILIENCY_KEY,
  SUBSCRIPTIONS_KEY,
  WORKFLOW_ACCESS_POLICIES_KEY,
} from "../sidecar/config-secret.ts";
import {
  canonical,
  cleanMetadata,
  resolveItems,
  type RenderProblem,
  type Resolution,
  type SecretLookup,
} from "./sidecar-config.ts";

export type DeliveredKind =
  "Subscription" | "Resiliency" | "HTTPEndpoint" | "MCPServer" | "WorkflowAccessPolicy";
export type DeliveredResource = Subscription | Resiliency | HTTPEndpoint | MCPServer | WorkflowAccessPolicy;

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
  {
    kind: "MCPServer",
    key: MCP_SERVERS_KEY,
    title: "MCPServers",
    apiVersion: DAPR_API_VERSION,
    secretNames: (o) => mcpServerSecretNames(o as MCPServer),
    resolve: (o, s) => resolveMcpServer(o as MCPServer, s),
  },
  {
    kind: "WorkflowAccessPolicy",
    key: WORKFLOW_ACCESS_POLICIES_KEY,
    title: "WorkflowAccessPolicies",
    apiVersion: DAPR_API_VERSION,
    secretNames: () => [],
    resolve: (o) => render(o, DAPR_API_VERSION, "WorkflowAccessPolicy"),
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

/**
 * Whether `components` (an app's rendered Components) hold the pub/sub Component the
 * Subscription's `pubsubname` names: one of that name whose type is `pubsub.*`. Pure.
 */
export function pubsubInScope(sub: Subscription, components: readonly Record<string, unknown>[]): boolean {
  const name = sub.spec?.pubsubname;
  return components.some((c) => {
    const metadata = c.metadata as { name?: unknown } | undefined;
    const type = (c.spec as { type?: unknown } | undefined)?.type;
    return metadata?.name === name && typeof type === "string" && type.startsWith("pubsub.");
  });
}

/** Secrets come from Kubernetes when `auth.secretStore` is empty or `kubernetes`, as for Components. */
function isKubernetesStore(auth: { secretStore?: string } | undefined): boolean {
  const store = auth?.secretStore ?? "";
  return store === "" || store === "kubernetes";
}

/** An HTTPEndpoint's secrets: its top-level `auth`. */
function usesKubernetesSecrets(e: HTTPEndpoint): boolean {
  return isKubernetesStore(e.auth);
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

// --- MCPServer -------------------------------------------------------------------------------

/** The HTTP transport of an MCPServer (streamableHTTP or sse), with its field name; undefined for stdio. */
function mcpHttpTransport(
  m: MCPServer,
): { field: "streamableHTTP" | "sse"; headers?: MetadataItem[]; auth?: MCPAuth } | undefined {
  const endpoint = m.spec?.endpoint;
  const field = endpoint?.streamableHTTP ? "streamableHTTP" : endpoint?.sse ? "sse" : undefined;
  const transport = field && endpoint?.[field];
  if (!field || !transport) return undefined;
  return { field, headers: transport.headers as MetadataItem[] | undefined, auth: transport.auth };
}

function mcpServerSecretNames(m: MCPServer): string[] {
  const t = mcpHttpTransport(m);
  if (!t || !isKubernetesStore(t.auth)) return [];
  const names = new Set((t.headers ?? []).map((h) => h.secretKeyRef?.name).filter((n): n is string => !!n));
  return [...names].sort();
}

/** Problem of an MCPServer field the sidecar must not receive (reason `NotDeliverable`). */
function notDeliverable(field: string, detail: string): RenderProblem {
  return { reason: "NotDeliverable", field, detail };
}

/**
 * The MCPServer as its sidecar receives it. Header `secretKeyRef`s of the HTTP transport resolve
 * from Kubernetes Secrets (daprd in standalone mode has no Kubernetes secret store), as an
 * HTTPEndpoint's do. Three shapes are not delivered:
 * - without `spec.ignoreErrors: true`: daprd 1.18.2 registers the server's tools as workflows
 *   when it loads it, which needs the actor placement service, and exits when that fails
 *   ("placement service is not configured", seen by daprd-kinds.e2e.ts). One such MCPServer
 *   would stop every sidecar in its scope; with ignoreErrors daprd logs the error and goes on.
 * - `stdio`: daprd would run the command inside the sidecar. Dapr refuses stdio in Kubernetes
 *   mode; the sidecar here runs in standalone mode, where daprd allows it, so the refusal is ours.
 * - `auth.oauth2.secretKeyRef` with the Kubernetes store: daprd fetches the client secret when it
 *   connects, from a secret store Component named `kubernetes`, which a standalone sidecar lacks
 *   (the value cannot be written into the file: the field has no `value`). Naming another store
 *   in `auth.secretStore` works.
 */
export function resolveMcpServer(m: MCPServer, secrets: SecretLookup): Resolution {
  const problems: RenderProblem[] = [];
  if (m.spec?.ignoreErrors !== true)
    problems.push(
      notDeliverable(
        "spec.ignoreErrors",
        'is not true: daprd exits when it cannot connect to the MCP server or register its workflows, which needs the actor placement service (daprd 1.18.2 without one: "placement service is not configured")',
      ),
    );
  if (m.spec?.endpoint?.stdio)
    problems.push(
      notDeliverable(
        "spec.endpoint.stdio",
        "runs a command inside the sidecar; Dapr refuses stdio MCP servers on Kubernetes, and so does Outrigger",
      ),
    );
  const t = mcpHttpTransport(m);
  const kubernetesSecrets = t !== undefined && isKubernetesStore(t.auth);
  if (kubernetesSecrets && t.auth?.oauth2?.secretKeyRef)
    problems.push(
      notDeliverable(
        `spec.endpoint.${t.field}.auth.oauth2.secretKeyRef`,
        "daprd reads it from a secret store Component when it connects, and the sidecar has no Kubernetes secret store; name one in auth.secretStore",
      ),
    );
  const h = resolveItems(kubernetesSecrets ? (t.headers ?? []) : [], m.metadata?.namespace ?? "", secrets);
  problems.push(...h.problems);
  if (problems.length > 0) return { ok: false, problems };
  if (!kubernetesSecrets || t.headers === undefined) return render(m, DAPR_API_VERSION, "MCPServer");
  const endpoint = { ...m.spec.endpoint, [t.field]: { ...m.spec.endpoint[t.field], headers: h.items } };
  return render(
    { ...m, spec: { ...m.spec, endpoint } } as unknown as DeliveredResource,
    DAPR_API_VERSION,
    "MCPServer",
  );
}

function render(obj: DeliveredResource, apiVersion: string, kind: DeliveredKind): Resolution {
  const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = obj;
  return {
    ok: true,
    rendered: canonical({ apiVersion, kind, metadata: cleanMetadata(metadata), ...rest }),
  };
}
