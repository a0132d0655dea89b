// The first pass of a leadership term: every app reconciled once by every app controller. A
// resource's status is computed from the results of the apps of its namespace, so it must wait
// for them; it need not wait for other namespaces' apps, and so the status writes of the
// namespaces done overlap the rendering of the rest. Pure bookkeeping.

export class FirstPass {
  /** Namespace -> "controller\0key" pairs still to reconcile. */
  private readonly pending = new Map<string, Set<string>>();

  /** `keysByNamespace`: the app keys ("namespace/appId") queued to each of `controllers`. */
  constructor(keysByNamespace: ReadonlyMap<string, readonly string[]>, controllers: readonly string[]) {
    for (const [namespace, keys] of keysByNamespace) {
      const pairs = new Set<string>();
      for (const c of controllers) for (const k of keys) pairs.add(`${c}\0${k}`);
      if (pairs.size > 0) this.pending.set(namespace, pairs);
    }
  }

  /** Whether what depends on the apps of `namespace` must still wait. */
  holds(namespace: string): boolean {
    return this.pending.has(namespace);
  }

  /** Records a reconcile; true when it was the last one the namespace of `key` waited for. */
  reconciled(controller: string, key: string): boolean {
    const namespace = key.slice(0, key.indexOf("/"));
    const pairs = this.pending.get(namespace);
    if (!pairs?.delete(`${controller}\0${key}`) || pairs.size > 0) return false;
    this.pending.delete(namespace);
    return true;
  }
}
