// Pods whose sidecar is stale (stale-sidecars.ts decides), kept from the pod informer's events
// on every replica (see PodFindings for the bookkeeping and its bound).
import type { V1Pod } from "@kubernetes/client-node";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { PodFindings } from "./pod-findings.ts";
import { staleSidecar, type StaleSidecar } from "./stale-sidecars.ts";

export class StaleSidecarTracker extends PodFindings<V1Pod, StaleSidecar> {
  constructor(defaults: SidecarDefaults) {
    super((pod) => staleSidecar(pod, defaults));
  }

  /** Stale sidecars of the given apps of a namespace, sorted by pod name. */
  staleOf(namespace: string, appIds: ReadonlySet<string>): StaleSidecar[] {
    return this.of(namespace, appIds);
  }
}
