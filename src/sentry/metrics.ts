// Sentry's metrics, registered on the registry passed in. Label values come from closed sets:
// the rejection reasons of validate.ts and the CA change reasons of ca.ts.
import { Counter, Gauge, type Registry } from "prom-client";
import type { CaChange } from "./ca.ts";
import { REJECTION_REASONS, type RejectionReason } from "./validate.ts";

export interface SentryMetrics {
  issued: Counter;
  rejected: Counter<"reason">;
  errors: Counter<"operation">;
  caChanges: Counter<"certificate" | "reason">;
  certificateNotAfter: Gauge<"certificate">;
}

export function createSentryMetrics(registry: Registry): SentryMetrics {
  const m: SentryMetrics = {
    issued: new Counter({
      name: "outrigger_sentry_certificates_issued_total",
      help: "Workload SVIDs signed",
      registers: [registry],
    }),
    rejected: new Counter({
      name: "outrigger_sentry_sign_rejections_total",
      help: "SignCertificate requests refused, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    errors: new Counter({
      name: "outrigger_sentry_errors_total",
      help: "Failed API calls (token-review, pod-read, ca-secret, trust-bundle)",
      labelNames: ["operation"],
      registers: [registry],
    }),
    caChanges: new Counter({
      name: "outrigger_sentry_ca_changes_total",
      help: "Root, successor root, issuer and trust bundle changes, by reason",
      labelNames: ["certificate", "reason"],
      registers: [registry],
    }),
    certificateNotAfter: new Gauge({
      name: "outrigger_sentry_certificate_not_after_seconds",
      help: "Expiry (unix seconds) of the CA certificates in use",
      labelNames: ["certificate"],
      registers: [registry],
    }),
  };
  // Every reason is present from the start, so a rate over it is defined before the first refusal.
  for (const reason of REJECTION_REASONS) m.rejected.inc({ reason }, 0);
  return m;
}

export const countRejection = (m: SentryMetrics, reason: RejectionReason): void => m.rejected.inc({ reason });
export const countCaChange = (m: SentryMetrics, c: CaChange): void =>
  m.caChanges.inc({ certificate: c.certificate, reason: c.reason });
