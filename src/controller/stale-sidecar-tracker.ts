// Pods whose sidecar is stale (stale-sidecars.ts decides), kept from the pod informer's events
// on every replica (see PodFindings for the bookkeeping and its bound).
import type { V1Pod } from "@kubernetes/client-node";
import { APP_ID_LABEL } from "../sidecar/config-secret.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { PodFindings } from "./pod-findings.ts";
import { staleSidecar, type StaleSidecar } from "./stale-sidecars.ts";
import type { TrustBundle } from "./trust-bundle.ts";

/** When the Configuration of app `appId` in `namespace` last changed, if known. */
export type ConfigurationChangedAt = (namespace: string, appId: string) => Date | undefined;

export class StaleSidecarTracker extends PodFindings<V1Pod, StaleSidecar> {
  /**
   * Pods are judged again (observe) when their app's Configuration changed, and when Sentry's
   * trust bundle (`trustBundle`, undefined while unknown or with mTLS off) changed.
   */
  constructor(
    defaults: SidecarDefaults,
    configurationChangedAt: ConfigurationChangedAt = () => undefined,
    trustBundle: () => TrustBundle | undefined = () => undefined,
  ) {
    super((pod) => {
      const appId = pod.metadata?.labels?.[APP_ID_LABEL];
      const changedAt =
        appId === undefined ? undefined : configurationChangedAt(pod.metadata?.namespace ?? "", appId);
      return staleSidecar(pod, defaults, changedAt, trustBundle());
    });
  }

  /** Stale sidecars of the given apps of a namespace, sorted by pod name. */
  staleOf(namespace: string, appIds: ReadonlySet<string>): StaleSidecar[] {
    return this.of(namespace, appIds);
  }
}
