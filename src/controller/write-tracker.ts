// Remembers writes whose watch event has not reached the cache yet.
//
// After a write, the informer's cache holds the old object until the watch delivers the new
// one. A reconcile that runs in between would see a difference and write again, a redundant
// write that fails with 409 at best. So each write records what it wrote; until the cache
// shows that resourceVersion, a reconcile that wants the same content skips the write.
// Once the cache has caught up the entry is dropped, so later changes by others are compared
// against the cache as usual and repaired.
export class WriteTracker {
  private readonly pending = new Map<string, { resourceVersion: string; fingerprint: string }>();

  recordWrite(key: string, resourceVersion: string | undefined, fingerprint: string): void {
    if (resourceVersion) this.pending.set(key, { resourceVersion, fingerprint });
  }

  /** Call for every object the cache receives. */
  observe(key: string, resourceVersion: string | undefined): void {
    if (this.pending.get(key)?.resourceVersion === resourceVersion) this.pending.delete(key);
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
    return this.pending.get(key)?.fingerprint === fingerprint;
  }
}
