// Status of Components and Configurations: the Ready condition, observedGeneration and how many
// apps' sidecar configs include the resource. Pure: computed from the per-app results of
// desiredSidecarConfig, the clock reading and the previous status.

import { setCondition } from "../apis/conditions.ts";
import { READY_CONDITION } from "../apis/resources.ts";
import type { Component, Condition, Configuration, ResourceStatus, Subscription } from "../apis/types.ts";
import { canonicalJson } from "../shared/canonical-json.ts";
import type { DeliveredResource } from "./delivered-kinds.ts";
import {
  problemMessage,
  type ComponentResult,
  type ConfigurationResult,
  type ResourceResult,
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
  component: Component | DeliveredResource,
  results: readonly Pick<ComponentResult, "generation" | "problems" | "served">[],
  now: Date,
  previous: ResourceStatus | undefined,
  resolution?: Resolution,
): ResourceStatus {
  const without = results.filter((r) => r.served === "none").length;
  return resourceStatus(component, results, now, previous, resolution, {
    appCount: results.filter((r) => r.served !== "none").length,
    otherwise: without > 0 ? `${apps(without)} ${without === 1 ? "goes" : "go"} without it` : undefined,
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
  const fallback = results.filter((r) => r.served === "default").length;
  return resourceStatus(configuration, results, now, previous, resolution, {
    appCount: results.filter((r) => r.served === "current" || r.served === "lastGood").length,
    otherwise:
      fallback > 0
        ? `${apps(fallback)} ${fallback === 1 ? "uses" : "use"} the default Configuration`
        : undefined,
  });
}

/** What the two kinds share: problems, the apps that keep a last good version, the condition. */
function resourceStatus(
  obj: Component | Configuration | DeliveredResource,
  results: readonly Pick<ComponentResult | ConfigurationResult, "generation" | "problems" | "served">[],
  now: Date,
  previous: ResourceStatus | undefined,
  resolution: Resolution | undefined,
  kind: { appCount: number; otherwise: string | undefined },
): ResourceStatus {
  const generation = obj.metadata?.generation;
  const problems = resolution ? problemsOf(resolution) : currentProblems(results, generation);
  const lastGood = results.filter((r) => r.served === "lastGood").length;
  return status(generation, kind.appCount, problems, now, previous, () => {
    const kept: string[] = [];
    if (lastGood > 0)
      kept.push(`${apps(lastGood)} ${lastGood === 1 ? "keeps its" : "keep their"} last good version`);
    if (kind.otherwise) kept.push(kind.otherwise);
    return kept;
  });
}

/** The condition saying whether a Subscription's pub/sub Component reaches the apps it reaches. */
export const PUBSUB_CONDITION = "PubSubInScope";

/**
 * `status` of a Subscription with its PubSubInScope condition, from its results in the apps
 * (those of the current generation): False, reason `PubSubNotFound`, naming the apps whose
 * sidecar config has no pub/sub Component named `spec.pubsubname` (daprd subscribes to nothing
 * there, though the Subscription is delivered); True when every app that receives it has one.
 * Without such an app there is nothing to say, and the condition is left out. Pure.
 */
export function withPubsubCondition(
  status: ResourceStatus,
  subscription: Subscription,
  results: readonly Pick<ResourceResult, "generation" | "served" | "pubsubMissingFor">[],
  now: Date,
  previous: ResourceStatus | undefined,
): ResourceStatus {
  const generation = subscription.metadata?.generation;
  const current = results.filter((r) => r.served !== "none" && r.generation === generation);
  const others = (status.conditions ?? []).filter((c) => c.type !== PUBSUB_CONDITION);
  if (current.length === 0) return { ...status, conditions: others };
  const missing = [
    ...new Set(current.flatMap((r) => (r.pubsubMissingFor ? [r.pubsubMissingFor] : []))),
  ].sort();
  const pubsub = subscription.spec?.pubsubname ?? "";
  const condition: Omit<Condition, "lastTransitionTime"> =
    missing.length > 0
      ? {
          type: PUBSUB_CONDITION,
          status: "False",
          reason: "PubSubNotFound",
          message: `no pub/sub Component "${pubsub}" is delivered to ${missing.length === 1 ? "app" : "apps"} ${missing.join(", ")}: daprd there subscribes to nothing (the Subscription is delivered all the same)`,
        }
      : {
          type: PUBSUB_CONDITION,
          status: "True",
          reason: "PubSubFound",
          message: `pub/sub Component "${pubsub}" is delivered to every app that receives it`,
        };
  const prior = previous?.conditions?.filter((c) => c.type === PUBSUB_CONDITION) ?? [];
  const withCondition = setCondition(
    prior,
    {
      ...condition,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    },
    now,
  );
  return { ...status, conditions: [...others, ...withCondition] };
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
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    appCount,
    // Ready alone: the other conditions are added by those who own them (withStaleSidecars).
    conditions: setCondition(
      previous?.conditions?.filter((c) => c.type === READY_CONDITION),
      { ...ready, ...(generation === undefined ? {} : { observedGeneration: generation }) },
      now,
    ),
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
    uninjectedPods: s?.uninjectedPods,
    conditions: [...(s?.conditions ?? [])].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)),
  };
}

function apps(n: number): string {
  return n === 1 ? "1 app" : `${n} apps`;
}
