// A stable fingerprint of the resolved sidecar settings, recorded in the pod's status
// annotation. The image is left out on purpose: the status records it separately, so an
// upgrade can tell "new daprd image" from "different sidecar settings".

import { createHash } from "node:crypto";
import type { SidecarSettings } from "./decide.ts";

/** JSON with object keys sorted and undefined members dropped: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** First 16 hex digits of the SHA-256 of the canonical settings, image excluded. */
export function hashOfSidecarSettings(sidecar: SidecarSettings): string {
  const { image: _image, ...rest } = sidecar;
  return createHash("sha256").update(canonicalJson(rest)).digest("hex").slice(0, 16);
}
