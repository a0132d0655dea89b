// What the controller finds on individual pods (a stale sidecar, a missing sidecar), kept from
// a pod informer's events on every replica, and per app the fingerprint of its findings as
// status last saw them. Bounded: one entry per pod with a finding (deleted with the pod or when
// the finding goes) and one per app that has findings (deleted when it has none).
import type { KubernetesObject } from "@kubernetes/client-node";
import { contentHash } from "./hash.ts";

/** A finding about one pod of one app. */
export interface PodFinding {
  namespace: string;
  pod: string;
  appId: string;
}

const NONE = contentHash([]);

export class PodFindings<P extends KubernetesObject, T extends PodFinding> {
  private readonly byPod = new Map<string, T>();
  private readonly seen = new Map<string, string>();
  private readonly find: (pod: P) => T | undefined;

  /** `find` decides, purely, what there is to report about a pod (undefined: nothing). */
  constructor(find: (pod: P) => T | undefined) {
    this.find = find;
  }

  /** Takes a pod event into account. */
  observe(pod: P, gone = false): void {
    const key = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name}`;
    const f = gone ? undefined : this.find(pod);
    if (f) this.byPod.set(key, f);
    else this.byPod.delete(key);
  }

  /** Pods with a finding now. */
  size(): number {
    return this.byPod.size;
  }

  /** Every finding now. */
  all(): T[] {
    return [...this.byPod.values()];
  }

  /** Findings of the given apps of a namespace, sorted by pod name. */
  of(namespace: string, appIds: ReadonlySet<string>): T[] {
    return this.all()
      .filter((s) => s.namespace === namespace && appIds.has(s.appId))
      .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  }

  /** App keys ("namespace/appId") with findings. */
  appKeys(): string[] {
    return [...new Set(this.all().map((s) => `${s.namespace}/${s.appId}`))];
  }

  /**
   * Records `found` as what status has seen of app `key`; true when that differs from before,
   * so the status of what the app uses must be computed again.
   */
  acknowledge(key: string, found: readonly T[]): boolean {
    const fingerprint = contentHash(found);
    if ((this.seen.get(key) ?? NONE) === fingerprint) return false;
    if (fingerprint === NONE) this.seen.delete(key);
    else this.seen.set(key, fingerprint);
    return true;
  }

  /** Apps whose findings are remembered (for tests of the bound). */
  remembered(): number {
    return this.seen.size;
  }
}
