// The injector's Prometheus metrics, registered on a registry the caller passes in. Every label
// value comes from a closed set, so a hostile request cannot create new series.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { ADMISSION_REASONS, type AdmissionReason, type AdmissionResult } from "./admit.ts";
import type { RotationChange } from "./certs.ts";
import { CONVERSION_FAILURE_REASONS, type ConversionFailureReason } from "../apis/subscription-conversion.ts";

/**
 * How a request to /convert ended: converted (`success`), answered with a Failure result
 * (`failure`), or refused before conversion with an HTTP error (`invalid`).
 */
export type ConversionResult = "success" | "failure" | "invalid";
export const CONVERSION_RESULTS: readonly ConversionResult[] = ["success", "failure", "invalid"];

/** Why a /convert request failed: the conversion's reason, or why the HTTP request was refused. */
export type ConversionReason =
  | ConversionFailureReason
  | "method-not-allowed"
  | "unsupported-media-type"
  | "too-large"
  | "malformed-json"
  | "read-failed";
export const CONVERSION_REASONS: readonly ConversionReason[] = [
  ...CONVERSION_FAILURE_REASONS,
  "method-not-allowed",
  "unsupported-media-type",
  "too-large",
  "malformed-json",
  "read-failed",
];

/** How an HTTP request to /mutate ended: an admission result, or rejected before admission. */
export type RequestResult = AdmissionResult | "invalid" | "error";
export const REQUEST_RESULTS: readonly RequestResult[] = [
  "injected",
  "skipped",
  "denied",
  "invalid",
  "error",
];

/** Why a request was rejected before it reached the admission core. */
export type InvalidRequestReason =
  | "method-not-allowed"
  | "unsupported-media-type"
  | "too-large"
  | "malformed-json"
  | "not-admission-review"
  | "missing-uid"
  | "read-failed";
export const INVALID_REQUEST_REASONS: readonly InvalidRequestReason[] = [
  "method-not-allowed",
  "unsupported-media-type",
  "too-large",
  "malformed-json",
  "not-admission-review",
  "missing-uid",
  "read-failed",
];

const admissionReasonSet: ReadonlySet<string> = new Set(ADMISSION_REASONS);

/** The reason as a label value: the core's code, or "other" should an unknown one slip through. */
export function reasonLabel(reason: string): AdmissionReason | "other" {
  return admissionReasonSet.has(reason) ? (reason as AdmissionReason) : "other";
}

export interface InjectorMetrics {
  requests: Counter<"result">;
  duration: Histogram<"result">;
  injections: Counter<"dry_run">;
  skips: Counter<"reason">;
  denials: Counter<"reason">;
  invalidRequests: Counter<"reason">;
  certificateNotAfter: Gauge<"certificate">;
  certificateRotations: Counter<"certificate" | "reason">;
  certificateErrors: Counter<"operation">;
  conversions: Counter<"result">;
  conversionFailures: Counter<"reason">;
  conversionDuration: Histogram<"result">;
}

export type CertificateOperation = "secret" | "webhook-configuration" | "certificate-files";

export function createInjectorMetrics(registry: Registry): InjectorMetrics {
  const registers = [registry];
  const m: InjectorMetrics = {
    requests: new Counter({
      name: "outrigger_injector_admission_requests_total",
      help: "Requests to /mutate, by result (injected, skipped, denied; invalid: rejected before admission; error)",
      labelNames: ["result"],
      registers,
    }),
    duration: new Histogram({
      name: "outrigger_injector_admission_duration_seconds",
      help: "Time from receiving a /mutate request to sending the response, by result",
      labelNames: ["result"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    injections: new Counter({
      name: "outrigger_injector_injections_total",
      help: "Pods given a daprd sidecar, by whether the request was a dry run",
      labelNames: ["dry_run"],
      registers,
    }),
    skips: new Counter({
      name: "outrigger_injector_skips_total",
      help: "Pods admitted unchanged, by reason",
      labelNames: ["reason"],
      registers,
    }),
    denials: new Counter({
      name: "outrigger_injector_denials_total",
      help: "Pods denied, by reason",
      labelNames: ["reason"],
      registers,
    }),
    invalidRequests: new Counter({
      name: "outrigger_injector_invalid_requests_total",
      help: "Requests to /mutate rejected before admission, by reason",
      labelNames: ["reason"],
      registers,
    }),
    certificateNotAfter: new Gauge({
      name: "outrigger_injector_certificate_not_after_timestamp_seconds",
      help: "Expiry of the certificate being served and of the CA that signed it (Unix seconds)",
      labelNames: ["certificate"],
      registers,
    }),
    certificateRotations: new Counter({
      name: "outrigger_injector_certificate_rotations_total",
      help: "Certificates created or renewed by this replica, by certificate and reason",
      labelNames: ["certificate", "reason"],
      registers,
    }),
    certificateErrors: new Counter({
      name: "outrigger_injector_certificate_errors_total",
      help: "Failed attempts to read or write the certificate Secret, the webhook configuration or the certificate files",
      labelNames: ["operation"],
      registers,
    }),
    conversions: new Counter({
      name: "outrigger_injector_conversion_requests_total",
      help: "Requests to /convert (Subscription conversion), by result (success, failure: a Failure result, invalid: refused before conversion)",
      labelNames: ["result"],
      registers,
    }),
    conversionFailures: new Counter({
      name: "outrigger_injector_conversion_failures_total",
      help: "Requests to /convert that failed or were refused, by reason",
      labelNames: ["reason"],
      registers,
    }),
    conversionDuration: new Histogram({
      name: "outrigger_injector_conversion_duration_seconds",
      help: "Time from receiving a /convert request to sending the response, by result",
      labelNames: ["result"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
  };
  // Series from closed sets start at zero, so rate() and alerts work before the first event.
  for (const result of REQUEST_RESULTS) m.requests.inc({ result }, 0);
  for (const reason of INVALID_REQUEST_REASONS) m.invalidRequests.inc({ reason }, 0);
  for (const dry of ["true", "false"]) m.injections.inc({ dry_run: dry }, 0);
  for (const result of CONVERSION_RESULTS) m.conversions.inc({ result }, 0);
  for (const reason of CONVERSION_REASONS) m.conversionFailures.inc({ reason }, 0);
  return m;
}

export function countRotation(metrics: InjectorMetrics, change: RotationChange): void {
  metrics.certificateRotations.inc({ certificate: change.certificate, reason: change.reason });
}
