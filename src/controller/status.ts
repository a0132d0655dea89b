// Status of Components and Configurations: the Ready condition, observedGeneration and how many
// apps' sidecar configs include the resource. Pure: computed from the per-app results of
// desiredSidecarConfig, the clock reading and the previous status.

import { READY_CONDITION } from "../apis/resources.ts";
import type { Component, Condition, Configuration, ResourceStatus } from "../apis/types.ts";
import { canonicalJson } from "../shared/canonical-json.ts";
import {
  problemMessage,
  type ComponentResult,
  type ConfigurationResult,
  type Resolution,
  type RenderProblem,
} from "./sidecar-config.ts";

export type { Condition, ResourceStatus };

/** Reason of a Ready condition that is True. */
export const READY_REASON = "Ready";

/**
 * Status of a Component. `results` are its entries in the sidecar configs of the apps in its
 * scope (one per app). Pass `resolution` (resolveComponent with the current Secrets) so a
 * missing Secret shows even when no app is in scope, or when the apps have not caught up yet.
 */
export function componentStatus(
  component: Component,
  results: readonly Pick<ComponentResult, "generation" | "problems" | "served">[],
  now: Date,
  previous: ResourceStatus | undefined,
  resolution?: Resolution,
): ResourceStatus {
  const generation = component.metadata?.generation;
  const problems = resolution ? problemsOf(resolution) : currentProblems(results, generation);
  const appCount = results.filter((r) => r.served !== "none").length;
  const lastGood = results.filter((r) => r.served === "lastGood").length;
  const without = results.filter((r) => r.served === "none").length;
  return status(generation, appCount, problems, now, previous, () => {
    const kept: string[] = [];
    if (lastGood > 0)
      kept.push(`${apps(lastGood)} ${lastGood === 1 ? "keeps its" : "keep their"} last good version`);
    if (without > 0) kept.push(`${apps(without)} ${without === 1 ? "goes" : "go"} without it`);
    return kept;
  });
}

/**
 * Status of a Configuration. `results` are the configuration results of the apps whose
 * `dapr.io/config` names it. `resolution` as for componentStatus.
 */
export function configurationStatus(
  configuration: Configuration,
  results: readonly Pick<ConfigurationResult, "generation" | "problems" | "served">[],
  now: Date,
  previous: ResourceStatus | undefined,
  resolution?: Resolution,
): ResourceStatus {
  const generation = configuration.metadata?.generation;
  const problems = resolution ? problemsOf(resolution) : currentProblems(results, generation);
  const appCount = results.filter((r) => r.served === "current" || r.served === "lastGood").length;
  const lastGood = results.filter((r) => r.served === "lastGood").length;
  const fallback = results.filter((r) => r.served === "default").length;
  return status(generation, appCount, problems, now, previous, () => {
    const kept: string[] = [];
    if (lastGood > 0)
      kept.push(`${apps(lastGood)} ${lastGood === 1 ? "keeps its" : "keep their"} last good version`);
    if (fallback > 0)
      kept.push(`${apps(fallback)} ${fallback === 1 ? "uses" : "use"} the default Configuration`);
    return kept;
  });
}

/** Whether `next` says anything `previous` does not: write the status only then. */
export function statusChanged(previous: ResourceStatus | undefined, next: ResourceStatus): boolean {
  return canonicalJson(comparable(previous)) !== canonicalJson(comparable(next));
}

function status(
  generation: number | undefined,
  appCount: number,
  problems: readonly RenderProblem[],
  now: Date,
  previous: ResourceStatus | undefined,
  fallbacks: () => string[],
): ResourceStatus {
  const first = problems[0];
  const ready: Omit<Condition, "lastTransitionTime"> = first
    ? {
        type: READY_CONDITION,
        status: "False",
        reason: first.reason,
        message: [problems.map(problemMessage).join("; "), ...fallbacks()].join("; "),
      }
    : {
        type: READY_CONDITION,
        status: "True",
        reason: READY_REASON,
        message:
          appCount === 0
            ? "No app's sidecar config includes it yet"
            : `Included in the sidecar config of ${apps(appCount)}`,
      };
  const before = previous?.conditions?.find((c) => c.type === READY_CONDITION);
  // Kubernetes convention: the transition time moves only when the status value flips.
  const lastTransitionTime =
    before && before.status === ready.status && before.lastTransitionTime
      ? before.lastTransitionTime
      : rfc3339(now);
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    appCount,
    conditions: [
      {
        ...ready,
        ...(generation === undefined ? {} : { observedGeneration: generation }),
        lastTransitionTime,
      },
    ],
  };
}

function problemsOf(resolution: Resolution): RenderProblem[] {
  return resolution.ok ? [] : resolution.problems;
}

/** Problems reported by the apps that rendered the current generation; older results are stale. */
function currentProblems(
  results: readonly Pick<ComponentResult | ConfigurationResult, "generation" | "problems">[],
  generation: number | undefined,
): RenderProblem[] {
  const current = results.filter((r) => r.generation === generation);
  return current.find((r) => r.problems.length > 0)?.problems ?? [];
}

function comparable(s: ResourceStatus | undefined): unknown {
  return {
    observedGeneration: s?.observedGeneration,
    appCount: s?.appCount,
    staleSidecars: s?.staleSidecars,
    conditions: [...(s?.conditions ?? [])].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)),
  };
}

/** metav1.Time precision: whole seconds, as the API server returns it. */
function rfc3339(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function apps(n: number): string {
  return n === 1 ? "1 app" : `${n} apps`;
}
