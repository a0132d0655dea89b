import { expect } from "chai";
import { corpusFiles, subscriptionV1alpha1Examples } from "./conformance.testing.ts";
import { parseManifests, readCrd, versionSchema } from "./crd-schema.ts";
import { createCrdValidator } from "./crd-validator.testing.ts";
import {
  ROUTES_ANNOTATION,
  CONVERSION_FAILURE_REASONS,
  reviewSubscriptionConversion,
  subscriptionConversionOutcome,
  subscriptionToV1alpha1,
  subscriptionToV2alpha1,
} from "./subscription-conversion.ts";
import type { Subscription, SubscriptionV1alpha1 } from "./types.ts";

/** A v1alpha1 Subscription with every field set. */
const fullV1: SubscriptionV1alpha1 = {
  apiVersion: "dapr.io/v1alpha1",
  kind: "Subscription",
  metadata: {
    name: "orders",
    namespace: "shop",
    uid: "0b5c3a9e-1111-2222-3333-444455556666",
    resourceVersion: "42",
    generation: 3,
    labels: { team: "shop" },
    annotations: { "example.com/owner": "checkout" },
  },
  scopes: ["checkout", "orderprocessing"],
  spec: {
    pubsubname: "pubsub",
    topic: "orders",
    route: "/checkout",
    metadata: { rawPayload: "true", queueName: "q" },
    deadLetterTopic: "poisonMessages",
    bulkSubscribe: { enabled: true, maxMessagesCount: 100, maxAwaitDurationMs: 40 },
  },
  status: {
    observedGeneration: 3,
    appCount: 2,
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "Delivered",
        message: "",
        lastTransitionTime: "2026-01-02T03:04:05Z",
        observedGeneration: 3,
      },
    ],
  },
};

const v2Validator = createCrdValidator(versionSchema(readCrd("Subscription"), "v2alpha1"));
const v1Validator = createCrdValidator(versionSchema(readCrd("Subscription"), "v1alpha1"));

describe("Subscription conversion", () => {
  it("maps v1alpha1 route to v2alpha1 routes.default and copies every other field, as Dapr's operator does", () => {
    const v2 = subscriptionToV2alpha1(fullV1);
    const { route: _route, ...common } = fullV1.spec;
    expect(v2).to.deep.equal({
      ...fullV1,
      apiVersion: "dapr.io/v2alpha1",
      spec: { ...common, routes: { default: "/checkout" } },
    });
    expect(v2Validator(v2)).to.deep.equal({ valid: true });
  });

  it("round-trips v1alpha1 → v2alpha1 → v1alpha1 with every field", () => {
    expect(subscriptionToV1alpha1(subscriptionToV2alpha1(fullV1))).to.deep.equal(fullV1);
  });

  // Each field alone, so that a field the conversion forgets fails by name.
  const optional = {
    "metadata (the object's)": { metadata: { name: "only-meta", annotations: { a: "b" } } },
    scopes: { scopes: ["app1"] },
    status: { status: fullV1.status },
    "spec.metadata": { spec: { ...fullV1.spec, metadata: { k: "v" } } },
    "spec.deadLetterTopic": { spec: { ...fullV1.spec, deadLetterTopic: "dead" } },
    "spec.bulkSubscribe": { spec: { ...fullV1.spec, bulkSubscribe: { enabled: false } } },
    "spec.route empty": { spec: { ...fullV1.spec, route: "" } },
  };
  for (const [field, extra] of Object.entries(optional)) {
    it(`round-trips ${field} alone`, () => {
      const minimal: SubscriptionV1alpha1 = {
        apiVersion: "dapr.io/v1alpha1",
        kind: "Subscription",
        spec: { pubsubname: "p", topic: "t", route: "/r" },
        ...extra,
      };
      expect(subscriptionToV1alpha1(subscriptionToV2alpha1(minimal))).to.deep.equal(minimal);
    });
  }

  it("leaves an absent bulkSubscribe absent (Dapr writes enabled: false)", () => {
    const v2 = subscriptionToV2alpha1({
      apiVersion: "dapr.io/v1alpha1",
      kind: "Subscription",
      spec: { pubsubname: "p", topic: "t", route: "/r" },
    });
    expect(v2.spec).to.not.have.property("bulkSubscribe");
  });

  it("keeps v2alpha1 rules through v1alpha1 in an annotation, and a changed route wins as the default", () => {
    const v2: Subscription = {
      apiVersion: "dapr.io/v2alpha1",
      kind: "Subscription",
      metadata: { name: "inventory" },
      spec: {
        pubsubname: "pubsub",
        topic: "inventory",
        routes: {
          rules: [
            { match: 'event.type == "widget"', path: "/widgets" },
            { match: 'event.type == "gadget"', path: "/gadgets" },
          ],
          default: "/products",
        },
      },
    };
    const v1 = subscriptionToV1alpha1(v2);
    expect(v1.spec.route).to.equal("/products");
    expect(JSON.parse(v1.metadata?.annotations?.[ROUTES_ANNOTATION] ?? "null")).to.deep.equal(v2.spec.routes);
    expect(v1Validator(v1)).to.deep.equal({ valid: true });
    expect(subscriptionToV2alpha1(v1)).to.deep.equal(v2);

    const edited = { ...v1, spec: { ...v1.spec, route: "/everything-else" } };
    expect(subscriptionToV2alpha1(edited).spec.routes).to.deep.equal({
      ...v2.spec.routes,
      default: "/everything-else",
    });
  });

  it("keeps rules without a default: route is empty in v1alpha1, and no default comes back", () => {
    const v2: Subscription = {
      apiVersion: "dapr.io/v2alpha1",
      kind: "Subscription",
      metadata: { name: "all" },
      spec: { pubsubname: "p", topic: "t", routes: { rules: [{ match: "", path: "/all" }] } },
    };
    const v1 = subscriptionToV1alpha1(v2);
    expect(v1.spec.route).to.equal("");
    expect(subscriptionToV2alpha1(v1)).to.deep.equal(v2);
  });

  it("round-trips every Subscription of Dapr's docs, both ways", () => {
    const v2s = corpusFiles("Subscription").map((f) => parseManifests(f.text)[0] as Subscription);
    const v1s = subscriptionV1alpha1Examples().map((f) => parseManifests(f.text)[0] as SubscriptionV1alpha1);
    expect(v2s.length + v1s.length).to.be.greaterThan(10);
    for (const v2 of v2s) {
      const v1 = subscriptionToV1alpha1(v2);
      expect(v1Validator(v1), v2.metadata?.name).to.deep.equal({ valid: true });
      expect(subscriptionToV2alpha1(v1)).to.deep.equal(v2);
    }
    for (const v1 of v1s) {
      const v2 = subscriptionToV2alpha1(v1);
      expect(v2Validator(v2), v1.metadata?.name).to.deep.equal({ valid: true });
      expect(subscriptionToV1alpha1(v2)).to.deep.equal(v1);
    }
  });
});

describe("reviewSubscriptionConversion", () => {
  const request = (desiredAPIVersion: string, objects: unknown[]) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    request: { uid: "705ab4f5-6393-11e8-b7cc-42010a800002", desiredAPIVersion, objects },
  });

  it("converts each object to the desired version, keeps the uid, and passes objects already there", () => {
    const v2 = subscriptionToV2alpha1(fullV1);
    const review = reviewSubscriptionConversion(request("dapr.io/v2alpha1", [fullV1, v2]));
    expect(review).to.deep.equal({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "ConversionReview",
      response: {
        uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
        convertedObjects: [v2, v2],
        result: { status: "Success" },
      },
    });
    const back = reviewSubscriptionConversion(request("dapr.io/v1alpha1", [v2]));
    expect(back.response?.convertedObjects).to.deep.equal([fullV1]);
  });

  const failures: [string, unknown, string, string][] = [
    [
      "an unknown desired version",
      request("dapr.io/v3", [fullV1]),
      "cannot convert Subscriptions to dapr.io/v3",
      "unsupported-version",
    ],
    [
      "an object of another kind",
      request("dapr.io/v2alpha1", [{ ...fullV1, kind: "Component" }]),
      "objects[0] (orders) is not a Subscription",
      "not-a-subscription",
    ],
    [
      "an object of another version",
      request("dapr.io/v2alpha1", [{ ...fullV1, apiVersion: "dapr.io/v9" }]),
      "objects[0] (orders) has apiVersion dapr.io/v9",
      "unknown-object-version",
    ],
    [
      "a v2alpha1 object without routes",
      request("dapr.io/v1alpha1", [{ apiVersion: "dapr.io/v2alpha1", kind: "Subscription", spec: {} }]),
      "objects[0]: spec.routes is missing",
      "missing-routes",
    ],
    [
      "a routes annotation that is not JSON",
      request("dapr.io/v2alpha1", [
        { ...fullV1, metadata: { name: "x", annotations: { [ROUTES_ANNOTATION]: "{" } } },
      ]),
      `objects[0] (x): annotation ${ROUTES_ANNOTATION} is not JSON`,
      "conversion-error",
    ],
    [
      "a request without objects",
      { kind: "ConversionReview", request: { uid: "u" } },
      "not a list",
      "objects-not-a-list",
    ],
    ["something else", { kind: "AdmissionReview" }, "not a ConversionReview request", "not-a-review"],
    [
      "an object without spec",
      request("dapr.io/v2alpha1", [{ apiVersion: "dapr.io/v1alpha1", kind: "Subscription" }]),
      "objects[0] has no spec",
      "missing-spec",
    ],
  ];
  for (const [what, review, message, reason] of failures) {
    it(`answers ${what} with a Failure that says why (reason ${reason})`, () => {
      const response = reviewSubscriptionConversion(review).response;
      expect(subscriptionConversionOutcome(review).failure).to.equal(reason);
      expect(response?.result.status).to.equal("Failure");
      expect(response?.result).to.have.property("message").that.includes(message);
      expect(response?.convertedObjects).to.deep.equal([]);
    });
  }

  it("names every failure reason in the closed set, and none for a success", () => {
    expect(new Set(failures.map((f) => f[3]))).to.deep.equal(new Set(CONVERSION_FAILURE_REASONS));
    expect(subscriptionConversionOutcome(request("dapr.io/v2alpha1", [fullV1])).failure).to.equal(undefined);
  });
});
