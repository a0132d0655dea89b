// Content hashes that depend only on meaning: keys are sorted at every level, so two objects
// that differ only in key order hash the same. Used to write a sidecar config only when it changed.

import { createHash } from "node:crypto";
import { canonicalJson } from "../shared/canonical-json.ts";

/** Annotation on a sidecar config Secret: the hash of its data, as `contentHash` computes it. */
export const CONFIG_HASH_ANNOTATION = "outrigger.dev/config-hash";

/** `sha256:<hex>` of the canonical JSON of `value`. */
export function contentHash(value: unknown): string {
  return `sha256:${createHash("sha256").update(canonicalJson(value)).digest("hex")}`;
}
