// `outrigger explain`'s pure core: why a pod was or was not injected, and what an app receives
// and why. Each explanation is computed from what was read (the objects and the sidecar
// defaults) with the same functions the injector and the controller decide with, and then
// printed. Nothing here reads the cluster.
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import type { Component, Configuration, Condition } from "../apis/types.ts";
import { appsFromObjects, type AppObjects, type AppSource } from "../controller/apps.ts";
import {
  DELIVERED_KINDS,
  appliesTo,
  type DeliveredKind,
  type DeliveredResource,
} from "../controller/delivered-kinds.ts";
import { DEFAULT_CONFIGURATION_NAME, parseSidecarFile } from "../controller/sidecar-config.ts";
import { CONFIG_HASH_ANNOTATION } from "../controller/hash.ts";
import { decide, hasSidecar, isObject, type JsonObject } from "../injector/decide.ts";
import { ANNOTATION_PREFIX, annotations, parseAnnotations } from "../sidecar/annotations.ts";
import {
  APP_ID_LABEL,
  COMPONENTS_KEY,
  CONFIGURATION_KEY,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  SIDECAR_CONFIG_VOLUME,
  sidecarConfigSecretName,
} from "../sidecar/config-secret.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { SIDECAR_CONTAINER_NAME, UDS_VOLUME } from "../sidecar/resolve.ts";
import { expectedSidecarStatus, injectedSidecarStatus } from "../sidecar/status.ts";
import { SENTRY_TOKEN_VOLUME } from "../sidecar/identity.ts";

// --- Pods ----------------------------------------------------------------------------------------

/** What the pod has now. */
export type PodState = "injected" | "foreign-sidecar" | "no-sidecar";

export interface AnnotationNote {
  key: string;
  value: string;
  /** The injector's reading: undefined when the value is valid, else what is wrong. */
  problem?: string;
  /** Unknown, ignored or deprecated: the injector's warning. */
  warning?: string;
}

export interface PodExplanation {
  pod: string;
  state: PodState;
  /** What the injector decides for this pod as it was at admission, with the defaults given. */
  decision: "inject" | "skip" | "deny";
  /** The injector's reason code (its metric label), as `kubectl get events` would not show it. */
  reason: string;
  /** One sentence: why the pod has, or has not, a sidecar. */
  summary: string;
  /** More sentences: what was injected, whether it is current, what to do. */
  details: string[];
  annotations: AnnotationNote[];
  warnings: string[];
}

/**
 * The pod as the webhook saw it: a pod created through generateName had no name at admission
 * (the API server names it afterwards), which decides whether its app-id can default to it.
 */
function podAtAdmission(pod: JsonObject): JsonObject {
  const meta = isObject(pod.metadata) ? { ...pod.metadata } : {};
  if (typeof meta.generateName === "string" && meta.generateName !== "") delete meta.name;
  return { ...pod, metadata: meta };
}

/** The pod without what injection added: the daprd container and the sidecar's volumes. */
function withoutSidecar(pod: JsonObject): JsonObject {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const drop = (list: unknown, names: readonly string[]) =>
    Array.isArray(list) ? list.filter((c) => !(isObject(c) && names.includes(c.name as string))) : list;
  return {
    ...pod,
    spec: {
      ...spec,
      containers: drop(spec.containers, [SIDECAR_CONTAINER_NAME]),
      initContainers: drop(spec.initContainers, [SIDECAR_CONTAINER_NAME]),
      volumes: drop(spec.volumes, [SIDECAR_CONFIG_VOLUME, UDS_VOLUME, SENTRY_TOKEN_VOLUME]),
    },
  };
}

function daprAnnotations(pod: V1Pod): AnnotationNote[] {
  const all = pod.metadata?.annotations ?? {};
  const { errors, warnings } = parseAnnotations(all);
  return Object.entries(all)
    .filter(([k]) => k.startsWith(ANNOTATION_PREFIX))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => {
      const problem = errors.find((e) => e.key === key)?.message;
      const warning = warnings.find((w) => w.startsWith(`${key} `));
      return { key, value, ...(problem ? { problem } : {}), ...(warning ? { warning } : {}) };
    });
}

export function explainPod(pod: V1Pod, settings: SidecarDefaults): PodExplanation {
  const meta = pod.metadata ?? {};
  const name = `${meta.namespace ?? ""}/${meta.name ?? ""}`;
  const raw = pod as unknown as JsonObject;
  const notes = daprAnnotations(pod);
  const { warnings } = parseAnnotations(meta.annotations ?? {});
  const injected = injectedSidecarStatus(pod);
  const state: PodState =
    injected && hasSidecar(raw) ? "injected" : hasSidecar(raw) ? "foreign-sidecar" : "no-sidecar";
  // The decision the webhook makes for this pod without its sidecar, as at admission.
  const decision = decide(podAtAdmission(withoutSidecar(raw)), settings);
  const base = { pod: name, state, annotations: notes, warnings };
  const enabledKey = annotations.enabled.key;

  if (decision.kind === "skip") {
    const enabled = meta.annotations?.[enabledKey];
    return {
      ...base,
      decision: "skip",
      reason: decision.reason,
      summary:
        enabled === undefined
          ? `not injected: it has no ${enabledKey} annotation`
          : `not injected: ${enabledKey} is ${JSON.stringify(enabled)}`,
      details:
        state === "no-sidecar"
          ? [`add ${enabledKey}: "true" (and ${annotations.appId.key}) to the pod template to get a sidecar`]
          : [`it has a daprd container all the same, which Outrigger did not inject`],
    };
  }
  if (decision.kind === "deny") {
    const details =
      state === "no-sidecar"
        ? [
            "it exists, so it was created without passing the webhook (the webhook was down or not registered, or the namespace is excluded); the webhook denies it now",
            "fix the annotation in the pod template; the workload's controller then creates its pods again",
          ]
        : ["it has a daprd container, injected before its annotations or the injector's defaults changed"];
    return {
      ...base,
      decision: "deny",
      reason: decision.reason,
      summary: `the injector denies this pod: ${decision.message}`,
      details,
    };
  }

  const appId = decision.sidecar.appId;
  const details: string[] = [];
  let summary: string;
  if (state === "injected" && injected) {
    summary = `injected: app-id ${appId}, daprd ${injected.image}${injected.version ? `, by Outrigger ${injected.version}` : ""}`;
    const now = expectedSidecarStatus(
      meta.annotations ?? {},
      (podAtAdmission(raw).metadata as JsonObject).name as string | undefined,
      settings,
    );
    if (now.ok && (now.image !== injected.image || now.settingsHash !== injected.settingsHash)) {
      const why = [
        ...(now.image !== injected.image ? [`image now ${now.image}`] : []),
        ...(now.settingsHash !== injected.settingsHash
          ? [`settings ${injected.settingsHash}, now ${now.settingsHash}`]
          : []),
      ];
      details.push(
        `stale: the injector would inject it differently now (${why.join("; ")}); restart its workload to update it`,
      );
    } else details.push("current: the injector would inject the same sidecar now");
    details.push(`its config: Secret ${sidecarConfigSecretName(appId)}, mounted read-only`);
  } else if (state === "foreign-sidecar") {
    return {
      ...base,
      decision: "skip",
      reason: "already-injected",
      summary:
        "skipped as already injected: it has a daprd container that Outrigger did not inject (Dapr's injector, or written by hand)",
      details: [`without it, the injector would inject app-id ${appId}`],
    };
  } else {
    summary = `not injected, though the injector would inject it (app-id ${appId})`;
    details.push(
      "it was created without passing the webhook (the webhook was down or not registered, its failurePolicy is Ignore, or the namespace is excluded)",
      "delete the pod so that its controller creates it again through the webhook",
    );
  }
  return {
    ...base,
    decision: "inject",
    reason: "injected",
    summary,
    details,
    warnings: [...decision.warnings],
  };
}

export function formatPodExplanation(e: PodExplanation): string {
  const lines = [`Pod ${e.pod}`, `  ${e.summary}`];
  for (const d of e.details) lines.push(`  - ${d}`);
  lines.push(`  decision now: ${e.decision} (${e.reason})`);
  if (e.annotations.length === 0) lines.push("  dapr.io annotations: none");
  else {
    lines.push("  dapr.io annotations:");
    for (const a of e.annotations)
      lines.push(
        `    ${a.problem ? "✗" : a.warning ? "!" : "✓"} ${a.key}: ${JSON.stringify(a.value)}${a.problem ? "  (invalid)" : a.warning ? "  (see the warning)" : ""}`,
      );
  }
  for (const w of e.warnings) lines.push(`  warning: ${w}`);
  return `${lines.join("\n")}\n`;
}

// --- Apps ----------------------------------------------------------------------------------------

export interface AppFacts {
  namespace: string;
  appId: string;
  /** The namespace's pods and workloads. */
  objects: AppObjects;
  components: readonly Component[];
  configurations: readonly Configuration[];
  delivered: Partial<Record<DeliveredKind, readonly DeliveredResource[]>>;
  /** The app's sidecar config Secret, undefined when it does not exist. */
  secret: V1Secret | undefined;
  settings: SidecarDefaults;
}

export interface ResourceLine {
  kind: string;
  name: string;
  receives: boolean;
  /** Why it does or does not reach the app. */
  why: string;
  /** Its Ready condition, as the controller reported it. */
  ready?: string;
  /** For a received one: whether the app's sidecar config holds it now. */
  delivered?: boolean;
}

export interface PodLine {
  name: string;
  sidecar: string;
}

export interface AppExplanation {
  app: string;
  sources: AppSource[];
  conflicts: string[];
  configuration: ResourceLine;
  resources: ResourceLine[];
  secret: string[];
  pods: PodLine[];
}

function readyText(conditions: readonly Condition[] | undefined): string | undefined {
  const ready = conditions?.find((c) => c.type === "Ready");
  if (!ready) return undefined;
  return ready.status === "True"
    ? "Ready"
    : `not Ready: ${ready.reason}${ready.message ? `: ${ready.message}` : ""}`;
}

/** The resource names in each file of the sidecar config Secret, by Secret key. */
function deliveredNames(secret: V1Secret | undefined): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [key, b64] of Object.entries(secret?.data ?? {})) {
    try {
      const docs = parseSidecarFile(Buffer.from(b64, "base64").toString("utf8"));
      out.set(key, new Set(docs.map((d) => (isObject(d.metadata) ? String(d.metadata.name) : ""))));
    } catch {
      out.set(key, new Set());
    }
  }
  return out;
}

function scopeWhy(obj: { scopes?: string[] }, appId: string): string {
  const scopes = obj.scopes ?? [];
  if (scopes.length === 0) return "no scopes: every app of the namespace";
  return scopes.includes(appId)
    ? `scopes include ${appId}`
    : `scopes [${scopes.join(", ")}] do not include ${appId}`;
}

export function explainApp(f: AppFacts): AppExplanation {
  const { apps, conflicts } = appsFromObjects(f.objects);
  const app = apps.find((a) => a.namespace === f.namespace && a.appId === f.appId);
  const inSecret = deliveredNames(f.secret);
  const resourceLine = (
    kind: string,
    obj: { metadata?: { name?: string }; scopes?: string[]; status?: { conditions?: Condition[] } },
    key: string,
  ): ResourceLine => {
    const name = obj.metadata?.name ?? "";
    const receives = appliesTo(obj, f.appId);
    const ready = readyText(obj.status?.conditions);
    return {
      kind,
      name,
      receives,
      why: scopeWhy(obj, f.appId),
      ...(ready ? { ready } : {}),
      ...(receives && f.secret ? { delivered: inSecret.get(key)?.has(name) ?? false } : {}),
    };
  };
  const resources: ResourceLine[] = [
    ...f.components.map((c) => resourceLine("Component", c, COMPONENTS_KEY)),
    ...DELIVERED_KINDS.flatMap((k) => (f.delivered[k.kind] ?? []).map((o) => resourceLine(k.kind, o, k.key))),
  ];

  const configName = app?.configName;
  const named =
    configName === undefined ? undefined : f.configurations.find((c) => c.metadata?.name === configName);
  const configuredIn = inSecret.get(CONFIGURATION_KEY);
  const configuration: ResourceLine =
    configName === undefined
      ? {
          kind: "Configuration",
          name: DEFAULT_CONFIGURATION_NAME,
          receives: true,
          why: `no ${annotations.config.key}: the default Configuration`,
        }
      : named
        ? {
            kind: "Configuration",
            name: configName,
            receives: true,
            why: `named by ${annotations.config.key}`,
            ...(readyText(named.status?.conditions) ? { ready: readyText(named.status?.conditions) } : {}),
            ...(f.secret ? { delivered: configuredIn?.has(configName) ?? false } : {}),
          }
        : {
            kind: "Configuration",
            name: configName,
            receives: false,
            why: `named by ${annotations.config.key}, but it does not exist: the sidecar gets the default Configuration`,
          };

  const secretName = sidecarConfigSecretName(f.appId);
  const secret: string[] = [];
  if (!f.secret) {
    secret.push(
      app
        ? `Secret ${secretName}: missing; the controller writes it for every app (is it running and leading? see its logs)`
        : `Secret ${secretName}: none (no app ${f.appId} in the namespace)`,
    );
  } else {
    const labels = f.secret.metadata?.labels ?? {};
    const ours = labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
    secret.push(
      ours
        ? `Secret ${secretName}: written by Outrigger, content hash ${f.secret.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] ?? "(none)"}`
        : `Secret ${secretName}: exists but is not Outrigger's (no ${MANAGED_BY_LABEL}: ${MANAGED_BY_VALUE}); the controller leaves it alone and reports a conflict`,
    );
    secret.push(
      `keys: ${
        Object.keys(f.secret.data ?? {})
          .sort()
          .join(", ") || "(none)"
      }`,
    );
  }

  const pods: PodLine[] = (f.objects.pods ?? [])
    .filter(
      (p) =>
        p.metadata?.labels?.[APP_ID_LABEL] === f.appId ||
        p.metadata?.annotations?.[annotations.appId.key] === f.appId,
    )
    .map((p) => ({ name: p.metadata?.name ?? "", sidecar: podSidecarText(p, f.settings) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  return {
    app: `${f.namespace}/${f.appId}`,
    sources: app?.sources ?? [],
    conflicts: conflicts
      .filter((c) => c.namespace === f.namespace && c.appId === f.appId)
      .map((c) => c.message),
    configuration,
    resources,
    secret,
    pods,
  };
}

function podSidecarText(pod: V1Pod, settings: SidecarDefaults): string {
  const e = explainPod(pod, settings);
  const status = injectedSidecarStatus(pod);
  if (e.state === "injected" && status) {
    const stale = e.details.find((d) => d.startsWith("stale"));
    return `daprd ${status.image}, injected by Outrigger ${status.version || "(unknown version)"}${stale ? `; ${stale}` : "; current"}`;
  }
  return e.summary;
}

export function formatAppExplanation(e: AppExplanation): string {
  const lines = [`App ${e.app}`];
  if (e.sources.length === 0)
    lines.push(
      '  asked for by: nothing (no active pod or workload with this app-id and dapr.io/enabled "true")',
    );
  else
    lines.push(
      `  asked for by: ${e.sources.map((s) => `${s.kind}/${s.name}${s.configName ? ` (config ${s.configName})` : ""}`).join(", ")}`,
    );
  for (const c of e.conflicts) lines.push(`  conflict: ${c}`);
  lines.push("", "Sidecar config:");
  for (const s of e.secret) lines.push(`  ${s}`);
  const line = (r: ResourceLine) => {
    const state = [
      r.ready,
      r.delivered === undefined
        ? undefined
        : r.delivered
          ? "in its sidecar config"
          : "not in its sidecar config yet",
    ]
      .filter(Boolean)
      .join("; ");
    return `  ${r.receives ? "✓" : "✗"} ${r.kind} ${r.name}: ${r.why}${state ? ` (${state})` : ""}`;
  };
  lines.push("", "Configuration:", line(e.configuration));
  const received = e.resources.filter((r) => r.receives);
  const notReceived = e.resources.filter((r) => !r.receives);
  lines.push("", "Receives:");
  if (received.length === 0) lines.push("  nothing");
  for (const r of received) lines.push(line(r));
  lines.push("", "Does not receive:");
  if (notReceived.length === 0) lines.push("  nothing");
  for (const r of notReceived) lines.push(line(r));
  lines.push("", "Pods:");
  if (e.pods.length === 0) lines.push("  none");
  for (const p of e.pods) lines.push(`  ${p.name}: ${p.sidecar}`);
  return `${lines.join("\n")}\n`;
}
