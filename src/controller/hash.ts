// Content hashes that depend only on meaning: keys are sorted at every level, so two objects
// that differ only in key order hash the same. Used to write a sidecar config only when it changed.

import { createHash } from "node:crypto";

/** Annotation on a sidecar config Secret: the hash of its data, as `contentHash` computes it. */
export const CONFIG_HASH_ANNOTATION = "outrigger.dev/config-hash";

/**
 * JSON with object keys sorted at every level. Arrays keep their order (it is meaningful);
 * `undefined` properties are dropped, as JSON.stringify drops them.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedKeys(value));
}

/** `sha256:<hex>` of the canonical JSON of `value`. */
export function contentHash(value: unknown): string {
  return `sha256:${createHash("sha256").update(canonicalJson(value)).digest("hex")}`;
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object") return value;
  // Dates and Buffers serialize through toJSON, exactly as JSON.stringify would.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return sortedKeys(toJSON.call(value));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortedKeys(v);
  }
  return out;
}
