// Converts Subscriptions between dapr.io/v1alpha1 (one `route`) and dapr.io/v2alpha1 (`routes`
// with rules and a default), and answers the API server's ConversionReview. Pure: objects in,
// objects out; the HTTPS shell that serves /convert is elsewhere.
//
// The fields map as in Dapr's operator: v1alpha1 `route` is v2alpha1 `routes.default`; topic,
// pubsubname, metadata, deadLetterTopic, bulkSubscribe, scopes, metadata and status are copied.
// Two differences, both so that a round trip gives back what went in:
// - v1alpha1 cannot hold routing rules (Dapr's conversion drops them). Here a v2alpha1
//   `routes` that `route` alone cannot express travels in the v1alpha1 object as the annotation
//   ROUTES_ANNOTATION and comes back on the way to v2alpha1; `route`, if set, still wins as the
//   default, so an edit of it through v1alpha1 takes effect.
// - An absent bulkSubscribe stays absent (Dapr writes `bulkSubscribe: {enabled: false}`).
import type { Subscription, SubscriptionRoutes, SubscriptionV1alpha1 } from "./types.ts";
import {
  DAPR_GROUP,
  SUBSCRIPTION_RESOURCE,
  SUBSCRIPTION_V1ALPHA1,
  SUBSCRIPTION_V2ALPHA1,
} from "./resources.ts";

export const SUBSCRIPTION_V1ALPHA1_API_VERSION = `${DAPR_GROUP}/${SUBSCRIPTION_V1ALPHA1}`;
export const SUBSCRIPTION_V2ALPHA1_API_VERSION = `${DAPR_GROUP}/${SUBSCRIPTION_V2ALPHA1}`;

/** Holds, on a v1alpha1 view, the v2alpha1 routes that `route` cannot express (JSON). */
export const ROUTES_ANNOTATION = "subscriptions.dapr.io/v2alpha1-routes";

/** v1alpha1 → v2alpha1. */
export function subscriptionToV2alpha1(v1: SubscriptionV1alpha1): Subscription {
  const { spec, metadata, ...rest } = v1;
  const { route, ...common } = spec;
  const annotations = { ...metadata?.annotations };
  const saved = annotations[ROUTES_ANNOTATION];
  delete annotations[ROUTES_ANNOTATION];
  const routes: SubscriptionRoutes = saved === undefined ? {} : parseRoutes(saved);
  if (saved === undefined || route !== "") routes.default = route;
  return {
    ...rest,
    apiVersion: SUBSCRIPTION_V2ALPHA1_API_VERSION,
    ...(metadata && { metadata: withAnnotations(metadata, annotations) }),
    spec: { ...common, routes },
  };
}

/** v2alpha1 → v1alpha1. */
export function subscriptionToV1alpha1(v2: Subscription): SubscriptionV1alpha1 {
  const { spec, metadata, ...rest } = v2;
  const { routes, ...common } = spec;
  const expressible = routes.default !== undefined && !(routes.rules && routes.rules.length > 0);
  const annotations = { ...metadata?.annotations };
  if (expressible) delete annotations[ROUTES_ANNOTATION];
  else annotations[ROUTES_ANNOTATION] = JSON.stringify(routes);
  const withMeta = metadata ?? (expressible ? undefined : {});
  return {
    ...rest,
    apiVersion: SUBSCRIPTION_V1ALPHA1_API_VERSION,
    ...(withMeta && { metadata: withAnnotations(withMeta, annotations) }),
    spec: { ...common, route: routes.default ?? "" },
  };
}

function parseRoutes(text: string): SubscriptionRoutes {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`annotation ${ROUTES_ANNOTATION} is not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`annotation ${ROUTES_ANNOTATION} is not a routes object`);
  }
  return { ...(parsed as SubscriptionRoutes) };
}

function withAnnotations<M extends { annotations?: Record<string, string> }>(
  metadata: M,
  annotations: Record<string, string>,
): M {
  const { annotations: _old, ...rest } = metadata;
  return (Object.keys(annotations).length > 0 ? { ...rest, annotations } : rest) as M;
}

/** The parts of apiextensions.k8s.io/v1 ConversionReview that conversion reads and writes. */
export interface ConversionReview {
  apiVersion: string;
  kind: "ConversionReview";
  request?: { uid: string; desiredAPIVersion: string; objects: unknown[] };
  response?: {
    uid: string;
    convertedObjects: unknown[];
    result: { status: "Success" } | { status: "Failure"; message: string };
  };
}

/** Why a ConversionReview got a Failure result: a closed set, so it can label a metric. */
export type ConversionFailureReason =
  | "not-a-review"
  | "objects-not-a-list"
  | "unsupported-version"
  | "not-a-subscription"
  | "missing-spec"
  | "missing-routes"
  | "unknown-object-version"
  | "conversion-error";
export const CONVERSION_FAILURE_REASONS: readonly ConversionFailureReason[] = [
  "not-a-review",
  "objects-not-a-list",
  "unsupported-version",
  "not-a-subscription",
  "missing-spec",
  "missing-routes",
  "unknown-object-version",
  "conversion-error",
];

/**
 * The response to a ConversionReview request. Never throws: a request that cannot be converted
 * gets a Failure result whose message the API server passes on to the client.
 */
export function reviewSubscriptionConversion(review: unknown): ConversionReview {
  return subscriptionConversionOutcome(review).review;
}

/** The response to a ConversionReview, and for a Failure its reason code (for metrics). Pure. */
export function subscriptionConversionOutcome(review: unknown): {
  review: ConversionReview;
  failure?: ConversionFailureReason;
} {
  const r = review as Partial<ConversionReview> | null;
  const uid = typeof r?.request?.uid === "string" ? r.request.uid : "";
  const apiVersion = typeof r?.apiVersion === "string" ? r.apiVersion : "apiextensions.k8s.io/v1";
  const respond = (response: ConversionReview["response"]): ConversionReview => ({
    apiVersion,
    kind: "ConversionReview",
    response,
  });
  const fail = (failure: ConversionFailureReason, message: string) => ({
    review: respond({ uid, convertedObjects: [], result: { status: "Failure", message } }),
    failure,
  });

  if (r?.kind !== "ConversionReview" || !r.request)
    return fail("not-a-review", "not a ConversionReview request");
  const { desiredAPIVersion, objects } = r.request;
  if (!Array.isArray(objects)) return fail("objects-not-a-list", "request.objects is not a list");
  const target = desiredAPIVersion;
  if (target !== SUBSCRIPTION_V1ALPHA1_API_VERSION && target !== SUBSCRIPTION_V2ALPHA1_API_VERSION) {
    return fail("unsupported-version", `cannot convert Subscriptions to ${String(target)}`);
  }
  const converted: unknown[] = [];
  for (const [i, object] of objects.entries()) {
    const o = object as {
      apiVersion?: unknown;
      kind?: unknown;
      spec?: unknown;
      metadata?: { name?: unknown };
    };
    const what = `objects[${i}]${typeof o?.metadata?.name === "string" ? ` (${o.metadata.name})` : ""}`;
    if (o?.kind !== SUBSCRIPTION_RESOURCE.kind)
      return fail("not-a-subscription", `${what} is not a Subscription`);
    if (typeof o.spec !== "object" || o.spec === null) return fail("missing-spec", `${what} has no spec`);
    try {
      if (o.apiVersion === target) converted.push(object);
      else if (o.apiVersion === SUBSCRIPTION_V1ALPHA1_API_VERSION) {
        converted.push(subscriptionToV2alpha1(object as SubscriptionV1alpha1));
      } else if (o.apiVersion === SUBSCRIPTION_V2ALPHA1_API_VERSION) {
        if (typeof (o.spec as { routes?: unknown }).routes !== "object") {
          return fail("missing-routes", `${what}: spec.routes is missing`);
        }
        converted.push(subscriptionToV1alpha1(object as Subscription));
      } else
        return fail(
          "unknown-object-version",
          `${what} has apiVersion ${String(o.apiVersion)}, not a Subscription version`,
        );
    } catch (err) {
      return fail("conversion-error", `${what}: ${(err as Error).message}`);
    }
  }
  return { review: respond({ uid, convertedObjects: converted, result: { status: "Success" } }) };
}
