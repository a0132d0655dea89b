// When a certificate must be renewed, as a pure function of its validity window and `now`.
// Shared by the injector's webhook PKI and Sentry's CA, so both renew on the same schedule.

/** Validity window of a certificate: all the renewal decision needs. */
export interface CertificateTimes {
  notBefore: Date;
  notAfter: Date;
}

export type RenewalReason = "expired" | "not-yet-valid" | "renewal-due";

/** A notBefore this far in the future is not skew between replicas but a bad clock or a foreign certificate. */
const NOT_YET_VALID_TOLERANCE_MS = 5 * 60_000;

/** The moment two thirds of the certificate's validity period has passed. */
export function renewalTime(cert: CertificateTimes): Date {
  const start = cert.notBefore.getTime();
  return new Date(start + Math.floor(((cert.notAfter.getTime() - start) * 2) / 3));
}

/** Should this certificate be renewed at `now`, and why. `undefined` means it is good. */
export function renewalReason(cert: CertificateTimes, now: Date): RenewalReason | undefined {
  const t = now.getTime();
  if (t >= cert.notAfter.getTime()) return "expired";
  if (cert.notBefore.getTime() - t > NOT_YET_VALID_TOLERANCE_MS) return "not-yet-valid";
  if (t >= renewalTime(cert).getTime()) return "renewal-due";
  return undefined;
}

/** Parses Go-style durations as used by the flags: "30s", "90m", "8760h", "1h30m". */
export function parseDuration(text: string): number | undefined {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * units[m[2]!]!;
    matched += m[0].length;
  }
  return matched === text.length && text.length > 0 ? Math.round(total) : undefined;
}
