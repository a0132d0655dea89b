// The admission handler's pure core: one AdmissionRequest in, one AdmissionResponse out.
// The HTTPS shell decodes the body, calls `admit`, logs/counts `result` and `reason`, and
// wraps `response` into an AdmissionReview. It never throws, whatever the request holds.

import type { InjectorSettings } from "./settings.ts";

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
  | "injected"
  | "not-pod-create"
  | "not-enabled"
  | "already-injected"
  | "invalid-object"
  | "invalid-annotation"
  | "invalid-app-id"
  | "missing-app-id"
  | "missing-volume";

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

export function admit(request: AdmissionRequest, _settings: InjectorSettings): AdmissionOutcome {
  // Interim: admits unchanged until the decision core lands (same commit series).
  return { response: { uid: String(request.uid), allowed: true }, result: "skipped", reason: "not-enabled" };
}
