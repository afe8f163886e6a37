/**
 * A Map of at most `capacity` entries, for a process's hints about ids (customer ids known merged, anonymous ids seen
 * full or given their expiry today): when a new key would pass the capacity, the oldest quarter (by insertion) is
 * forgotten first. Forgetting a hint only costs the work it saved, never a result.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  /** Sets `key` (an existing key keeps its place); a new key in a full map first forgets the oldest quarter. */
  set(key: K, value: V): void {
    if (this.map.size >= this.capacity && !this.map.has(key)) {
      let n = Math.max(1, Math.floor(this.capacity / 4));
      for (const old of this.map.keys()) {
        if (n-- <= 0) break;
        this.map.delete(old);
      }
    }
    this.map.set(key, value);
  }

  delete(key: K): void {
    this.map.delete(key);
  }
}
