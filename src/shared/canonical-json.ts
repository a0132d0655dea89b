// JSON that depends only on meaning: object keys sorted at every level, so two values that
// differ only in key order give the same text. Used to compare objects the API server returns
// in its own order, and as the input of content hashes.

/**
 * JSON with object keys sorted at every level. Arrays keep their order (it is meaningful);
 * `undefined` properties are dropped, as JSON.stringify drops them.
 */
export function canonicalJson(value: unknown): string {
  // Copy with sorted keys, then one native JSON.stringify: faster than building the text here.
  return JSON.stringify(sortedKeys(value));
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object") return value;
  // Dates and Buffers serialize through toJSON, exactly as JSON.stringify would.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return sortedKeys(toJSON.call(value));
  const out: Record<string, unknown> = {};
  // The default sort orders by UTF-16 code units, as `<` on strings does.
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortedKeys(v);
  }
  return out;
}
