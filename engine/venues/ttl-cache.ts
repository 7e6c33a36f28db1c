import type { Clock } from '../runtime/clock.ts';

/** Returns values cached for `ttlMs` on the injected clock; concurrent misses share one in-flight load. */
export class TtlCache<K, V> {
  private readonly values = new Map<K, { v: V; at: number }>();
  private readonly inflight = new Map<K, Promise<V>>();
  hits = 0;
  misses = 0;

  constructor(private readonly clock: Clock, private readonly ttlMs: number) {}

  /** Returns the cached value when fresh, else loads it once (errors are not cached). */
  async get(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.values.get(key);
    if (hit && this.clock.now() - hit.at < this.ttlMs) {
      this.hits++;
      return hit.v;
    }
    const pending = this.inflight.get(key);
    if (pending) return pending;
    this.misses++;
    const p = load().then(
      (v) => {
        this.values.set(key, { v, at: this.clock.now() });
        this.inflight.delete(key);
        return v;
      },
      (err: unknown) => {
        this.inflight.delete(key);
        throw err;
      },
    );
    this.inflight.set(key, p);
    return p;
  }

  /** Stores a value pushed from a stream (fresher than any REST answer). */
  put(key: K, v: V): void {
    this.values.set(key, { v, at: this.clock.now() });
  }

  /** Returns the cached value regardless of age, with its age in ms. */
  peek(key: K): { v: V; ageMs: number } | undefined {
    const hit = this.values.get(key);
    return hit ? { v: hit.v, ageMs: this.clock.now() - hit.at } : undefined;
  }
}
