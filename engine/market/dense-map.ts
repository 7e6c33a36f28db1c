// An integer-keyed map of numbers for order-book levels (price in ticks -> lots) and COB buckets (bucket -> summed
// lots): a dense window of `width` consecutive keys held in a Float64Array, plus a Map for the keys outside it.
// Near the touch, where almost every depth update lands (96% of the recorded BTC updates are within ±32k ticks of the
// mid, ~99% for ETH), a get or set is an array access instead of a hash operation; the far levels Binance also sends
// stay correct in the Map. The owner keeps the window around the keys it cares about (`near`, `recenter`).
// 0 means absent: a stored value is never 0 (a level of 0 lots is a deleted level; an empty bucket holds nothing).

/** Keys per window by default: 65,536 (±327 USD of 0.01 ticks; ±327k USD of 10-USD buckets). */
export const DENSE_WINDOW = 1 << 16;

const BLOCK_BITS = 6;
const BLOCK = 1 << BLOCK_BITS;

/** See the header. */
export class DenseMap {
  private win: Float64Array | undefined;
  /** Key of `win[0]`; NaN until the first value is stored (then the window is placed around that key). */
  private base = NaN;
  /** Non-zero values inside the window. */
  private inWindow = 0;
  private readonly outer = new Map<number, number>();
  /**
   * With `trackBlocks`, the window's sums per block of BLOCK keys (block i >> BLOCK_BITS), so `sumRange` over a wide
   * range adds blocks instead of keys. False in `blocksExact` once a block sum passed 2^53 (rounded from there on).
   */
  private blocks: Float64Array | undefined;
  /** The same for the keys outside the window, per block floor(k / BLOCK): the COB's widest window reaches there. */
  private outerBlocks: Map<number, number> | undefined;
  private blocksExact = true;

  constructor(private readonly width = DENSE_WINDOW) {
    if (!Number.isInteger(width) || width < 8) throw new RangeError(`dense map width ${width} must be an integer >= 8`);
  }

  /** How many keys hold a non-zero value. */
  get size(): number {
    return this.inWindow + this.outer.size;
  }

  /** Returns the value at `k`, 0 when absent. */
  get(k: number): number {
    const i = k - this.base;
    if (i >= 0 && i < this.width) return this.win![i]!;
    return this.outer.get(k) ?? 0;
  }

  /** Stores `v` at `k` (0 removes it) and returns the value it replaced (0 when absent). */
  set(k: number, v: number): number {
    if (Number.isNaN(this.base)) {
      if (v === 0) return 0;
      this.place(k);
    }
    const i = k - this.base;
    if (i >= 0 && i < this.width) {
      const w = this.win!;
      const old = w[i]!;
      w[i] = v;
      const bs = this.blocks;
      if (bs !== undefined && v !== old && Math.abs((bs[i >> BLOCK_BITS]! += v - old)) > Number.MAX_SAFE_INTEGER) this.blocksExact = false;
      if (old === 0) {
        if (v !== 0) this.inWindow++;
      } else if (v === 0) this.inWindow--;
      return old;
    }
    const outer = this.outer;
    const old = outer.get(k) ?? 0;
    if (v === 0) {
      if (old !== 0) outer.delete(k);
    } else outer.set(k, v);
    if (this.outerBlocks !== undefined && v !== old) this.addOuterBlock(k, v - old);
    return old;
  }

  /** Adds `delta` to the value at `k` (a sum reaching 0 removes the key) and returns the new value. */
  add(k: number, delta: number): number {
    const v = this.get(k) + delta;
    if (delta !== 0) this.set(k, v);
    return v;
  }

  /** Writes the values of keys `from`..`from + out.length - 1` into `out` (0 for absent keys). */
  readRange(from: number, out: Float64Array): void {
    const i = from - this.base;
    const n = out.length;
    if (i >= 0 && i + n <= this.width) {
      out.set(this.win!.subarray(i, i + n));
      return;
    }
    for (let k = 0; k < n; k++) out[k] = this.get(from + k);
  }

  /**
   * Returns the sum of the values at keys `from`..`to` (0 when from > to). The window's part is one pass over its array,
   * by blocks where they are kept (`trackBlocks`): the COB sums thousands of prices of a wide bucket per snapshot, and
   * a `get` per key was most of its cost. Keys outside the window are looked up (by blocks too where kept), or the Map
   * is scanned when it holds fewer keys than that would take lookups.
   */
  sumRange(from: number, to: number): number {
    if (from > to || Number.isNaN(this.base)) return 0;
    const i = Math.max(from - this.base, 0);
    const j = Math.min(to - this.base, this.width - 1);
    let s = 0;
    if (this.inWindow > 0 && i <= j) {
      const w = this.win!;
      const bs = this.blocks;
      let k = i;
      if (bs !== undefined && this.blocksExact && j - i >= 2 * BLOCK) {
        // Keys up to the first block boundary, whole blocks, then the keys after the last whole block.
        for (; (k & (BLOCK - 1)) !== 0; k++) s += w[k]!;
        for (; k + BLOCK - 1 <= j; k += BLOCK) s += bs[k >> BLOCK_BITS]!;
      }
      for (; k <= j; k++) s += w[k]!;
    }
    const outer = this.outer;
    if (outer.size === 0) return s;
    const lo = this.base;
    const hi = this.base + this.width - 1;
    const outside = to - from + 1 - Math.max(0, j - i + 1);
    if (outside <= 0) return s;
    // Lookups cost about a key each (a block each with block sums), a scan of the Map one per key it holds.
    const lookups = this.outerBlocks !== undefined && this.blocksExact ? Math.min(outside, 4 * BLOCK + outside / BLOCK) : outside;
    if (lookups <= outer.size) {
      if (from < lo) s += this.sumOuter(from, Math.min(to, lo - 1));
      if (to > hi) s += this.sumOuter(Math.max(from, hi + 1), to);
    } else {
      for (const [k, v] of outer) if (k >= from && k <= to) s += v;
    }
    return s;
  }

  // Sums keys a..b, all outside the window: by blocks where they are kept, key by key at the ends.
  private sumOuter(a: number, b: number): number {
    const outer = this.outer;
    const ob = this.outerBlocks;
    let s = 0;
    let k = a;
    if (ob !== undefined && this.blocksExact && b - a >= 2 * BLOCK) {
      const first = Math.ceil(a / BLOCK) * BLOCK;
      for (; k < first; k++) s += outer.get(k) ?? 0;
      for (; k + BLOCK - 1 <= b; k += BLOCK) s += ob.get(k / BLOCK) ?? 0;
    }
    for (; k <= b; k++) s += outer.get(k) ?? 0;
    return s;
  }

  private addOuterBlock(k: number, delta: number): void {
    const ob = this.outerBlocks!;
    const b = Math.floor(k / BLOCK);
    const v = (ob.get(b) ?? 0) + delta;
    if (v === 0) ob.delete(b);
    else ob.set(b, v);
    if (Math.abs(v) > Number.MAX_SAFE_INTEGER) this.blocksExact = false;
  }

  /** Returns the largest key below `k` inside the window, if `k` is in the window and one is; undefined otherwise. */
  below(k: number): number | undefined {
    const start = k - this.base - 1;
    if (!(start >= 0 && start < this.width) || this.inWindow === 0) return undefined;
    const w = this.win!;
    for (let i = start; i >= 0; i--) if (w[i] !== 0) return this.base + i;
    return undefined;
  }

  /** Returns the smallest key above `k` inside the window, if `k` is in the window and one is; undefined otherwise. */
  above(k: number): number | undefined {
    const start = k - this.base + 1;
    if (!(start >= 1 && start <= this.width) || this.inWindow === 0) return undefined;
    const w = this.win!;
    for (let i = start; i < this.width; i++) if (w[i] !== 0) return this.base + i;
    return undefined;
  }

  /**
   * Calls `fn` for the window's keys with a value from `from` on, stepping by `step` (+1 up, -1 down), until `fn`
   * returns false (then returns false) or the window ends or holds no more values that way (then returns true).
   * `limit` bounds how many values are visited (the caller's count of those lying that way).
   */
  walkWindow(from: number, step: 1 | -1, limit: number, fn: (k: number, v: number) => boolean): boolean {
    const w = this.win;
    if (w === undefined || this.inWindow === 0) return true;
    let i = from - this.base;
    if (i < 0) {
      if (step < 0) return true;
      i = 0;
    } else if (i >= this.width) {
      if (step > 0) return true;
      i = this.width - 1;
    }
    for (let seen = 0; seen < limit && i >= 0 && i < this.width; i += step) {
      const v = w[i]!;
      if (v === 0) continue;
      seen++;
      if (!fn(this.base + i, v)) return false;
    }
    return true;
  }

  /** Number of keys with a value inside the window. */
  get windowSize(): number {
    return this.inWindow;
  }

  /** Returns the keys with a value outside the window, in no order. */
  outerKeys(): number[] {
    return [...this.outer.keys()];
  }

  /** True when `k` lies in the middle three quarters of the window: far enough from its edges to need no move. */
  near(k: number): boolean {
    const i = k - this.base;
    return i >= this.width / 8 && i < this.width - this.width / 8;
  }

  /** Moves the window to be centred on `k`, carrying every value over (O(width + size); rare). */
  recenter(k: number): void {
    if (Number.isNaN(this.base)) return;
    const keys: number[] = [];
    const vals: number[] = [];
    this.forEach((key, v) => {
      keys.push(key);
      vals.push(v);
    });
    this.clear();
    this.place(k);
    for (let j = 0; j < keys.length; j++) this.set(keys[j]!, vals[j]!);
  }

  /** Calls `fn` for every key with a value: the window's in ascending order, then the others (in no order). */
  forEach(fn: (k: number, v: number) => void): void {
    const w = this.win;
    if (w !== undefined && this.inWindow > 0) {
      for (let i = 0, seen = 0; i < this.width && seen < this.inWindow; i++) {
        const v = w[i]!;
        if (v !== 0) {
          seen++;
          fn(this.base + i, v);
        }
      }
    }
    for (const [k, v] of this.outer) fn(k, v);
  }

  /** Returns every key with a value (window keys ascending first, then the others). */
  keys(): number[] {
    const out: number[] = [];
    this.forEach((k) => void out.push(k));
    return out;
  }

  /** Removes every value; the next stored value places the window again. */
  clear(): void {
    if (this.inWindow > 0) this.win!.fill(0);
    // Always: a rounded block sum may hold a residue with the window empty.
    this.blocks?.fill(0);
    this.outerBlocks?.clear();
    this.blocksExact = true;
    this.inWindow = 0;
    this.outer.clear();
    this.base = NaN;
  }

  /**
   * Keeps, from now on, the window's sums per block of BLOCK keys for `sumRange` (an order book side the COB reads
   * cut buckets of: a BTC $50 bucket is 5,000 keys). Costs one more array add per `set` inside the window, one more
   * Map update per `set` outside it.
   */
  trackBlocks(): void {
    this.blocks ??= new Float64Array(Math.ceil(this.width / BLOCK));
    this.blocks.fill(0);
    this.outerBlocks ??= new Map();
    this.outerBlocks.clear();
    this.blocksExact = true;
    for (const [k, v] of this.outer) this.addOuterBlock(k, v);
    const w = this.win;
    if (w === undefined || this.inWindow === 0) return;
    for (let i = 0; i < this.width; i++) {
      if (w[i] !== 0 && Math.abs((this.blocks[i >> BLOCK_BITS]! += w[i]!)) > Number.MAX_SAFE_INTEGER) this.blocksExact = false;
    }
  }

  private place(k: number): void {
    this.base = k - this.width / 2;
    this.win ??= new Float64Array(this.width);
  }
}
