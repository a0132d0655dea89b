// `outrigger inject`'s pure core: the injector's own admission, run offline on the pod templates
// of workload manifests. Each template is made into the Pod the workload's controller would
// create, sent through `admit` (decision, rendering and JSON Patch exactly as the webhook
// computes them), and the patched pod's metadata and spec are written back into the template.
// So a manifest injected here is what the webhook would make of its pods, and the webhook
// skips those pods later as already injected.
import { SIDECAR_STATUS_ANNOTATION } from "../sidecar/status.ts";
import { annotations } from "../sidecar/annotations.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { admit, type AdmissionReason } from "../injector/admit.ts";
import { isObject, type JsonObject } from "../injector/decide.ts";
import { applyJsonPatch, type JsonPatchOp } from "../injector/patch.ts";
import { formatManifestStream, parseManifestStream } from "./manifests.ts";

export { SIDECAR_STATUS_ANNOTATION };

/** Where each kind keeps its pod template, and the API groups it is served from. */
const TEMPLATE_PATHS: Record<string, { groups: readonly string[]; path: readonly string[] }> = {
  Pod: { groups: [""], path: [] },
  Deployment: { groups: ["apps", "extensions"], path: ["spec", "template"] },
  StatefulSet: { groups: ["apps"], path: ["spec", "template"] },
  DaemonSet: { groups: ["apps", "extensions"], path: ["spec", "template"] },
  ReplicaSet: { groups: ["apps", "extensions"], path: ["spec", "template"] },
  Job: { groups: ["batch"], path: ["spec", "template"] },
  CronJob: { groups: ["batch"], path: ["spec", "jobTemplate", "spec", "template"] },
};

export const INJECTABLE_KINDS = Object.keys(TEMPLATE_PATHS);

/** What happened to one pod template (or Pod). `object` names it: `Deployment shop/cart`. */
export type TemplateOutcome =
  | { object: string; result: "injected"; appId: string; warnings: string[] }
  | { object: string; result: "skipped"; reason: AdmissionReason | "per-pod-app-id"; message?: string }
  | { object: string; result: "denied"; reason: AdmissionReason; message: string };

export type InjectResult =
  /** `text`: the stream with every injectable template injected; unchanged documents as read. */
  | { ok: true; text: string; outcomes: TemplateOutcome[] }
  /** The input cannot be read, or some object would be denied: nothing is written. */
  | { ok: false; errors: string[]; outcomes: TemplateOutcome[] };

/** `Deployment shop/cart`, `Pod web`: how messages name an object. */
export function objectName(obj: JsonObject): string {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const kind = typeof obj.kind === "string" ? obj.kind : "object";
  const name =
    typeof meta.name === "string"
      ? meta.name
      : typeof meta.generateName === "string"
        ? `${meta.generateName}*`
        : "(no name)";
  return typeof meta.namespace === "string" && meta.namespace !== ""
    ? `${kind} ${meta.namespace}/${name}`
    : `${kind} ${name}`;
}

function apiGroup(obj: JsonObject): string {
  const v = typeof obj.apiVersion === "string" ? obj.apiVersion : "";
  return v.includes("/") ? v.slice(0, v.indexOf("/")) : "";
}

/** Injects every manifest of a stream; the pure whole of `outrigger inject`. */
export function injectManifests(
  text: string,
  settings: SidecarDefaults,
  trustAnchorsPem?: string,
): InjectResult {
  const parsed = parseManifestStream(text);
  if (!parsed.ok) return { ok: false, errors: [parsed.message], outcomes: [] };
  const outcomes: TemplateOutcome[] = [];
  const replaced = new Map<number, unknown>();
  parsed.stream.documents.forEach((doc, i) => {
    const next = injectedObject(doc.value, settings, outcomes, trustAnchorsPem);
    if (next !== doc.value) replaced.set(i, next);
  });
  const errors = outcomes
    .filter((o): o is Extract<TemplateOutcome, { result: "denied" }> => o.result === "denied")
    .map((o) => `${o.object}: ${o.message}`);
  if (errors.length > 0) return { ok: false, errors, outcomes };
  return { ok: true, text: formatManifestStream(parsed.stream, replaced), outcomes };
}

/**
 * The object with its pod template injected, `obj` itself when nothing changes (not an
 * injectable kind, not enabled, already injected, or denied), and a List with its items done.
 */
export function injectedObject(
  obj: unknown,
  settings: SidecarDefaults,
  outcomes: TemplateOutcome[],
  trustAnchorsPem?: string,
): unknown {
  if (!isObject(obj)) return obj;
  if (
    obj.kind === "List" ||
    (typeof obj.kind === "string" && obj.kind.endsWith("List") && Array.isArray(obj.items))
  ) {
    if (!Array.isArray(obj.items)) return obj;
    const items = obj.items.map((item) => injectedObject(item, settings, outcomes, trustAnchorsPem));
    return items.every((item, i) => item === (obj.items as unknown[])[i]) ? obj : { ...obj, items };
  }
  const where = typeof obj.kind === "string" ? TEMPLATE_PATHS[obj.kind] : undefined;
  if (!where || !where.groups.includes(apiGroup(obj))) return obj;
  const name = objectName(obj);
  const template = getPath(obj, where.path);
  if (!isObject(template)) {
    // A workload without a template is not valid; say so only if it asks for a sidecar.
    return obj;
  }
  const outcome = injectedTemplate(obj, template, settings, name, trustAnchorsPem);
  outcomes.push(outcome.outcome);
  return outcome.template === template ? obj : setPath(obj, where.path, outcome.template);
}

/**
 * The Pod the workload's controller would send to the webhook: the template's metadata and
 * spec, with generateName for workloads (their pods get their names from it, after admission).
 */
function podFromTemplate(owner: JsonObject, template: JsonObject): JsonObject {
  if (owner.kind === "Pod") return template;
  const meta = isObject(template.metadata) ? { ...template.metadata } : {};
  const ownerMeta = isObject(owner.metadata) ? owner.metadata : {};
  delete meta.name;
  if (typeof ownerMeta.name === "string") meta.generateName = `${ownerMeta.name}-`;
  if (typeof ownerMeta.namespace === "string") meta.namespace = ownerMeta.namespace;
  return { apiVersion: "v1", kind: "Pod", metadata: meta, spec: template.spec };
}

function injectedTemplate(
  owner: JsonObject,
  template: JsonObject,
  settings: SidecarDefaults,
  name: string,
  trustAnchorsPem: string | undefined,
): { template: JsonObject; outcome: TemplateOutcome } {
  const pod = podFromTemplate(owner, template);
  const namespace =
    isObject(pod.metadata) && typeof pod.metadata.namespace === "string" ? pod.metadata.namespace : "";
  const outcome = admit(
    {
      uid: "outrigger-inject",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      operation: "CREATE",
      namespace,
      object: pod,
    },
    settings,
    trustAnchorsPem,
  );
  const unchanged = (o: TemplateOutcome) => ({ template, outcome: o });
  switch (outcome.result) {
    case "skipped":
      return unchanged({ object: name, result: "skipped", reason: outcome.reason });
    case "denied": {
      // A StatefulSet's pods have names at admission, and without dapr.io/app-id each becomes
      // an app named after its pod: the webhook injects them, but no single template can say so.
      if (owner.kind === "StatefulSet" && outcome.reason === "missing-app-id")
        return unchanged({
          object: name,
          result: "skipped",
          reason: "per-pod-app-id",
          message: `left as it is: without ${annotations.appId.key} each pod's app-id is its own name, which one template cannot hold; the webhook injects the pods at admission, or set ${annotations.appId.key}`,
        });
      return unchanged({
        object: name,
        result: "denied",
        reason: outcome.reason,
        message: outcome.response.status?.message ?? outcome.reason,
      });
    }
    case "injected": {
      const ops = JSON.parse(
        Buffer.from(outcome.response.patch ?? "", "base64").toString("utf8"),
      ) as JsonPatchOp[];
      const applied = applyJsonPatch(pod, ops);
      // admit's patch is made against this very pod, so it applies; a failure is a bug, reported as a denial.
      if (!applied.ok)
        return unchanged({
          object: name,
          result: "denied",
          reason: "internal-error",
          message: applied.message,
        });
      const injected = applied.document as JsonObject;
      const meta = { ...(injected.metadata as JsonObject) };
      // Back to the template's own metadata: what podFromTemplate added is not the template's.
      if (owner.kind !== "Pod") {
        const original = isObject(template.metadata) ? template.metadata : {};
        for (const k of ["name", "generateName", "namespace"])
          if (k in original) meta[k] = original[k];
          else delete meta[k];
      }
      return {
        template: { ...template, metadata: meta, spec: injected.spec },
        outcome: {
          object: name,
          result: "injected",
          appId: outcome.appId ?? "",
          warnings: outcome.response.warnings ?? [],
        },
      };
    }
  }
}

function getPath(obj: JsonObject, path: readonly string[]): unknown {
  let at: unknown = obj;
  for (const k of path) at = isObject(at) ? at[k] : undefined;
  return at;
}

/** A copy of `obj` with the value at `path` replaced; the copies are shallow along the path. */
function setPath(obj: JsonObject, path: readonly string[], value: JsonObject): JsonObject {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  const child = obj[head];
  return { ...obj, [head]: setPath(isObject(child) ? child : {}, rest, value) };
}
