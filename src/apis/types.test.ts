import { readFileSync } from "node:fs";
import { expect } from "chai";
import { TYPES_FILE, apiSchemas, generatedApiTypes, renderApiTypes } from "../../hack/gen-api-types.ts";
import type { JsonSchemaProps } from "./crd-schema.ts";
import type { Component, Configuration } from "./types.ts";

const schemas = apiSchemas();

describe("src/apis/types.ts", () => {
  it("is what hack/gen-api-types.ts generates from crds/ (run it after changing crds/)", async function () {
    this.timeout(20_000); // prettier's first load
    expect(readFileSync(TYPES_FILE, "utf8")).to.equal(await generatedApiTypes());
  });

  it("makes required schema fields required and the others optional", () => {
    const source = renderApiTypes(schemas);
    expect(source).to.match(/export interface ComponentSpec \{[^}]*\n {2}type: string;/);
    expect(source).to.match(/export interface ComponentSpec \{[^}]*\n {2}initTimeout\?: string;/);
    expect(source).to.match(/export interface MetadataItem \{[^}]*\n {2}value\?: JsonValue;/);
    expect(source).to.match(/export interface OtelSpec \{[^}]*\n {2}protocol: "http" \| "grpc";/);
    expect(source).to.match(/export interface MetricLabel \{[^}]*\n {2}regex: Record<string, string>;/);
  });

  it("fails on an object without a type name, and on one name with two shapes", () => {
    const withExtra = (extra: JsonSchemaProps): typeof schemas => ({
      ...schemas,
      Component: {
        ...schemas.Component,
        properties: { ...schemas.Component.properties, extra },
      },
    });
    expect(() =>
      renderApiTypes(withExtra({ type: "object", properties: { a: { type: "string" } } })),
    ).to.throw(/no type name for the object at "extra"/);
    const otherStatus = { type: "object", properties: { other: { type: "string" } } } as const;
    const conflicting = {
      ...schemas,
      Configuration: {
        ...schemas.Configuration,
        properties: { ...schemas.Configuration.properties, status: otherStatus },
      },
    };
    expect(() => renderApiTypes(conflicting)).to.throw(/type ResourceStatus at "status" differs/);
  });

  it("types the Dapr resources the controller reads", () => {
    // Compiles only while the generated types keep these fields and their types.
    const component: Component = {
      apiVersion: "dapr.io/v1alpha1",
      kind: "Component",
      metadata: { name: "statestore", namespace: "default" },
      scopes: ["checkout"],
      auth: { secretStore: "kubernetes" },
      spec: {
        type: "state.redis",
        version: "v1",
        initTimeout: "1m",
        metadata: [
          { name: "redisHost", value: "redis:6379" },
          { name: "redisPassword", secretKeyRef: { name: "redis", key: "password" } },
        ],
      },
      status: {
        observedGeneration: 1,
        appCount: 1,
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "Delivered",
            message: "",
            lastTransitionTime: "2026-01-01T00:00:00Z",
          },
        ],
      },
    };
    const configuration: Configuration = {
      metadata: { name: "appconfig" },
      spec: {
        tracing: { samplingRate: "1", zipkin: { endpointAddress: "http://zipkin:9411/api/v2/spans" } },
      },
    };
    expect(component.spec.metadata[1]?.secretKeyRef?.name).to.equal("redis");
    expect(configuration.spec?.tracing?.samplingRate).to.equal("1");
  });
});
