// Reads the CustomResourceDefinitions of crds/ and parses manifests the way kubectl does, for
// the type generator (hack/gen-api-types.ts) and the tests that check resources against the
// CRDs without an API server.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Schema, YAML11_SCHEMA, load, loadAll, timestampTag } from "js-yaml";
import { DAPR_GROUP, DAPR_RESOURCES } from "./resources.ts";

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps that structural schemas use. */
export interface JsonSchemaProps {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  properties?: Record<string, JsonSchemaProps>;
  additionalProperties?: JsonSchemaProps | boolean;
  items?: JsonSchemaProps;
  required?: string[];
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  nullable?: boolean;
  default?: unknown;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-validations"?: ValidationRule[];
}

/** One CEL rule of `x-kubernetes-validations`. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: JsonSchemaProps };
  subresources?: { status?: object; scale?: object };
  additionalPrinterColumns?: PrinterColumn[];
}

export interface CustomResourceDefinition {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    conversion?: {
      strategy: "None" | "Webhook";
      webhook?: {
        conversionReviewVersions: string[];
        clientConfig: {
          url?: string;
          caBundle?: string;
          service?: { namespace: string; name: string; path?: string; port?: number };
        };
      };
    };
    scope: "Namespaced" | "Cluster";
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions: CrdVersion[];
  };
}

export type DaprKind = (typeof DAPR_RESOURCES)[number]["names"]["kind"];

/** The kind's entry of DAPR_RESOURCES: its names and served versions, the stored one first. */
export function daprResource(kind: DaprKind): (typeof DAPR_RESOURCES)[number] {
  const found = DAPR_RESOURCES.find((r) => r.names.kind === kind);
  if (!found) throw new Error(`unknown kind ${kind}`);
  return found;
}

/** The version the API server stores the kind in. */
export function storageVersion(kind: DaprKind): string {
  return daprResource(kind).versions[0];
}

/** crds/ of this repository. */
export const CRD_DIR = fileURLToPath(new URL("../../crds/", import.meta.url));

/** The file in crds/ that defines each kind. */
export function crdPath(kind: DaprKind, dir: string = CRD_DIR): string {
  return `${dir}/${daprResource(kind).names.plural}.${DAPR_GROUP}.yaml`;
}

export function parseCrd(text: string): CustomResourceDefinition {
  const crd = load(text) as CustomResourceDefinition | null;
  if (crd?.kind !== "CustomResourceDefinition" || !Array.isArray(crd.spec?.versions)) {
    throw new Error("not a CustomResourceDefinition");
  }
  return crd;
}

export function readCrd(kind: DaprKind, dir: string = CRD_DIR): CustomResourceDefinition {
  return parseCrd(readFileSync(crdPath(kind, dir), "utf8"));
}

/** The openAPIV3Schema of one version (the stored one by default); throws when the CRD has no such version. */
export function versionSchema(crd: CustomResourceDefinition, version?: string): JsonSchemaProps {
  const v = crd.spec.versions.find((x) => (version === undefined ? x.storage : x.name === version));
  if (!v) throw new Error(`${crd.metadata.name} has no version ${version}`);
  return v.schema.openAPIV3Schema;
}

// kubectl reads YAML 1.1 (yes/no/on/off are booleans, 0755 is octal) but keeps timestamps as
// strings, so a date-like metadata value reaches the API server as the text that was written.
export const KUBECTL_YAML_SCHEMA = new Schema(YAML11_SCHEMA.tags.filter((t) => t !== timestampTag));

/** The documents of a YAML stream as the JSON kubectl sends; empty documents are dropped. */
export function parseManifests(text: string): unknown[] {
  return loadAll(text, { schema: KUBECTL_YAML_SCHEMA })
    .filter((d) => d !== null && d !== undefined)
    .map((d) => JSON.parse(JSON.stringify(d)) as unknown);
}
