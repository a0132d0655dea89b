// Pods whose sidecar is stale (stale-sidecars.ts decides), kept from the pod informer's events
// on every replica, and per app the fingerprint of its stale pods as status last saw them.
// Bounded: one entry per stale pod in the cache (deleted with the pod or when it is current
// again) and one per app that has stale pods (deleted when it has none).
import type { V1Pod } from "@kubernetes/client-node";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { APP_ID_LABEL } from "../sidecar/config-secret.ts";
import { contentHash } from "./hash.ts";
import { staleSidecar, type StaleSidecar } from "./stale-sidecars.ts";

const NONE = contentHash([]);

/** When the Configuration of app `appId` in `namespace` last changed, if known. */
export type ConfigurationChangedAt = (namespace: string, appId: string) => Date | undefined;

export class StaleSidecarTracker {
  private readonly byPod = new Map<string, StaleSidecar>();
  private readonly seen = new Map<string, string>();
  private readonly defaults: SidecarDefaults;
  private readonly configurationChangedAt: ConfigurationChangedAt;

  constructor(defaults: SidecarDefaults, configurationChangedAt: ConfigurationChangedAt = () => undefined) {
    this.defaults = defaults;
    this.configurationChangedAt = configurationChangedAt;
  }

  /** Takes a pod event into account; called again for an app's pods when its Configuration changed. */
  observe(pod: V1Pod, gone = false): void {
    const namespace = pod.metadata?.namespace ?? "";
    const key = `${namespace}/${pod.metadata?.name}`;
    const appId = pod.metadata?.labels?.[APP_ID_LABEL];
    const changedAt = appId === undefined ? undefined : this.configurationChangedAt(namespace, appId);
    const s = gone ? undefined : staleSidecar(pod, this.defaults, changedAt);
    if (s) this.byPod.set(key, s);
    else this.byPod.delete(key);
  }

  /** Pods with a stale sidecar now. */
  size(): number {
    return this.byPod.size;
  }

  /** Stale sidecars of the given apps of a namespace, sorted by pod name. */
  staleOf(namespace: string, appIds: ReadonlySet<string>): StaleSidecar[] {
    return [...this.byPod.values()]
      .filter((s) => s.namespace === namespace && appIds.has(s.appId))
      .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  }

  /** App keys ("namespace/appId") with stale pods. */
  appKeys(): string[] {
    return [...new Set([...this.byPod.values()].map((s) => `${s.namespace}/${s.appId}`))];
  }

  /**
   * Records `stale` as what status has seen of app `key`; true when that differs from before,
   * so the status of what the app uses must be computed again.
   */
  acknowledge(key: string, stale: readonly StaleSidecar[]): boolean {
    const fingerprint = contentHash(stale.map((s) => [s.pod, s.reasons]));
    if ((this.seen.get(key) ?? NONE) === fingerprint) return false;
    if (fingerprint === NONE) this.seen.delete(key);
    else this.seen.set(key, fingerprint);
    return true;
  }

  /** Apps whose stale pods are remembered (for tests of the bound). */
  remembered(): number {
    return this.seen.size;
  }
}
