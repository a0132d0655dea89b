// A stable fingerprint of the resolved sidecar settings, recorded in the pod's status
// annotation. The image is left out on purpose: the status records it separately, so an
// upgrade can tell "new daprd image" from "different sidecar settings".

import { hash as digest } from "node:crypto";
import { BoundedMemo } from "../shared/bounded-memo.ts";
import { canonicalJson } from "../shared/canonical-json.ts";
import type { ResolvedSidecar } from "./resolve.ts";

/** First 16 hex digits of the SHA-256 of the canonical settings, image excluded. Not memoized. */
export function computedHashOfResolvedSidecar(sidecar: ResolvedSidecar): string {
  const { image: _image, ...rest } = sidecar;
  return digest("sha256", canonicalJson(rest), "hex").slice(0, 16);
}

// Pods come in batches of one template (a ReplicaSet scaling up), so the same settings are
// hashed again and again. Their plain JSON text (a quarter of the canonical form's cost) finds
// the hash computed before; the whole settings' text, image included, so that no copy without
// the image is made unless the hash must be computed.
const memo = new BoundedMemo<string>(512);

/** computedHashOfResolvedSidecar, memoized by the settings' JSON text. */
export function hashOfResolvedSidecar(sidecar: ResolvedSidecar): string {
  const text = JSON.stringify(sidecar);
  return memo.get(text) ?? memo.set(text, computedHashOfResolvedSidecar(sidecar));
}
