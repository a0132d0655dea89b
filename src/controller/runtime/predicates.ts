// Update filters for watches, in the manner of controller-runtime's predicates: which updates of
// a watched object are worth mapping to keys at all. A reconcile is level-based and idempotent,
// so a filtered update costs nothing but the reconcile it would have caused; a resync (the same
// object delivered again) always passes, so whatever a filter let through by mistake still
// converges at the next resync.
import type { KubernetesObject } from "@kubernetes/client-node";
import { canonicalJson } from "../../shared/canonical-json.ts";

/**
 * The object's spec (metadata.generation), labels, annotations or deletion changed. Not a
 * status-only update, such as a controller's own status patch coming back through the watch:
 * without this filter every status write re-enqueued what reads the object. Objects without a
 * generation always pass.
 */
export function generationOrMetadataChanged(a: KubernetesObject, b: KubernetesObject): boolean {
  if (a === b) return true;
  const ma = a.metadata;
  const mb = b.metadata;
  if (ma?.generation === undefined || ma.generation !== mb?.generation) return true;
  return (
    canonicalJson(ma.labels ?? null) !== canonicalJson(mb.labels ?? null) ||
    canonicalJson(ma.annotations ?? null) !== canonicalJson(mb.annotations ?? null) ||
    canonicalJson(ma.deletionTimestamp ?? null) !== canonicalJson(mb.deletionTimestamp ?? null)
  );
}

/**
 * Anything but the API server's bookkeeping (resourceVersion, generation, managedFields)
 * changed. Meant for objects an informer trims to what its readers use: then every field left
 * is one a reader reads, and an update that changed none of them (a Deployment's status, a
 * ReplicaSet's replica counts) is noise.
 */
export function readFieldsChanged(a: KubernetesObject, b: KubernetesObject): boolean {
  if (a === b) return true;
  return canonicalJson(withoutBookkeeping(a)) !== canonicalJson(withoutBookkeeping(b));
}

function withoutBookkeeping(o: KubernetesObject): KubernetesObject {
  if (!o.metadata) return o;
  const { resourceVersion: _rv, generation: _g, managedFields: _mf, ...metadata } = o.metadata;
  return { ...o, metadata };
}
