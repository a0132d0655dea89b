// The admission handler's pure core: one AdmissionRequest in, one AdmissionResponse out.
// The HTTPS shell decodes the body, calls `admit`, logs and counts `result` and `reason`, and
// wraps `response` into an AdmissionReview. It never throws, whatever the request holds:
// malformed pods are denied or skipped with a message.

import { SIDECAR_STATUS_ANNOTATION, type SidecarStatus } from "../sidecar/status.ts";
import { outriggerVersion } from "../shared/version.ts";
import { decide, isObject, type DenyReason, type SkipReason } from "./decide.ts";
import { jsonPatchBetween, jsonPatchText } from "./patch.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { injectedPod } from "./sidecar.ts";
import { hasTrustAnchors } from "../sidecar/identity.ts";

export { SIDECAR_STATUS_ANNOTATION };
export { expectedSidecarStatus } from "../sidecar/status.ts";

/** The part of an admission.k8s.io/v1 AdmissionRequest the injector reads. Anything may be missing or mistyped except `uid`. */
export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  operation?: string;
  namespace?: string;
  name?: string;
  dryRun?: boolean;
  object?: unknown;
  [extra: string]: unknown;
}

export type AdmissionResult = "injected" | "skipped" | "denied";

/** Closed set of reason codes: safe as metric label values. */
export type AdmissionReason =
  "injected" | "not-pod-create" | SkipReason | DenyReason | "no-trust-anchors" | "internal-error";

export const ADMISSION_REASONS: readonly AdmissionReason[] = [
  "injected",
  "not-pod-create",
  "not-enabled",
  "already-injected",
  "invalid-object",
  "invalid-annotation",
  "invalid-app-id",
  "missing-app-id",
  "missing-volume",
  "no-trust-anchors",
  "internal-error",
];

export interface AdmissionOutcome {
  response: {
    uid: string;
    allowed: boolean;
    /** base64 of a JSON Patch (RFC 6902). */
    patch?: string;
    patchType?: "JSONPatch";
    status?: { code: number; message: string; reason?: string };
    warnings?: string[];
  };
  result: AdmissionResult;
  reason: AdmissionReason;
  appId?: string;
}

/** True for a CREATE of the pods resource itself (not a subresource such as pods/ephemeralcontainers). */
export function isPodCreate(request: AdmissionRequest): boolean {
  const resource = isObject(request.resource) ? request.resource : undefined;
  const kind = isObject(request.kind) ? request.kind : undefined;
  const isPods =
    resource !== undefined
      ? resource.resource === "pods" && (resource.group ?? "") === ""
      : kind?.kind === "Pod" && (kind.group ?? "") === "";
  return request.operation === "CREATE" && isPods && (request.subResource ?? "") === "";
}

// Kubernetes shows at most a few warnings of bounded size; keep ours readable.
const MAX_WARNINGS = 20;
const MAX_WARNING_LENGTH = 240;

function limitedWarnings(warnings: string[]): string[] | undefined {
  if (warnings.length === 0) return undefined;
  const out = warnings
    .slice(0, MAX_WARNINGS)
    .map((w) => (w.length <= MAX_WARNING_LENGTH ? w : `${w.slice(0, MAX_WARNING_LENGTH - 1)}…`));
  if (warnings.length > MAX_WARNINGS)
    out.push(`${warnings.length - MAX_WARNINGS} more dapr.io annotation warnings left out`);
  return out;
}

/**
 * The injector's answer to one AdmissionRequest. `trustAnchorsPem` is Sentry's current trust
 * bundle, needed only when mTLS is on (daprd takes its anchors from an env var set here).
 */
export function admit(
  request: AdmissionRequest,
  settings: SidecarDefaults,
  trustAnchorsPem?: string,
): AdmissionOutcome {
  const uid = String(request.uid);
  try {
    return admitted(uid, request, settings, trustAnchorsPem);
  } catch (err) {
    // Unreachable by design (decide checks every shape it reads); kept so a bug denies one
    // pod with a message instead of failing the webhook call.
    const message = `outrigger injector internal error: ${err instanceof Error ? err.message : String(err)}`;
    return {
      response: { uid, allowed: false, status: { code: 500, message, reason: "InternalError" } },
      result: "denied",
      reason: "internal-error",
    };
  }
}

function admitted(
  uid: string,
  request: AdmissionRequest,
  settings: SidecarDefaults,
  trustAnchorsPem: string | undefined,
): AdmissionOutcome {
  if (!isPodCreate(request))
    return { response: { uid, allowed: true }, result: "skipped", reason: "not-pod-create" };

  const decision = decide(request.object, settings);
  switch (decision.kind) {
    case "skip":
      return { response: { uid, allowed: true }, result: "skipped", reason: decision.reason };
    case "deny":
      return {
        response: {
          uid,
          allowed: false,
          status: { code: 400, message: decision.message, reason: "BadRequest" },
        },
        result: "denied",
        reason: decision.reason,
        ...(decision.appId !== undefined ? { appId: decision.appId } : {}),
      };
    case "inject": {
      // Without anchors daprd cannot verify Sentry and never starts: refuse now, saying why.
      if (decision.sidecar.mtls && !hasTrustAnchors(trustAnchorsPem))
        return {
          response: {
            uid,
            allowed: false,
            status: {
              code: 503,
              message:
                "mTLS is on but the injector has no trust bundle from outrigger sentry yet (its --trust-anchors-file is missing or empty); retry once Sentry has published it",
              reason: "ServiceUnavailable",
            },
          },
          result: "denied",
          reason: "no-trust-anchors",
          appId: decision.sidecar.appId,
        };
      const pod = request.object as Record<string, unknown>;
      const status: SidecarStatus = {
        version: outriggerVersion,
        image: decision.sidecar.image,
        settingsHash: decision.settingsHash,
      };
      const ops = jsonPatchBetween(pod, injectedPod(pod, decision.sidecar, status, trustAnchorsPem));
      const warnings = limitedWarnings(decision.warnings);
      return {
        response: {
          uid,
          allowed: true,
          patch: Buffer.from(jsonPatchText(ops)).toString("base64"),
          patchType: "JSONPatch",
          ...(warnings ? { warnings } : {}),
        },
        result: "injected",
        reason: "injected",
        appId: decision.sidecar.appId,
      };
    }
  }
}
