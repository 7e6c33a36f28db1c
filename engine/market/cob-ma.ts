// Time-weighted moving averages of an irregularly sampled value over several windows, O(1) amortised per sample.
//
// A sample (t, v) holds from t until the next sample, so the mean over a window is the integral of that step
// function divided by the covered time. Book updates arrive in bursts: a plain mean of samples would give a
// burst of 50 updates in 100 ms fifty times the weight of the quiet second before it. Before the first sample
// nothing is known, so a window is shortened to start at the first sample (the mean of what was seen).
import type { TsMs } from '../types/time.ts';

/** Windows of the imbalance moving averages: 1 s, 5 s, 15 s, 60 s (DESIGN, COBAggregator). */
export const IMBALANCE_MA_WINDOWS_MS: readonly number[] = [1_000, 5_000, 15_000, 60_000];

// Re-sum the windows exactly every so often, so float error from adding and removing segments cannot build up.
const RESUM_EVERY = 8_192;

/** Time-weighted means of one value over several windows sharing one sample store. */
export class TimeWeightedMeans {
  private t: Float64Array;
  private v: Float64Array;
  private mask: number;
  /** Sequence number of the oldest sample kept and of the next sample to write. */
  private first = 0;
  private next = 0;
  /** Per window: sequence number of its oldest sample and the integral of its closed segments. */
  private readonly heads: number[];
  private readonly sums: Float64Array;
  private readonly longest: number;
  private adds = 0;

  /** Creates the means over `windowsMs` (each a positive number of ms). */
  constructor(readonly windowsMs: readonly number[] = IMBALANCE_MA_WINDOWS_MS, initialCapacity = 1_024) {
    if (windowsMs.length === 0 || windowsMs.some((w) => !(w > 0))) throw new RangeError(`windows ${windowsMs.join(',')} must be positive`);
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.t = new Float64Array(cap);
    this.v = new Float64Array(cap);
    this.mask = cap - 1;
    this.heads = windowsMs.map(() => 0);
    this.sums = new Float64Array(windowsMs.length);
    this.longest = windowsMs.indexOf(Math.max(...windowsMs));
  }

  /** Returns how many samples are kept (those inside the longest window plus one). */
  get size(): number {
    return this.next - this.first;
  }

  /** Adds a sample at `ts`; a timestamp older than the last sample is treated as the last one's. */
  add(ts: TsMs, value: number): void {
    if (this.next > this.first) {
      const last = (this.next - 1) & this.mask;
      const tl = this.t[last]!;
      if (ts < tl) ts = tl;
      const seg = this.v[last]! * (ts - tl);
      for (let w = 0; w < this.sums.length; w++) this.sums[w]! += seg;
    }
    if (this.next - this.first === this.t.length) this.grow();
    const i = this.next & this.mask;
    this.t[i] = ts;
    this.v[i] = value;
    this.next++;
    this.evict(ts);
    if (++this.adds % RESUM_EVERY === 0) this.resum();
  }

  /** Returns the mean over window `w` (index into `windowsMs`) ending at `now`; NaN before the first sample. */
  mean(w: number, now: TsMs): number {
    if (this.next === this.first) return NaN;
    this.evict(now);
    const mask = this.mask;
    const h = this.heads[w]!;
    const last = (this.next - 1) & mask;
    const th = this.t[h & mask]!;
    const tl = this.t[last]!;
    if (now < tl) now = tl;
    const start = Math.max(th, now - this.windowsMs[w]!);
    const span = now - start;
    if (span <= 0) return this.v[last]!;
    const total = this.sums[w]! - this.v[h & mask]! * (start - th) + this.v[last]! * (now - tl);
    return total / span;
  }

  /** Returns the means of every window at `now`, in `windowsMs` order, written into `out` when given. */
  means(now: TsMs, out: number[] = new Array<number>(this.windowsMs.length)): number[] {
    for (let w = 0; w < this.windowsMs.length; w++) out[w] = this.mean(w, now);
    return out;
  }

  /** Drops every sample. */
  clear(): void {
    this.first = this.next = 0;
    this.heads.fill(0);
    this.sums.fill(0);
  }

  // Moves each window's head past segments that ended at or before the window start.
  private evict(now: number): void {
    const mask = this.mask;
    const last = this.next - 1;
    for (let w = 0; w < this.heads.length; w++) {
      const cutoff = now - this.windowsMs[w]!;
      let h = this.heads[w]!;
      let s = this.sums[w]!;
      while (h < last && this.t[(h + 1) & mask]! <= cutoff) {
        s -= this.v[h & mask]! * (this.t[(h + 1) & mask]! - this.t[h & mask]!);
        h++;
      }
      this.heads[w] = h;
      this.sums[w] = s;
    }
    this.first = this.heads[this.longest]!;
  }

  private resum(): void {
    const mask = this.mask;
    for (let w = 0; w < this.heads.length; w++) {
      let s = 0;
      for (let k = this.heads[w]!; k < this.next - 1; k++) s += this.v[k & mask]! * (this.t[(k + 1) & mask]! - this.t[k & mask]!);
      this.sums[w] = s;
    }
  }

  private grow(): void {
    const cap = this.t.length * 2;
    const t = new Float64Array(cap);
    const v = new Float64Array(cap);
    // Keep sequence numbers: copy each kept sample to its slot under the new mask.
    for (let k = this.first; k < this.next; k++) {
      t[k & (cap - 1)] = this.t[k & this.mask]!;
      v[k & (cap - 1)] = this.v[k & this.mask]!;
    }
    this.t = t;
    this.v = v;
    this.mask = cap - 1;
  }
}
