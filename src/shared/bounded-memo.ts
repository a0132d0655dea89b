// A bounded memo for pure functions. Callers key it by the function's whole input, so an entry
// is never stale, only evicted: once full, the oldest entry goes first.

export class BoundedMemo<V> {
  readonly #entries = new Map<string, V>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  /** Stores `value` under `key` and returns it. */
  set(key: string, value: V): V {
    if (this.#entries.size >= this.#capacity && !this.#entries.has(key))
      this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, value);
    return value;
  }

  get size(): number {
    return this.#entries.size;
  }
}
