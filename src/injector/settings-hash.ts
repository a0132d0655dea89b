// A stable fingerprint of the resolved sidecar settings, recorded in the pod's status
// annotation. The image is left out on purpose: the status records it separately, so an
// upgrade can tell "new daprd image" from "different sidecar settings".

import { createHash } from "node:crypto";
import { canonicalJson } from "../shared/canonical-json.ts";
import type { SidecarSettings } from "./decide.ts";

/** First 16 hex digits of the SHA-256 of the canonical settings, image excluded. */
export function hashOfSidecarSettings(sidecar: SidecarSettings): string {
  const { image: _image, ...rest } = sidecar;
  return createHash("sha256").update(canonicalJson(rest)).digest("hex").slice(0, 16);
}
