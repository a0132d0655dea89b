// What standalone daprd refuses when it loads a Configuration file, decided before the file is
// written. A Configuration daprd refuses makes the sidecar exit at start, so it is never Ready:
// the app keeps its last good config and the status names the field.
//
// Only load-time checks that the CRD schema cannot express are here; each one mirrors a check
// in daprd v1.18 (pkg/config, pkg/acl), and the real-daprd e2e specs run them against daprd.
// What the controller cannot know (a backend that is down, a middleware or name resolver that
// fails to initialise) is listed in docs/sidecar-config.md.

/** A field of a Configuration that daprd refuses, and what it says about it. */
export interface DaprdRejection {
  reason: "RejectedByDaprd";
  /** JSON path of the field, e.g. `spec.secrets.scopes[1].storeName`. */
  field: string;
  detail: string;
}

/** Why daprd would refuse to start with this Configuration spec; empty when it would load it. */
export function configurationRejections(spec: Record<string, unknown> | undefined): DaprdRejection[] {
  if (!spec) return [];
  return [
    ...accessControlRejections(asRecord(spec.accessControl)),
    ...secretScopeRejections(asRecord(spec.secrets)),
    ...durationRejections(spec),
  ];
}

const reject = (field: string, detail: string): DaprdRejection => ({
  reason: "RejectedByDaprd",
  field,
  detail,
});

// daprd parses policies only when the ACL says anything at all, and then refuses the whole
// Configuration when a policy lacks its app-id, trust domain or namespace ("invalid access
// control spec"); it does not default them.
function accessControlRejections(acl: Record<string, unknown> | undefined): DaprdRejection[] {
  if (!acl) return [];
  const policies = Array.isArray(acl.policies) ? acl.policies : [];
  if (!text(acl.trustDomain) && !text(acl.defaultAction) && policies.length === 0) return [];
  const out: DaprdRejection[] = [];
  policies.forEach((p, i) => {
    const policy = asRecord(p) ?? {};
    for (const key of ["appId", "trustDomain", "namespace"]) {
      if (!text(policy[key]))
        out.push(
          reject(
            `spec.accessControl.policies[${i}].${key}`,
            `is empty; daprd refuses an access control policy without it`,
          ),
        );
    }
  });
  return out;
}

// sortAndValidateSecretsConfiguration: a store named twice, or a defaultAccess other than
// allow/deny (any case), stops daprd.
function secretScopeRejections(secrets: Record<string, unknown> | undefined): DaprdRejection[] {
  const scopes = Array.isArray(secrets?.scopes) ? secrets.scopes : [];
  const seen = new Set<string>();
  const out: DaprdRejection[] = [];
  scopes.forEach((s, i) => {
    const scope = asRecord(s) ?? {};
    const store = typeof scope.storeName === "string" ? scope.storeName : "";
    if (seen.has(store))
      out.push(
        reject(
          `spec.secrets.scopes[${i}].storeName`,
          `"${store}" is repeated; daprd refuses repeated stores`,
        ),
      );
    seen.add(store);
    const access = scope.defaultAccess;
    if (typeof access === "string" && access !== "" && !["allow", "deny"].includes(access.toLowerCase()))
      out.push(reject(`spec.secrets.scopes[${i}].defaultAccess`, `"${access}" is not allow or deny`));
  });
  return out;
}

// Fields daprd reads as Go time.Duration from the file: anything time.ParseDuration refuses
// fails the whole file.
const DURATION_FIELDS: ReadonlyArray<readonly string[]> = [
  ["tracing", "otel", "timeout"],
  ["workflow", "stateRetentionPolicy", "anyTerminal"],
  ["workflow", "stateRetentionPolicy", "completed"],
  ["workflow", "stateRetentionPolicy", "failed"],
  ["workflow", "stateRetentionPolicy", "terminated"],
];

function durationRejections(spec: Record<string, unknown>): DaprdRejection[] {
  const out: DaprdRejection[] = [];
  for (const path of DURATION_FIELDS) {
    let value: unknown = spec;
    for (const key of path) value = asRecord(value)?.[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || !isGoDuration(value))
      out.push(
        reject(
          `spec.${path.join(".")}`,
          `${JSON.stringify(value)} is not a duration such as 30s, 5m or 1h30m`,
        ),
      );
  }
  return out;
}

/** time.ParseDuration's grammar: an optional sign, then "0" or number+unit pairs. */
export function isGoDuration(value: string): boolean {
  return /^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$/.test(value);
}

export function rejectionMessage(r: DaprdRejection): string {
  return `${r.field} ${r.detail}`;
}

function text(v: unknown): boolean {
  return typeof v === "string" && v !== "";
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
