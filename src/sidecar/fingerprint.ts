// A stable fingerprint of the resolved sidecar settings, recorded in the pod's status
// annotation. The image is left out on purpose: the status records it separately, so an
// upgrade can tell "new daprd image" from "different sidecar settings".

import { hash as digest } from "node:crypto";
import { canonicalJson } from "../shared/canonical-json.ts";
import type { ResolvedSidecar } from "./resolve.ts";

// Pods come in batches of one template (a ReplicaSet scaling up), so the same settings are
// hashed again and again. Their plain JSON text (a quarter of the canonical form's cost) finds
// the hash computed before; the whole settings' text, image included, so that no copy without
// the image is made unless the hash must be computed. Bounded: the oldest entry goes first.
const MEMO_SIZE = 512;
const memo = new Map<string, string>();

/** First 16 hex digits of the SHA-256 of the canonical settings, image excluded. */
export function hashOfResolvedSidecar(sidecar: ResolvedSidecar): string {
  const text = JSON.stringify(sidecar);
  const known = memo.get(text);
  if (known !== undefined) return known;
  const { image: _image, ...rest } = sidecar;
  const hash = digest("sha256", canonicalJson(rest), "hex").slice(0, 16);
  if (memo.size >= MEMO_SIZE) memo.delete(memo.keys().next().value as string);
  memo.set(text, hash);
  return hash;
}
