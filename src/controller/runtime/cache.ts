// The informer's in-memory store: objects by key ("namespace/name", or "name" when cluster
// scoped), with secondary indexes. Objects handed out are the cache's own: never mutate them,
// copy first (structuredClone) when building a modified version.
import type { KubernetesObject } from "@kubernetes/client-node";

/** Index values of an object; an object may appear under several values, or none. */
export type IndexFunc<T> = (obj: T) => string[];

/** Built-in index: the object's namespace ("" for cluster-scoped objects). */
export const NAMESPACE_INDEX = "namespace";

export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? "";
  return ns ? `${ns}/${name}` : name;
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Splits a key made by objectKey/keyOf. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export interface ObjectCacheReader<T> {
  get(key: string): T | undefined;
  getByName(namespace: string | undefined, name: string): T | undefined;
  list(): T[];
  listKeys(): string[];
  /** Objects in one namespace (the namespace index). */
  listNamespace(namespace: string): T[];
  /** Objects whose index function returned `value`. Throws for an index that was never added. */
  byIndex(indexName: string, value: string): T[];
  /** The values an index currently holds (e.g. every referenced Secret name). */
  indexValues(indexName: string): string[];
  size(): number;
}

/** What a relist changed compared with the cache. */
export interface RelistDiff<T> {
  added: T[];
  updated: Array<{ oldObj: T; newObj: T }>;
  /** Objects in the cache that the list no longer has: deleted while we were not watching. */
  deleted: T[];
}

export class ObjectCache<T extends KubernetesObject> implements ObjectCacheReader<T> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  // index name -> index value -> keys
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    this.addIndex(NAMESPACE_INDEX, (obj) => [obj.metadata?.namespace ?? ""]);
    for (const [name, fn] of Object.entries(indexers)) this.addIndex(name, fn);
  }

  /** Adds an index; objects already cached are indexed at once. */
  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name)) throw new Error(`index "${name}" already exists`);
    this.indexers.set(name, fn);
    this.indices.set(name, new Map());
    for (const [key, obj] of this.items) this.indexOne(name, fn, key, obj);
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(keyOf(namespace, name));
  }

  list(): T[] {
    return [...this.items.values()];
  }

  listKeys(): string[] {
    return [...this.items.keys()];
  }

  listNamespace(namespace: string): T[] {
    return this.byIndex(NAMESPACE_INDEX, namespace);
  }

  byIndex(indexName: string, value: string): T[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`no index "${indexName}"`);
    return [...(index.get(value) ?? [])].map((key) => this.items.get(key)!);
  }

  indexValues(indexName: string): string[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`no index "${indexName}"`);
    return [...index.keys()];
  }

  size(): number {
    return this.items.size;
  }

  /** Stores obj and returns what it replaced. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) this.indexOne(name, fn, key, obj);
    return old;
  }

  /** Removes the object under key and returns it. */
  remove(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  /** Replaces the whole content with a fresh list and returns the difference. */
  replace(listed: T[]): RelistDiff<T> {
    const diff = diffRelist(this.items, listed);
    for (const obj of diff.deleted) this.remove(objectKey(obj));
    for (const obj of diff.added) this.upsert(obj);
    for (const { newObj } of diff.updated) this.upsert(newObj);
    return diff;
  }

  private indexOne(name: string, fn: IndexFunc<T>, key: string, obj: T): void {
    const index = this.indices.get(name)!;
    for (const value of new Set(fn(obj))) {
      let keys = index.get(value);
      if (!keys) index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      for (const value of new Set(fn(obj))) {
        const keys = index.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(value);
      }
    }
  }
}

/**
 * Compares a cache with a fresh list. An object counts as updated when its resourceVersion
 * differs, so a relist after a reconnect re-delivers only what really changed. An object that
 * was deleted and created again under the same name (new uid) is a delete plus an add.
 */
export function diffRelist<T extends KubernetesObject>(
  cached: ReadonlyMap<string, T>,
  listed: T[],
): RelistDiff<T> {
  const diff: RelistDiff<T> = { added: [], updated: [], deleted: [] };
  const seen = new Set<string>();
  for (const obj of listed) {
    const key = objectKey(obj);
    seen.add(key);
    const old = cached.get(key);
    if (!old) diff.added.push(obj);
    else if (old.metadata?.uid && obj.metadata?.uid && old.metadata.uid !== obj.metadata.uid) {
      diff.deleted.push(old);
      diff.added.push(obj);
    } else if (
      old.metadata?.resourceVersion !== obj.metadata?.resourceVersion ||
      !obj.metadata?.resourceVersion
    )
      diff.updated.push({ oldObj: old, newObj: obj });
  }
  for (const [key, old] of cached) if (!seen.has(key)) diff.deleted.push(old);
  return diff;
}
