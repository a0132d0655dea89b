// What each app's last sidecar config said about the resources it uses: the store the status
// reconcilers read. The sidecar-config reconciler records into it; a change of an app's result
// names the resources whose status must be computed again. Bounded by the apps: a gone app's
// entry is deleted.
import { contentHash } from "./hash.ts";
import { DELIVERED_KINDS } from "./delivered-kinds.ts";
import type { SidecarConfig } from "./sidecar-config.ts";
import type { StatusKind } from "./owned-writer.ts";

/** What status reads of an app's sidecar config. */
export type AppResult = Pick<SidecarConfig, "components" | "configuration"> &
  Partial<Pick<SidecarConfig, "resources">>;

export interface ResourceRef {
  kind: StatusKind;
  namespace: string;
  name: string;
}

export class AppResults {
  private readonly results = new Map<string, AppResult>();
  /** App keys per namespace as last reconciled: an app that disappears still gets reconciled (pruned). */
  private readonly known = new Map<string, Set<string>>();

  /**
   * Records the result of app `key` ("namespace/appId"), undefined when the app is gone, and
   * returns the resources whose result for this app changed.
   */
  set(namespace: string, key: string, result: AppResult | undefined): ResourceRef[] {
    const before = this.results.get(key);
    const known = this.known.get(namespace) ?? new Set<string>();
    if (result) {
      this.results.set(key, result);
      known.add(key);
    } else {
      this.results.delete(key);
      known.delete(key);
    }
    if (known.size > 0) this.known.set(namespace, known);
    else this.known.delete(namespace);
    return changedResources(namespace, before, result);
  }

  get(key: string): AppResult | undefined {
    return this.results.get(key);
  }

  /**
   * Results of the apps of a namespace, by app key, sorted by key. Through the namespace's
   * known apps: every status reconcile asks, and scanning every app of the cluster each time
   * made the status phase grow with apps x resources.
   */
  inNamespace(namespace: string): Array<[string, AppResult]> {
    const out: Array<[string, AppResult]> = [];
    for (const key of this.known.get(namespace) ?? []) {
      const result = this.results.get(key);
      if (result) out.push([key, result]);
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** App keys of a namespace as last reconciled, present or not. */
  knownApps(namespace: string): Iterable<string> {
    return this.known.get(namespace) ?? [];
  }

  size(): number {
    return this.results.size;
  }

  /** A new leadership term starts from no results (the known apps stay, for pruning). */
  clearResults(): void {
    this.results.clear();
  }
}

/** The resources whose entry differs between two results of one app. Pure. */
export function changedResources(
  namespace: string,
  before: AppResult | undefined,
  after: AppResult | undefined,
): ResourceRef[] {
  const out: ResourceRef[] = [];
  const names = (c: AppResult | undefined) => new Set(c?.components.map((r) => r.name) ?? []);
  for (const name of new Set([...names(before), ...names(after)])) {
    const was = before?.components.find((r) => r.name === name);
    const now = after?.components.find((r) => r.name === name);
    if (contentHash(was ?? null) !== contentHash(now ?? null))
      out.push({ kind: "Component", namespace, name });
  }
  for (const { kind } of DELIVERED_KINDS) {
    const of = (c: AppResult | undefined) => c?.resources?.[kind] ?? [];
    for (const name of new Set([...of(before), ...of(after)].map((r) => r.name))) {
      const was = of(before).find((r) => r.name === name);
      const now = of(after).find((r) => r.name === name);
      if (contentHash(was ?? null) !== contentHash(now ?? null)) out.push({ kind, namespace, name });
    }
  }
  const cfgName = (c: AppResult | undefined) => c?.configuration.name;
  for (const name of new Set([cfgName(before), cfgName(after)])) {
    if (name && contentHash(before?.configuration ?? null) !== contentHash(after?.configuration ?? null))
      out.push({ kind: "Configuration", namespace, name });
  }
  return out;
}

/** The resources an app's result uses: those its stale sidecars count against. */
export function resourcesOf(namespace: string, result: AppResult | undefined): ResourceRef[] {
  if (!result) return [];
  const out: ResourceRef[] = result.components.map((r) => ({
    kind: "Component" as const,
    namespace,
    name: r.name,
  }));
  if (result.configuration.name)
    out.push({ kind: "Configuration", namespace, name: result.configuration.name });
  return out;
}
