// Conditions as apimachinery's meta.SetStatusCondition keeps them: one entry per type, and the
// lastTransitionTime moves only when the status value flips. Every status built here goes
// through setCondition, so the rule is written once.
import type { Condition } from "./types.ts";

/** metav1.Time precision: whole seconds, as the API server returns it. */
export function rfc3339(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * `list` with `condition` set: an entry of the same type is replaced in place, otherwise the
 * condition is appended. Its lastTransitionTime is the existing one when the status did not
 * change, else `now`. The input list is not modified.
 */
export function setCondition(
  list: readonly Condition[] | undefined,
  condition: Omit<Condition, "lastTransitionTime">,
  now: Date,
): Condition[] {
  const out = [...(list ?? [])];
  const i = out.findIndex((c) => c.type === condition.type);
  const before = i >= 0 ? out[i] : undefined;
  const lastTransitionTime =
    before && before.status === condition.status && before.lastTransitionTime
      ? before.lastTransitionTime
      : rfc3339(now);
  const next: Condition = { ...condition, lastTransitionTime };
  if (i >= 0) out[i] = next;
  else out.push(next);
  return out;
}
