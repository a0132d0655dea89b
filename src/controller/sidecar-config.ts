// The sidecar config of one app: the files daprd reads from its mounted Secret, and what went
// right or wrong while compiling them. Pure: Secrets come through a lookup function and the
// previous Secret is passed in. docs/sidecar-config.md describes the format and every rule.

import type { V1ObjectMeta, V1Secret } from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import { NO_MEMO, type RenderMemo } from "./render-memo.ts";
import { parseManifests } from "../apis/crd-schema.ts";
import { DAPR_API_VERSION } from "../apis/resources.ts";
import type { Component, Configuration, MetadataItem, Subscription } from "../apis/types.ts";
import {
  APP_ID_LABEL,
  COMPONENTS_KEY,
  CONFIGURATION_KEY,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  sidecarConfigSecretName,
} from "../sidecar/config-secret.ts";
import type { App } from "./apps.ts";
import {
  appliesTo,
  DELIVERED_KINDS,
  pubsubInScope,
  type DeliveredKind,
  type DeliveredResource,
} from "./delivered-kinds.ts";
import { configurationRejections, rejectionMessage, type DaprdRejection } from "./daprd-acceptance.ts";
import { CONFIG_HASH_ANNOTATION, contentHash } from "./hash.ts";
import { LAST_APPLIED } from "../shared/metadata-protobuf.ts";

export type { Component, Configuration, MetadataItem };

/** A Kubernetes Secret by namespace and name, from the caller's cache; undefined when it does not exist. */
export type SecretLookup = (namespace: string, name: string) => V1Secret | undefined;

// --- Results ---------------------------------------------------------------------------------

/** Why a `secretKeyRef` could not be resolved. The names are the condition reasons of the status. */
export type SecretProblem =
  | { reason: "SecretNotFound"; item: string; secret: string }
  | { reason: "KeyNotFound"; item: string; secret: string; key: string }
  /** The value is not UTF-8 text, so it cannot be written as a YAML string. */
  | { reason: "SecretValueNotText"; item: string; secret: string; key: string };

/**
 * A field the sidecar must not receive even though daprd would load it (an MCPServer's stdio
 * transport, for one): Outrigger's own refusal, named apart from daprd's.
 */
export interface NotDeliverable {
  reason: "NotDeliverable";
  /** JSON path of the field, e.g. `spec.endpoint.stdio`. */
  field: string;
  detail: string;
}

/** Why a resource was not rendered: a reference that does not resolve, or a field daprd (or Outrigger) refuses. */
export type RenderProblem = SecretProblem | DaprdRejection | NotDeliverable;

export type ProblemReason = RenderProblem["reason"];

/** A resource rendered for the sidecar (a plain JSON object), or why it could not be. */
export type Resolution =
  { ok: true; rendered: Record<string, unknown> } | { ok: false; problems: RenderProblem[] };

/** Which version of a Component an app's sidecar config carries. */
export type Served = "current" | "lastGood" | "none";

export interface ComponentResult {
  name: string;
  generation: number | undefined;
  reason: "Ready" | ProblemReason;
  problems: RenderProblem[];
  served: Served;
}

/**
 * The result of a delivered resource (Subscription, Resiliency, ...) in an app: a Component's,
 * plus, for a delivered Subscription whose `pubsubname` names no pub/sub Component delivered to
 * the app, that app's id (daprd subscribes to nothing there; the Subscription is still delivered).
 */
export type ResourceResult = ComponentResult & { pubsubMissingFor?: string };

/** The Subscriptions, Resiliencies and HTTPEndpoints of an app's namespace, by kind. */
export type DeliveredResources = Partial<Record<DeliveredKind, readonly DeliveredResource[]>>;

export interface ConfigurationResult {
  /** The Configuration the app names (`dapr.io/config`); undefined when it names none. */
  name: string | undefined;
  generation: number | undefined;
  /** Default: the app names no Configuration. NotFound: it names one that does not exist. */
  reason: "Ready" | "Default" | "NotFound" | ProblemReason;
  problems: RenderProblem[];
  served: "current" | "lastGood" | "default";
  /** Rendered, but worth an Event: it may not mean to daprd what it says. */
  warnings: string[];
}

export interface SidecarConfig {
  /** Secret data as text, by key (COMPONENTS_KEY, CONFIGURATION_KEY). */
  data: Record<string, string>;
  /** `contentHash(data)`. */
  hash: string;
  /** One per Component in the app's scope, sorted by name. */
  components: ComponentResult[];
  configuration: ConfigurationResult;
  /** One per Subscription, Resiliency and HTTPEndpoint in the app's scope, by kind, sorted by name. */
  resources: Record<DeliveredKind, ResourceResult[]>;
  /**
   * True when a broken resource needed its last good version but `previous` came as cached,
   * without its data (cachedConfigSecret): render again with the whole Secret.
   */
  previousDataMissing?: true;
}

export function problemMessage(p: RenderProblem): string {
  switch (p.reason) {
    case "RejectedByDaprd":
      return rejectionMessage(p);
    case "NotDeliverable":
      return `${p.field} ${p.detail}`;
    case "SecretNotFound":
      return `Secret "${p.secret}" not found (metadata "${p.item}")`;
    case "KeyNotFound":
      return `key "${p.key}" not found in Secret "${p.secret}" (metadata "${p.item}")`;
    case "SecretValueNotText":
      return `key "${p.key}" of Secret "${p.secret}" is not UTF-8 text (metadata "${p.item}")`;
  }
}

// --- Scope and references --------------------------------------------------------------------

/** Whether an app receives a Component: no scopes means every app of the namespace. */
export function componentAppliesTo(component: Component, appId: string): boolean {
  return appliesTo(component, appId);
}

/** Component secrets come from Kubernetes when `auth.secretStore` is empty or `kubernetes`, as in Dapr. */
export function usesKubernetesSecrets(component: Component): boolean {
  const store = component.auth?.secretStore ?? "";
  return store === "" || store === "kubernetes";
}

/** Names of the Kubernetes Secrets a Component or Configuration reads, sorted (for a cache index). */
export function referencedSecretNames(
  resource: Component | Configuration,
  kind: "Component" | "Configuration",
): string[] {
  const items =
    kind === "Component" ? componentItems(resource as Component) : otelHeaders(resource as Configuration);
  const names = new Set(items.map((i) => i.secretKeyRef?.name).filter((n): n is string => !!n));
  return [...names].sort();
}

function componentItems(component: Component): MetadataItem[] {
  return usesKubernetesSecrets(component) ? (component.spec?.metadata ?? []) : [];
}

function otelHeaders(configuration: Configuration): MetadataItem[] {
  const tracing = asRecord(configuration.spec?.tracing);
  const otel = asRecord(tracing?.otel);
  const headers = otel?.headers;
  return Array.isArray(headers) ? (headers as MetadataItem[]) : [];
}

// --- Rendering one resource ------------------------------------------------------------------

/** The Component as its sidecar receives it, with Kubernetes secrets substituted. App-independent. */
export function resolveComponent(component: Component, secrets: SecretLookup): Resolution {
  const namespace = component.metadata?.namespace ?? "";
  const resolved = usesKubernetesSecrets(component)
    ? resolveItems(component.spec?.metadata ?? [], namespace, secrets)
    : { items: component.spec?.metadata ?? [], problems: [] };
  if (resolved.problems.length > 0) return { ok: false, problems: resolved.problems };
  const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = component;
  const spec = component.spec && {
    ...component.spec,
    ...(component.spec.metadata === undefined ? {} : { metadata: resolved.items }),
  };
  return {
    ok: true,
    rendered: canonical({
      apiVersion: DAPR_API_VERSION,
      kind: "Component",
      metadata: cleanMetadata(metadata),
      ...rest,
      ...(spec === undefined ? {} : { spec }),
    }),
  };
}

export const KUBERNETES_NAME_RESOLVER = "kubernetes";
export const HOT_RELOAD_FEATURE = "HotReload";
/** metadata.name of the Configuration rendered for an app that has none. */
export const DEFAULT_CONFIGURATION_NAME = "outrigger-default";

/**
 * The Configuration as its sidecar receives it: secrets substituted, standalone-mode defaults
 * added, every field in the form standalone daprd reads (see standaloneOtelHeaders). Refused
 * when daprd would refuse the file (daprd-acceptance.ts).
 */
export function resolveConfiguration(configuration: Configuration, secrets: SecretLookup): Resolution {
  const namespace = configuration.metadata?.namespace ?? "";
  const spec: Record<string, unknown> = { ...(configuration.spec ?? {}) };
  const rejections = configurationRejections(spec);
  if (rejections.length > 0) return { ok: false, problems: rejections };
  const headers = otelHeaders(configuration);
  if (headers.length > 0) {
    const resolved = resolveItems(headers, namespace, secrets);
    if (resolved.problems.length > 0) return { ok: false, problems: resolved.problems };
    const tracing = asRecord(spec.tracing) ?? {};
    spec.tracing = {
      ...tracing,
      otel: { ...asRecord(tracing.otel), headers: standaloneOtelHeaders(resolved.items) },
    };
  }
  const { apiVersion: _a, kind: _k, metadata, status: _s, spec: _spec, ...rest } = configuration;
  return {
    ok: true,
    rendered: canonical({
      apiVersion: DAPR_API_VERSION,
      kind: "Configuration",
      metadata: cleanMetadata(metadata),
      ...rest,
      spec: withStandaloneDefaults(spec),
    }),
  };
}

/**
 * Standalone daprd reads `tracing.otel.headers` from the file as `"name=value"` strings; only
 * Kubernetes mode converts the CRD's `{name, value}` items (a map there makes daprd exit with
 * "cannot unmarshal !!map into string"). An `envRef` becomes `${VAR}`: daprd expands environment
 * variables in the file, so the header gets the sidecar's variable, as envRef means.
 */
export function standaloneOtelHeaders(items: readonly MetadataItem[]): string[] {
  return items.map((item) => {
    if (item.envRef) return `${item.name}=\${${item.envRef}}`;
    const value = item.value;
    return `${item.name}=${value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value)}`;
  });
}

/** The Configuration of an app that names none, or names one that does not exist. */
export function defaultConfiguration(namespace: string): Record<string, unknown> {
  return canonical({
    apiVersion: DAPR_API_VERSION,
    kind: "Configuration",
    metadata: { name: DEFAULT_CONFIGURATION_NAME, namespace },
    spec: withStandaloneDefaults({}),
  });
}

/**
 * What daprd in Kubernetes mode does by itself, and daprd in standalone mode must be told:
 * - name resolution through Kubernetes DNS (`<app-id>-dapr.<namespace>.svc`), not mDNS;
 * - hot reload of Components, which some daprd releases still keep behind a feature flag.
 * A value the user set always wins.
 */
function withStandaloneDefaults(spec: Record<string, unknown>): Record<string, unknown> {
  const out = { ...spec };
  const nameResolution = asRecord(out.nameResolution);
  if (typeof nameResolution?.component !== "string" || nameResolution.component === "") {
    out.nameResolution = { ...nameResolution, component: KUBERNETES_NAME_RESOLVER };
  }
  const features = Array.isArray(out.features) ? out.features : [];
  if (!features.some((f) => asRecord(f)?.name === HOT_RELOAD_FEATURE)) {
    out.features = [...features, { name: HOT_RELOAD_FEATURE, enabled: true }];
  }
  return out;
}

export function resolveItems(
  items: readonly MetadataItem[],
  namespace: string,
  secrets: SecretLookup,
): { items: MetadataItem[]; problems: SecretProblem[] } {
  const problems: SecretProblem[] = [];
  const out = items.map((item): MetadataItem => {
    const ref = item.secretKeyRef;
    if (!ref?.name) return item;
    const secret = secrets(namespace, ref.name);
    if (!secret) {
      problems.push({ reason: "SecretNotFound", item: item.name, secret: ref.name });
      return item;
    }
    // As in Dapr: a missing key means the key named like the Secret.
    const key = ref.key || ref.name;
    const encoded = secret.data?.[key];
    if (encoded === undefined) {
      problems.push({ reason: "KeyNotFound", item: item.name, secret: ref.name, key });
      return item;
    }
    const text = decodeText(encoded);
    if (text === undefined) {
      problems.push({ reason: "SecretValueNotText", item: item.name, secret: ref.name, key });
      return item;
    }
    const { secretKeyRef: _ref, ...rest } = item;
    return { ...rest, value: text };
  });
  return { items: out, problems };
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function decodeText(base64: string): string | undefined {
  try {
    return UTF8.decode(Buffer.from(base64, "base64"));
  } catch {
    return undefined;
  }
}

/** Only what the user wrote: no uid, resourceVersion, generation, managedFields, timestamps, owners. */
export function cleanMetadata(metadata: V1ObjectMeta | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { name: metadata?.name, namespace: metadata?.namespace };
  const labels = metadata?.labels ?? {};
  if (Object.keys(labels).length > 0) out.labels = labels;
  const annotations = Object.fromEntries(
    Object.entries(metadata?.annotations ?? {}).filter(([k]) => k !== LAST_APPLIED),
  );
  if (Object.keys(annotations).length > 0) out.annotations = annotations;
  return out;
}

// --- The app's sidecar config ----------------------------------------------------------------

/**
 * The sidecar config of `app`. `components` are those of the app's namespace (others are
 * ignored); `configuration` is the one `app.configName` names, or undefined when it names none
 * or it does not exist; `previous` is the app's current sidecar config Secret, whose versions
 * are kept for resources that are now broken.
 */
export function desiredSidecarConfig(
  app: Pick<App, "namespace" | "appId" | "configName">,
  components: readonly Component[],
  configuration: Configuration | undefined,
  secrets: SecretLookup,
  previous: V1Secret | undefined,
  delivered: DeliveredResources = {},
  memo: RenderMemo = NO_MEMO,
): SidecarConfig {
  // Parsed only when something is broken: the common case never reads the previous YAML.
  let parsedLastGood: ReturnType<typeof lastGoodResources> | undefined;
  const dataMissing =
    previous !== undefined &&
    previous.data === undefined &&
    (previous as CachedSecret).dataDigests !== undefined;
  let previousDataMissing = false;
  const lastGood = () => {
    if (dataMissing) previousDataMissing = true;
    return (parsedLastGood ??= lastGoodResources(previous));
  };
  const { documents, results: componentResults } = renderScoped(
    app,
    components,
    (c) => memo.resolve(c, secrets, resolveComponent),
    (name) => lastGood().components.get(name),
  );
  const resources = {} as Record<DeliveredKind, ResourceResult[]>;
  const deliveredFiles: Record<string, string> = {};
  for (const k of DELIVERED_KINDS) {
    const scoped = renderScoped(
      app,
      delivered[k.kind] ?? [],
      (o) => memo.resolve(o, secrets, k.resolve),
      (name) => lastGood().delivered.get(k.kind)?.get(name),
    );
    resources[k.kind] = scoped.results;
    deliveredFiles[k.key] = documentsFile(app, k.title, scoped.documents, memo);
  }
  resources.Subscription = withPubsubCheck(
    app.appId,
    resources.Subscription,
    delivered.Subscription,
    documents,
  );

  const { document: configDocument, result: configResult } = renderConfiguration(
    app,
    configuration,
    (c) => memo.resolve(c, secrets, resolveConfiguration),
    () => lastGood().configuration,
  );

  const data = {
    [COMPONENTS_KEY]: componentsFile(app, documents, memo),
    [CONFIGURATION_KEY]: configurationFile(app, configDocument, memo),
    ...deliveredFiles,
  };
  const envRefs = configuration
    ? otelHeaders(configuration).flatMap((h) => (h.envRef ? [h.envRef] : []))
    : [];
  configResult.warnings.push(...expansionWarnings(data[CONFIGURATION_KEY], envRefs));
  return {
    data,
    hash: contentHash(data),
    components: componentResults,
    configuration: configResult,
    resources,
    ...(previousDataMissing ? { previousDataMissing: true as const } : {}),
  };
}

/**
 * The Subscription results of an app, each delivered one whose `pubsubname` names no pub/sub
 * Component in the app's components file marked with the app's id.
 */
function withPubsubCheck(
  appId: string,
  results: ResourceResult[],
  subscriptions: readonly DeliveredResource[] | undefined,
  components: readonly Record<string, unknown>[],
): ResourceResult[] {
  return results.map((r) => {
    const sub = subscriptions?.find((s) => s.metadata?.name === r.name) as Subscription | undefined;
    if (r.served === "none" || !sub || pubsubInScope(sub, components)) return r;
    return { ...r, pubsubMissingFor: appId };
  });
}

/**
 * The resources of the app's namespace in its scope, sorted by name, each rendered or, when
 * broken, its last good version (`lastGood(name)`), with a result per resource.
 */
function renderScoped<T extends { metadata?: V1ObjectMeta; scopes?: string[] }>(
  app: Pick<App, "namespace" | "appId">,
  all: readonly T[],
  resolve: (obj: T) => Resolution,
  lastGood: (name: string) => Record<string, unknown> | undefined,
): { documents: Record<string, unknown>[]; results: ComponentResult[] } {
  const inScope = all
    .filter((c) => c.metadata?.namespace === app.namespace && appliesTo(c, app.appId))
    .sort((a, b) => compareStrings(a.metadata?.name ?? "", b.metadata?.name ?? ""));
  const documents: Record<string, unknown>[] = [];
  const results: ComponentResult[] = [];
  for (const obj of inScope) {
    const name = obj.metadata?.name ?? "";
    const generation = obj.metadata?.generation;
    const resolution = resolve(obj);
    if (resolution.ok) {
      documents.push(resolution.rendered);
      results.push({ name, generation, reason: "Ready", problems: [], served: "current" });
      continue;
    }
    const kept = lastGood(name);
    if (kept) documents.push(kept);
    const reason = resolution.problems[0]?.reason ?? "SecretNotFound";
    results.push({
      name,
      generation,
      reason,
      problems: resolution.problems,
      served: kept ? "lastGood" : "none",
    });
  }
  return { documents, results };
}

function renderConfiguration(
  app: Pick<App, "namespace" | "configName">,
  configuration: Configuration | undefined,
  resolve: (configuration: Configuration) => Resolution,
  lastGoodConfiguration: () => Record<string, unknown> | undefined,
): { document: Record<string, unknown>; result: ConfigurationResult } {
  const name = app.configName;
  const base = { name, generation: configuration?.metadata?.generation, problems: [], warnings: [] };
  if (name === undefined) {
    return {
      document: defaultConfiguration(app.namespace),
      result: { ...base, reason: "Default", served: "default" },
    };
  }
  if (
    !configuration ||
    configuration.metadata?.namespace !== app.namespace ||
    configuration.metadata?.name !== name
  ) {
    return {
      document: defaultConfiguration(app.namespace),
      result: { ...base, reason: "NotFound", served: "default" },
    };
  }
  const resolution = resolve(configuration);
  if (resolution.ok)
    return { document: resolution.rendered, result: { ...base, reason: "Ready", served: "current" } };
  const reason = resolution.problems[0]?.reason ?? "SecretNotFound";
  const lastGood = lastGoodConfiguration();
  const keep = lastGood !== undefined && asRecord(lastGood.metadata)?.name === name;
  return {
    document: keep ? lastGood : defaultConfiguration(app.namespace),
    result: { ...base, reason, problems: resolution.problems, served: keep ? "lastGood" : "default" },
  };
}

/**
 * daprd runs os.ExpandEnv over a Configuration file: every `$NAME` or `${NAME}` becomes an env
 * var. The `${VAR}` we write for an otel header's envRef means exactly that, so it is not warned of.
 */
function expansionWarnings(configurationFile: string, envRefs: readonly string[]): string[] {
  const ours = envRefs.map((v) => `\${${v}}`);
  const body = configurationFile
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .map((l) => ours.reduce((line, token) => line.split(token).join(""), l));
  return body.some((l) => l.includes("$"))
    ? [
        'the Configuration contains "$"; daprd replaces $NAME and ${NAME} with environment variables when it reads the file',
      ]
    : [];
}

// --- File format -----------------------------------------------------------------------------

function header(app: Pick<App, "namespace" | "appId">, what: string): string {
  return `# ${what} of app "${app.appId}" in namespace "${app.namespace}", written by the Outrigger controller. Edits are overwritten.\n`;
}

/**
 * One YAML document per Component, separated by `---` lines. daprd splits the file on
 * "\n---" before parsing, so no other line of the file may start with `---`: the dumper
 * indents every nested line, and block scalars are always indented.
 */
function componentsFile(
  app: Pick<App, "namespace" | "appId">,
  documents: readonly Record<string, unknown>[],
  memo: RenderMemo,
): string {
  return documentsFile(app, "Components", documents, memo);
}

/** Same format as componentsFile, for the other kinds of the resources path. */
function documentsFile(
  app: Pick<App, "namespace" | "appId">,
  title: string,
  documents: readonly Record<string, unknown>[],
  memo: RenderMemo,
): string {
  return header(app, title) + documents.map((d) => memo.yaml(d)).join("---\n");
}

function configurationFile(
  app: Pick<App, "namespace" | "appId">,
  document: Record<string, unknown>,
  memo: RenderMemo,
): string {
  return header(app, "Configuration") + memo.yaml(document);
}

/** The resources of a rendered sidecar config file, parsed as daprd parses them (YAML 1.1). */
export function parseSidecarFile(text: string): Record<string, unknown>[] {
  return parseManifests(text).filter((d): d is Record<string, unknown> => asRecord(d) !== undefined);
}

function lastGoodResources(previous: V1Secret | undefined): {
  components: Map<string, Record<string, unknown>>;
  configuration: Record<string, unknown> | undefined;
  delivered: Map<DeliveredKind, Map<string, Record<string, unknown>>>;
} {
  const delivered = new Map<DeliveredKind, Map<string, Record<string, unknown>>>();
  if (!previous || !isOurs(previous)) return { components: new Map(), configuration: undefined, delivered };
  const byName = (key: string, kind: string) => {
    const out = new Map<string, Record<string, unknown>>();
    for (const doc of parseSecretFile(previous, key)) {
      const name = asRecord(doc.metadata)?.name;
      if (doc.kind === kind && typeof name === "string") out.set(name, canonical(doc));
    }
    return out;
  };
  for (const k of DELIVERED_KINDS) delivered.set(k.kind, byName(k.key, k.kind));
  const configuration = parseSecretFile(previous, CONFIGURATION_KEY).find((d) => d.kind === "Configuration");
  return {
    components: byName(COMPONENTS_KEY, "Component"),
    configuration: configuration && canonical(configuration),
    delivered,
  };
}

function parseSecretFile(secret: V1Secret, key: string): Record<string, unknown>[] {
  const encoded = secret.data?.[key];
  const text = encoded === undefined ? undefined : decodeText(encoded);
  if (text === undefined) return [];
  try {
    return parseSidecarFile(text);
  } catch {
    // Unparseable (edited by hand?): there is no last good version to keep.
    return [];
  }
}

// --- The Secret ------------------------------------------------------------------------------

/** The sidecar config Secret of an app, as it should be. */
export function sidecarConfigSecret(app: Pick<App, "namespace" | "appId">, config: SidecarConfig): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: sidecarConfigSecretName(app.appId),
      namespace: app.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [APP_ID_LABEL]: app.appId },
      annotations: { [CONFIG_HASH_ANNOTATION]: config.hash },
    },
    type: "Opaque",
    data: Object.fromEntries(
      Object.entries(config.data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]),
    ),
  };
}

/**
 * A Secret as the controller caches it. A sidecar config's data is read only to compare it with
 * what it should be, and for the last good versions when a resource breaks; so the cache keeps
 * a digest per key instead (the 500 configs of the benchmark's load were 5.2 MiB of the heap),
 * and the whole Secret is read from the API server in the rare case that needs it.
 */
export interface CachedSecret extends V1Secret {
  /** SHA-256 of each data value (as sent, base64), by key; set instead of `data`. */
  dataDigests?: Record<string, string>;
}

/** A sidecar config Secret (ours, with an app-id) with its data replaced by digests; others as they are. */
export function cachedConfigSecret(secret: V1Secret): CachedSecret {
  if (!isOurs(secret) || !secret.metadata?.labels?.[APP_ID_LABEL] || !secret.data) return secret;
  const { data: _data, ...rest } = secret;
  return { ...rest, dataDigests: dataDigests(secret) };
}

/** The digest of each data value of a Secret, whether cached (digests) or whole (data). */
export function dataDigests(secret: CachedSecret): Record<string, string> {
  if (secret.dataDigests && secret.data === undefined) return secret.dataDigests;
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, createHash("sha256").update(v).digest("base64")]),
  );
}

function sameRecords(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** Whether Outrigger may write this object: it carries our managed-by label. */
export function isOurs(existing: { metadata?: V1ObjectMeta }): boolean {
  return existing.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/**
 * Whether `existing` differs from `desired` in anything we own: data (compared by content, so
 * an edit by hand is repaired even when the hash annotation was left alone), type, our labels
 * and our annotation. Labels and annotations others add are left alone.
 */
export function needsUpdate(existing: V1Secret, desired: V1Secret): boolean {
  if ((existing.type ?? "Opaque") !== desired.type) return true;
  if (!includes(existing.metadata?.labels, desired.metadata?.labels)) return true;
  if (!includes(existing.metadata?.annotations, desired.metadata?.annotations)) return true;
  return !sameRecords(dataDigests(existing), dataDigests(desired));
}

/** `existing` with our fields set from `desired`, for a PUT that keeps resourceVersion and others' metadata. */
export function secretForUpdate(existing: V1Secret, desired: V1Secret): V1Secret {
  const { dataDigests: _digests, ...sent } = existing as CachedSecret;
  return {
    ...sent,
    metadata: {
      ...existing.metadata,
      labels: { ...existing.metadata?.labels, ...desired.metadata?.labels },
      annotations: { ...existing.metadata?.annotations, ...desired.metadata?.annotations },
    },
    type: desired.type,
    data: desired.data,
    stringData: undefined,
  };
}

/**
 * Our objects of one kind whose app is not in `apps`: to delete. An object counts only when it
 * carries our label and the name `nameFor` gives its app-id label, so nothing else is touched.
 */
export function leftoversOfGoneApps<T extends { metadata?: V1ObjectMeta }>(
  existing: readonly T[],
  apps: readonly Pick<App, "namespace" | "appId">[],
  nameFor: (appId: string) => string,
): T[] {
  const wanted = new Set(apps.map((a) => `${a.namespace}/${a.appId}`));
  return existing.filter((o) => {
    const appId = o.metadata?.labels?.[APP_ID_LABEL];
    return (
      isOurs(o) &&
      appId !== undefined &&
      o.metadata?.name === nameFor(appId) &&
      !wanted.has(`${o.metadata?.namespace}/${appId}`)
    );
  });
}

/** Our sidecar config Secrets whose app is not in `apps`: to delete. */
export function leftoverSidecarConfigSecrets(
  existing: readonly V1Secret[],
  apps: readonly Pick<App, "namespace" | "appId">[],
): V1Secret[] {
  return leftoversOfGoneApps(existing, apps, sidecarConfigSecretName);
}

// --- Helpers ---------------------------------------------------------------------------------

function includes(
  have: Record<string, string> | undefined,
  want: Record<string, string> | undefined,
): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

// Keys first in this order, the rest alphabetically: stable output that still reads like a manifest.
const KEY_ORDER = ["apiVersion", "kind", "name", "namespace", "type", "version", "metadata", "spec"];

function keyRank(key: string): number {
  const i = KEY_ORDER.indexOf(key);
  return i === -1 ? KEY_ORDER.length : i;
}

/** A deep copy with keys in a fixed order and `undefined` dropped, so equal meaning dumps to equal text. */
export function canonical(value: Record<string, unknown>): Record<string, unknown> {
  return canonicalValue(value) as Record<string, unknown>;
}

function canonicalValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : canonicalValue(v)));
  const record = asRecord(value);
  if (!record) return value;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort((a, b) => keyRank(a) - keyRank(b) || compareStrings(a, b));
  return Object.fromEntries(keys.map((k) => [k, canonicalValue(record[k])]));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
