// The CallersIdentified condition of a Configuration: an accessControl policy names calling apps
// by their SPIFFE identity, which a sidecar has only with mTLS. With mTLS on (the --mtls switch,
// the default) the condition is True: callers carry SVIDs from outrigger sentry; whether a given
// call matches a policy stays daprd's decision. With mTLS off no caller matches any policy and
// daprd applies only the global defaultAction, so the Configuration says so. Without policies
// naming apps there is nothing to say and the condition is absent.
import { setCondition } from "../apis/conditions.ts";
import type { Condition, Configuration, ResourceStatus } from "../apis/types.ts";

export const CALLERS_IDENTIFIED_CONDITION = "CallersIdentified";
export const MTLS_DISABLED_REASON = "MTLSDisabled";
export const MTLS_ENABLED_REASON = "MTLSEnabled";

/** `status` with the condition set when policies name apps (True with mTLS, False without), removed otherwise. */
export function withAccessControlCondition(
  status: ResourceStatus,
  configuration: Configuration,
  mtlsEnabled: boolean,
  now: Date,
  previous: ResourceStatus | undefined,
): ResourceStatus {
  const isOurs = (c: Condition) => c.type === CALLERS_IDENTIFIED_CONDITION;
  const others = (status.conditions ?? []).filter((c) => !isOurs(c));
  const apps = [...new Set((configuration.spec?.accessControl?.policies ?? []).map((p) => p.appId))].sort();
  if (apps.length === 0) return { ...status, conditions: others };
  const shown = apps.slice(0, 5).join(", ") + (apps.length > 5 ? ` and ${apps.length - 5} more` : "");
  const generation = status.observedGeneration;
  return {
    ...status,
    conditions: setCondition(
      [...others, ...(previous?.conditions ?? []).filter(isOurs)],
      {
        type: CALLERS_IDENTIFIED_CONDITION,
        ...(mtlsEnabled
          ? {
              status: "True",
              reason: MTLS_ENABLED_REASON,
              message: `accessControl names apps (${shown}) and mTLS is on: each caller presents its SVID from outrigger sentry, which daprd matches against the policies`,
            }
          : {
              status: "False",
              reason: MTLS_DISABLED_REASON,
              message: `accessControl names apps (${shown}) but mTLS is off (--mtls=false): callers have no identity, so no policy can match any caller and daprd applies only the global defaultAction`,
            }),
        ...(generation === undefined ? {} : { observedGeneration: generation }),
      },
      now,
    ),
  };
}
