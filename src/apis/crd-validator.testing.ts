// Checks a resource against a CRD's openAPIV3Schema the way the API server does when
// `kubectl apply` sends it, without an API server: nulls of non-nullable fields are pruned;
// fields the schema does not declare fail alone, as strict field validation fails the request
// before validation; otherwise the schema and the x-kubernetes-* list rules are checked, and
// the CEL rules of x-kubernetes-validations run only when the schema holds, as on the server.
// Error fields are written the Kubernetes way (spec.metadata[0].name), so tests can expect the
// same field for this validator and the real API server.
import { Ajv, type AnySchema, type ErrorObject } from "ajv";
import { celEnv, isCelError, parse, plan, type CelInput, type CelResult } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import type { JsonSchemaProps, ValidationRule } from "./crd-schema.ts";

export interface FieldError {
  /** Path of the offending field, as the API server names it, e.g. `spec.metadata[2].name`. */
  field: string;
  message: string;
}

export type ValidationResult = { valid: true } | { valid: false; errors: FieldError[] };

export type CrdValidator = (resource: unknown) => ValidationResult;

export function createCrdValidator(schema: JsonSchemaProps): CrdValidator {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  for (const keyword of ANNOTATION_KEYWORDS) ajv.addKeyword({ keyword });
  ajv.addKeyword({ keyword: "x-kubernetes-list-map-keys", schemaType: "array", compile: compileListMapKeys });
  ajv.addKeyword({
    keyword: "x-kubernetes-validations",
    schemaType: "array",
    compile: (rules: ValidationRule[], parent) => compileCelRules(rules, parent as JsonSchemaProps),
  });
  ajv.addFormat("int32", { type: "number", validate: (n: number) => isIntInRange(n, 2 ** 31) });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat("date-time", RFC3339);
  const validate = ajv.compile(toAjvSchema(schema, true));
  return (resource) => {
    const pruned = pruneNulls(structuredClone(resource), schema);
    const unknown = unknownFields(pruned, schema, "", true);
    if (unknown.length)
      return { valid: false, errors: unknown.map((f) => ({ field: f, message: `unknown field "${f}"` })) };
    if (validate(pruned)) return { valid: true };
    const errors = validate.errors ?? [];
    const schemaErrors = errors.filter((e) => e.keyword !== "x-kubernetes-validations");
    return {
      valid: false,
      errors: (schemaErrors.length ? schemaErrors : errors).map((e) => toFieldError(e, schema)),
    };
  };
}

/**
 * Fields the schema does not declare, as strict field validation names them. A map where the
 * schema wants a list or a scalar counts as unknown fields too, as on the API server.
 */
export function unknownFields(value: unknown, s: JsonSchemaProps, path: string, isRoot = false): string[] {
  if (Array.isArray(value)) {
    const items = s.items;
    return items ? value.flatMap((v, i) => unknownFields(v, items, `${path}[${i}]`)) : [];
  }
  if (value === null || typeof value !== "object") return [];
  const preserve = s["x-kubernetes-preserve-unknown-fields"] === true;
  return Object.entries(value).flatMap(([k, v]) => {
    const field = child(path, k);
    if (isRoot && k === "metadata") return []; // ObjectMeta, checked by the API server itself
    const declared =
      s.properties?.[k] ?? (typeof s.additionalProperties === "object" ? s.additionalProperties : undefined);
    if (declared) return unknownFields(v, declared, field);
    return preserve || s.additionalProperties === true ? [] : [field];
  });
}

// Keywords that change how the API server stores or merges a field, not what it accepts.
const ANNOTATION_KEYWORDS = [
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
];

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function isIntInRange(n: number, bound: number): boolean {
  return Number.isInteger(n) && n >= -bound && n < bound;
}

/** The same schema with the API server's strictness spelled out for ajv. */
function toAjvSchema(s: JsonSchemaProps, isRoot = false): AnySchema {
  const out: Record<string, unknown> = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toAjvSchema(v)]));
  }
  if (isRoot && out.properties) {
    // The API server validates metadata itself (ObjectMeta), not through the CRD schema.
    out.properties = { ...(out.properties as object), metadata: { type: "object" } };
  }
  if (typeof s.additionalProperties === "object")
    out.additionalProperties = toAjvSchema(s.additionalProperties);
  if (s.items) out.items = toAjvSchema(s.items);
  if (s["x-kubernetes-int-or-string"]) {
    delete out.type;
    out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (s["x-kubernetes-list-type"] === "set") out.uniqueItems = true;
  if (s.nullable) out.type = [s.type, "null"];
  delete out.nullable;
  return out;
}

/** Drops null values of fields that are not nullable, as the API server does before validating. */
export function pruneNulls(value: unknown, s: JsonSchemaProps | undefined): unknown {
  if (!s) return value;
  if (Array.isArray(value)) return value.map((v) => pruneNulls(v, s.items));
  if (value === null || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(obj)) {
    const child =
      s.properties?.[key] ??
      (typeof s.additionalProperties === "object" ? s.additionalProperties : undefined);
    if (!child) continue;
    if (v === null && !child.nullable && child.default === undefined) delete obj[key];
    else obj[key] = pruneNulls(v, child);
  }
  return obj;
}

type KeywordValidate = ((data: unknown, cxt?: { instancePath: string }) => boolean) & {
  errors?: Partial<ErrorObject>[];
};

function compileListMapKeys(keys: string[]): KeywordValidate {
  const fn: KeywordValidate = (data, cxt) => {
    if (!Array.isArray(data)) return true;
    const seen = new Set<string>();
    fn.errors = [];
    data.forEach((item: Record<string, unknown>, i) => {
      const key = JSON.stringify(keys.map((k) => item?.[k]));
      if (seen.has(key)) {
        const value = Object.fromEntries(keys.map((k) => [k, item?.[k]]));
        fn.errors?.push({
          instancePath: `${cxt?.instancePath ?? ""}/${i}`,
          keyword: "x-kubernetes-list-map-keys",
          message: `Duplicate value: ${JSON.stringify(value)}`,
        });
      }
      seen.add(key);
    });
    return fn.errors.length === 0;
  };
  return fn;
}

const CEL_ENV = celEnv({ funcs: strings });

function compileCelRules(rules: ValidationRule[], parentSchema: JsonSchemaProps): KeywordValidate {
  const compiled = rules.map((r) => ({
    rule: r,
    check: plan(CEL_ENV, parse(r.rule)),
    message: r.messageExpression ? plan(CEL_ENV, parse(r.messageExpression)) : undefined,
  }));
  const fn: KeywordValidate = (data, cxt) => {
    fn.errors = [];
    // A value of the wrong type is reported by the type check; its rules would only add noise.
    if (!hasSchemaType(data, parentSchema)) return true;
    const self = toCelValue(data, parentSchema) as CelInput;
    for (const c of compiled) {
      const result = c.check({ self });
      if (result === true) continue;
      fn.errors.push({
        instancePath: cxt?.instancePath ?? "",
        keyword: "x-kubernetes-validations",
        message: isCelError(result) ? `${c.rule.rule}: ${String(result.message)}` : celMessage(c, self),
      });
    }
    return fn.errors.length === 0;
  };
  return fn;
}

function hasSchemaType(value: unknown, s: JsonSchemaProps): boolean {
  switch (s.type) {
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case undefined:
      return true;
    default:
      return typeof value === s.type;
  }
}

function celMessage(
  c: { rule: ValidationRule; message: ((ctx: { self: CelInput }) => CelResult) | undefined },
  self: CelInput,
): string {
  const fromExpression = c.message?.({ self });
  if (typeof fromExpression === "string" && fromExpression !== "") return fromExpression;
  return c.rule.message ?? `failed rule: ${c.rule.rule}`;
}

/**
 * The value as CEL sees it on the API server: integers are int64, not double, and a field
 * without a type (x-kubernetes-preserve-unknown-fields alone) is not there at all, so a rule
 * that reads one fails here as it fails to compile there.
 */
function toCelValue(value: unknown, s: JsonSchemaProps | undefined): unknown {
  if (typeof value === "number") {
    return Number.isInteger(value) && s?.type !== "number" ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => toCelValue(v, s?.items));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value).flatMap(([k, v]): [string, unknown][] => {
    const declared = s?.properties?.[k];
    if (declared && !declared.type && !declared["x-kubernetes-int-or-string"]) return [];
    const child =
      declared ?? (typeof s?.additionalProperties === "object" ? s.additionalProperties : undefined);
    return [[k, toCelValue(v, child)]];
  });
  return Object.fromEntries(entries);
}

/** `/spec/metadata/0/name` -> `spec.metadata[0].name` */
export function kubernetesFieldPath(instancePath: string): string {
  return instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), "");
}

/**
 * The path of a CEL rule's error, which the API server writes with map keys in brackets
 * (spec.policies.timeouts[general]) where schema errors write them as fields
 * (spec.policies.timeouts.general).
 */
export function celFieldPath(instancePath: string, schema: JsonSchemaProps): string {
  let s: JsonSchemaProps | undefined = schema;
  let path = "";
  for (const raw of instancePath.split("/").slice(1)) {
    const p = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (s?.type === "array") {
      path = `${path}[${p}]`;
      s = s.items;
    } else if (s?.properties?.[p] || typeof s?.additionalProperties !== "object") {
      path = child(path, p);
      s = s?.properties?.[p];
    } else {
      path = `${path}[${p}]`;
      s = s.additionalProperties;
    }
  }
  return path;
}

function child(parent: string, name: string): string {
  return parent ? `${parent}.${name}` : name;
}

// Messages follow the API server's wording, so one expected fragment fits both.
function toFieldError(e: ErrorObject, schema: JsonSchemaProps): FieldError {
  const field =
    e.keyword === "x-kubernetes-validations"
      ? celFieldPath(e.instancePath, schema)
      : kubernetesFieldPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return { field: child(field, String(p.missingProperty)), message: "Required value" };
    case "type":
      return { field, message: `must be of type ${String(p.type)}` };
    case "enum":
      return {
        field,
        message: `Unsupported value: supported values: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`,
      };
    case "minLength":
      return { field, message: `should be at least ${String(p.limit)} chars long` };
    case "maxLength":
      return { field, message: `Too long: may not be more than ${String(p.limit)} bytes` };
    case "minimum":
      return { field, message: `should be greater than or equal to ${String(p.limit)}` };
    case "pattern":
      return { field, message: `should match '${String(p.pattern)}'` };
    default:
      return { field, message: e.message ?? e.keyword };
  }
}
