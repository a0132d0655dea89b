// Remembers writes whose watch event has not reached the cache yet.
//
// After a write, the informer's cache holds the old object until the watch delivers the new
// one. A reconcile that runs in between would see a difference and write again, a redundant
// write that fails with 409 at best. So each write records what it wrote; until the cache
// shows that resourceVersion, a reconcile that wants the same content skips the write.
// Once the cache has caught up the entry is dropped, so later changes by others are compared
// against the cache as usual and repaired.
//
// The event that brings our write back (its echo) holds nothing the writing reconcile had not
// seen, so it need not run that reconcile again, unless another reconcile of the same object
// ran in between and acted on the stale cache (wanted other content, or found nothing to
// delete): then the echo is what lets it look again.
interface Pending {
  resourceVersion: string;
  fingerprint: string;
  /** A reconcile acted on the cache while this write was on its way. */
  behind: boolean;
}

export class WriteTracker {
  private readonly pending = new Map<string, Pending>();

  recordWrite(key: string, resourceVersion: string | undefined, fingerprint: string): void {
    if (resourceVersion) this.pending.set(key, { resourceVersion, fingerprint, behind: false });
  }

  /**
   * Call for every object the cache receives. Returns whether it is the echo of our own write
   * that no reconcile needs to see again.
   */
  observe(key: string, resourceVersion: string | undefined): boolean {
    const p = this.pending.get(key);
    if (!p || resourceVersion === undefined || p.resourceVersion !== resourceVersion) return false;
    this.pending.delete(key);
    return !p.behind;
  }

  /** Writes still waiting for the cache. */
  size(): number {
    return this.pending.size;
  }

  forget(key: string): void {
    this.pending.delete(key);
  }

  /** Whether we wrote exactly this content and the cache has not caught up yet. */
  alreadyWritten(key: string, fingerprint: string): boolean {
    const p = this.pending.get(key);
    if (!p) return false;
    if (p.fingerprint === fingerprint) return true;
    p.behind = true;
    return false;
  }

  /** A reconcile acted on the cache while a write to key was on its way (see above). */
  readBehind(key: string): void {
    const p = this.pending.get(key);
    if (p) p.behind = true;
  }
}
