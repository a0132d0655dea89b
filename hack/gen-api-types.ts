// Generates src/apis/types.ts, the TypeScript types of every Dapr kind (and version), from the
// schemas in crds/, so the controller and the injector use exactly the fields the API server
// accepts. Run it after changing crds/:
//
//   node hack/gen-api-types.ts           rewrite src/apis/types.ts
//   node hack/gen-api-types.ts --check   exit 1 if src/apis/types.ts is out of date
//
// src/apis/types.test.ts runs the same check in `npm test`.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { readCrd, versionSchema, type DaprKind, type JsonSchemaProps } from "../src/apis/crd-schema.ts";
import { SUBSCRIPTION_V1ALPHA1, SUBSCRIPTION_V2ALPHA1 } from "../src/apis/resources.ts";

/** One schema the types are generated from: a kind at one version, named by its root type. */
export type SchemaId = DaprKind | "SubscriptionV1alpha1";

const SCHEMA_SOURCES: Record<SchemaId, { kind: DaprKind; version?: string }> = {
  Component: { kind: "Component" },
  Configuration: { kind: "Configuration" },
  Subscription: { kind: "Subscription", version: SUBSCRIPTION_V2ALPHA1 },
  SubscriptionV1alpha1: { kind: "Subscription", version: SUBSCRIPTION_V1ALPHA1 },
  Resiliency: { kind: "Resiliency" },
  HTTPEndpoint: { kind: "HTTPEndpoint" },
  MCPServer: { kind: "MCPServer" },
  WorkflowAccessPolicy: { kind: "WorkflowAccessPolicy" },
};

/** The schemas of crds/ that src/apis/types.ts is generated from. */
export function apiSchemas(): Record<SchemaId, JsonSchemaProps> {
  return Object.fromEntries(
    Object.entries(SCHEMA_SOURCES).map(([id, { kind, version }]) => [
      id,
      versionSchema(readCrd(kind), version),
    ]),
  ) as Record<SchemaId, JsonSchemaProps>;
}

export const TYPES_FILE = fileURLToPath(new URL("../src/apis/types.ts", import.meta.url));

/**
 * The name of the type of each object in the schemas, by path (`[]` is a list item). Every
 * object with properties needs one; a name used at several paths must have one shape there.
 */
const DELIVERY_STATUS = { status: "DeliveryStatus", "status.conditions[]": "Condition" };

const TYPE_NAMES: Record<SchemaId, Record<string, string>> = {
  Component: {
    "": "Component",
    auth: "ComponentAuth",
    spec: "ComponentSpec",
    "spec.metadata[]": "MetadataItem",
    "spec.metadata[].secretKeyRef": "SecretKeyRef",
    status: "ResourceStatus",
    "status.conditions[]": "Condition",
  },
  Configuration: {
    "": "Configuration",
    spec: "ConfigurationSpec",
    ...pipelineNames("spec.httpPipeline"),
    ...pipelineNames("spec.appHttpPipeline"),
    "spec.tracing": "TracingSpec",
    "spec.tracing.zipkin": "ZipkinSpec",
    "spec.tracing.otel": "OtelSpec",
    "spec.tracing.otel.headers[]": "MetadataItem",
    "spec.tracing.otel.headers[].secretKeyRef": "SecretKeyRef",
    ...metricNames("spec.metric"),
    ...metricNames("spec.metrics"),
    "spec.mtls": "MtlsSpec",
    "spec.mtls.tokenValidators[]": "TokenValidatorSpec",
    "spec.secrets": "SecretsSpec",
    "spec.secrets.scopes[]": "SecretsScope",
    "spec.accessControl": "AccessControlSpec",
    "spec.accessControl.policies[]": "AppPolicySpec",
    "spec.accessControl.policies[].operations[]": "AppOperationAction",
    "spec.nameResolution": "NameResolutionSpec",
    "spec.features[]": "FeatureSpec",
    "spec.api": "ApiSpec",
    "spec.api.allowed[]": "ApiAccessRule",
    "spec.api.denied[]": "ApiAccessRule",
    "spec.components": "ComponentsSpec",
    "spec.logging": "LoggingSpec",
    "spec.logging.apiLogging": "ApiLoggingSpec",
    "spec.wasm": "WasmSpec",
    "spec.workflow": "WorkflowSpec",
    "spec.workflow.workflowConcurrencyLimits[]": "NamedConcurrencyLimit",
    "spec.workflow.activityConcurrencyLimits[]": "NamedConcurrencyLimit",
    "spec.workflow.stateRetentionPolicy": "WorkflowStateRetentionPolicy",
    status: "ResourceStatus",
    "status.conditions[]": "Condition",
  },
  Subscription: {
    "": "Subscription",
    spec: "SubscriptionSpec",
    "spec.bulkSubscribe": "BulkSubscribe",
    "spec.routes": "SubscriptionRoutes",
    "spec.routes.rules[]": "SubscriptionRule",
    ...DELIVERY_STATUS,
  },
  SubscriptionV1alpha1: {
    "": "SubscriptionV1alpha1",
    spec: "SubscriptionSpecV1alpha1",
    "spec.bulkSubscribe": "BulkSubscribe",
    ...DELIVERY_STATUS,
  },
  Resiliency: {
    "": "Resiliency",
    spec: "ResiliencySpec",
    "spec.policies": "ResiliencyPolicies",
    "spec.policies.retries{}": "RetryPolicy",
    "spec.policies.retries{}.matching": "RetryMatching",
    "spec.policies.circuitBreakers{}": "CircuitBreakerPolicy",
    "spec.targets": "ResiliencyTargets",
    "spec.targets.apps{}": "AppTarget",
    "spec.targets.actors{}": "ActorTarget",
    "spec.targets.components{}": "ComponentTarget",
    "spec.targets.components{}.inbound": "ComponentInboundPolicies",
    "spec.targets.components{}.outbound": "ComponentOutboundPolicies",
    ...DELIVERY_STATUS,
  },
  HTTPEndpoint: {
    "": "HTTPEndpoint",
    auth: "HTTPEndpointAuth",
    spec: "HTTPEndpointSpec",
    "spec.headers[]": "NameValuePair",
    "spec.headers[].secretKeyRef": "SecretKeySelector",
    "spec.clientTLS": "ClientTLS",
    ...Object.fromEntries(
      ["rootCA", "certificate", "privateKey"].flatMap((doc) => [
        [`spec.clientTLS.${doc}`, "TLSDocument"],
        [`spec.clientTLS.${doc}.secretKeyRef`, "SecretKeySelector"],
      ]),
    ),
    ...DELIVERY_STATUS,
  },
  MCPServer: {
    "": "MCPServer",
    spec: "MCPServerSpec",
    "spec.endpoint": "MCPEndpoint",
    ...mcpHttpTransportNames("spec.endpoint.streamableHTTP", "MCPStreamableHTTP"),
    ...mcpHttpTransportNames("spec.endpoint.sse", "MCPSSE"),
    "spec.endpoint.stdio": "MCPStdio",
    "spec.endpoint.stdio.env[]": "NameValuePair",
    "spec.endpoint.stdio.env[].secretKeyRef": "SecretKeySelector",
    "spec.catalog": "MCPCatalog",
    "spec.catalog.owner": "MCPCatalogOwner",
    "spec.middleware": "MCPMiddleware",
    ...Object.fromEntries(
      ["beforeCallTool", "afterCallTool", "afterListTools", "beforeListTools"].flatMap((hook) => [
        [`spec.middleware.${hook}[]`, hook === "beforeListTools" ? "MCPHook" : "MCPMutatingHook"],
        [`spec.middleware.${hook}[].workflow`, "MCPHookWorkflow"],
      ]),
    ),
    ...DELIVERY_STATUS,
  },
  WorkflowAccessPolicy: {
    "": "WorkflowAccessPolicy",
    spec: "WorkflowAccessPolicySpec",
    "spec.rules[]": "WorkflowAccessRule",
    "spec.rules[].callers[]": "WorkflowCaller",
    "spec.rules[].workflows[]": "WorkflowRule",
    "spec.rules[].activities[]": "ActivityRule",
    ...DELIVERY_STATUS,
  },
};

function mcpHttpTransportNames(path: string, name: string): Record<string, string> {
  return {
    [path]: name,
    [`${path}.headers[]`]: "NameValuePair",
    [`${path}.headers[].secretKeyRef`]: "SecretKeySelector",
    [`${path}.auth`]: "MCPAuth",
    [`${path}.auth.oauth2`]: "MCPOAuth2",
    [`${path}.auth.oauth2.secretKeyRef`]: "SecretKeySelector",
    [`${path}.auth.spiffe`]: "MCPSpiffe",
    [`${path}.auth.spiffe.jwt`]: "MCPSpiffeJWT",
  };
}

function pipelineNames(path: string): Record<string, string> {
  return {
    [path]: "PipelineSpec",
    [`${path}.handlers[]`]: "HandlerSpec",
    [`${path}.handlers[].selector`]: "SelectorSpec",
    [`${path}.handlers[].selector.fields[]`]: "SelectorField",
  };
}

function metricNames(path: string): Record<string, string> {
  return {
    [path]: "MetricSpec",
    [`${path}.http`]: "MetricHttpSpec",
    [`${path}.rules[]`]: "MetricRule",
    [`${path}.rules[].labels[]`]: "MetricLabel",
    [`${path}.workflow`]: "WorkflowMetricsSpec",
  };
}

/** Fields typed from @kubernetes/client-node instead of the schema, which leaves them open. */
const EXTERNAL_TYPES: Record<string, string> = { metadata: "V1ObjectMeta" };

const HEADER = `// Code generated by hack/gen-api-types.ts from crds/. DO NOT EDIT.
// Change the CRDs, then run \`node hack/gen-api-types.ts\`.
import type { V1ObjectMeta } from "@kubernetes/client-node";

/** Any JSON value: what a field that preserves unknown fields may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
`;

/** The TypeScript source of src/apis/types.ts for the given schemas, not yet formatted. */
export function renderApiTypes(schemas: Record<SchemaId, JsonSchemaProps>): string {
  const declarations = new Map<string, string>();
  for (const kind of Object.keys(SCHEMA_SOURCES) as SchemaId[]) {
    const names = TYPE_NAMES[kind];
    const used = new Set<string>();
    const typeOf = (s: JsonSchemaProps, path: string): string => {
      const external = EXTERNAL_TYPES[path];
      if (external) return external;
      if (s["x-kubernetes-int-or-string"]) return "number | string";
      if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
      switch (s.type) {
        case "string":
          return "string";
        case "integer":
        case "number":
          return "number";
        case "boolean":
          return "boolean";
        case "array": {
          const item = typeOf(s.items ?? {}, `${path}[]`);
          return /^\w+$/.test(item) ? `${item}[]` : `Array<${item}>`;
        }
        case "object":
          if (s.properties) return declare(s, path);
          if (typeof s.additionalProperties === "object") {
            return `Record<string, ${typeOf(s.additionalProperties, `${path}{}`)}>`;
          }
          return "{ [key: string]: JsonValue }";
        default:
          return "JsonValue";
      }
    };
    const declare = (s: JsonSchemaProps, path: string): string => {
      const name = names[path];
      if (!name) throw new Error(`${kind}: no type name for the object at "${path}": add it to TYPE_NAMES`);
      used.add(path);
      // Parents are declared before their children: reserve the place before rendering fields.
      if (!declarations.has(name)) declarations.set(name, "");
      const required = new Set(s.required ?? []);
      const fields = Object.entries(s.properties ?? {}).map(([field, fs]) => {
        const fieldPath = path ? `${path}.${field}` : field;
        const optional = required.has(field) ? "" : "?";
        return `${docComment(fs.description, "  ")}  ${field}${optional}: ${typeOf(fs, fieldPath)};\n`;
      });
      const body = `${docComment(s.description, "")}export interface ${name} {\n${fields.join("")}}\n`;
      const previous = declarations.get(name);
      if (previous && previous !== body) {
        throw new Error(`${kind}: type ${name} at "${path}" differs from another object of that name`);
      }
      declarations.set(name, body);
      return name;
    };
    declare(schemas[kind], "");
    const unused = Object.keys(names).filter((p) => !used.has(p));
    if (unused.length)
      throw new Error(`${kind}: TYPE_NAMES has paths not in the schema: ${unused.join(", ")}`);
  }
  return [HEADER, ...declarations.values()].join("\n");
}

function docComment(description: string | undefined, indent: string): string {
  if (!description) return "";
  const lines = wrap(description.replace(/\*\//g, "*\\/"), 100 - indent.length);
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}\n`).join("")}${indent} */\n`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** src/apis/types.ts as it should read for the CRDs in crds/, formatted like the rest of the code. */
export async function generatedApiTypes(): Promise<string> {
  const source = renderApiTypes(apiSchemas());
  const options = (await resolveConfig(TYPES_FILE)) ?? {};
  return format(source, { ...options, filepath: TYPES_FILE });
}

async function main(args: string[]): Promise<number> {
  const want = await generatedApiTypes();
  if (args.includes("--check")) {
    if (readFileSync(TYPES_FILE, "utf8") === want) return 0;
    console.error("src/apis/types.ts is out of date with crds/: run node hack/gen-api-types.ts");
    return 1;
  }
  writeFileSync(TYPES_FILE, want);
  console.log(`wrote ${TYPES_FILE}`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
