// Time × price heatmap of the COB, kept incrementally as a ring of one column per second.
//
// How a column is formed: column s holds the LAST snapshot recorded during second s (floor(ts / 1000)), i.e. the
// book as it stood at the end of that second, the way depth heatmaps sample a book. A second with no snapshot
// repeats the previous column (the book did not change, or we did not look) with `samples` 0, so a reader can
// tell carried columns from observed ones. Rows are ±range buckets around that column's own center bucket:
// row r of column c is the absolute bucket `center[c] − range + r`, so a renderer can place every cell at its
// real price even while the mid moves.
import type { TsMs } from '../types/time.ts';
import type { CobSnapshot } from './cob.ts';

/** Heatmap metrics: per-bucket imbalance (bid−ask)/(bid+ask), per-bucket volume bid+ask, bid, ask, and spread. */
export type HeatmapMetric = 'imbalance' | 'volume' | 'bid' | 'ask' | 'spread';

/** Options of a heatmap. */
export interface HeatmapConfig {
  /** Columns kept (default 300 s). */
  readonly seconds?: number;
  /** Buckets on each side of a column's center (default 10: 21 rows); at most the COB range. */
  readonly range?: number;
}

/**
 * One metric as a dense matrix, oldest column first: `values[c * rows + r]`. Per-bucket metrics have
 * 2·range+1 rows; `spread` has one row (quote units).
 */
export interface HeatmapMatrix {
  readonly metric: HeatmapMetric;
  readonly columns: number;
  readonly rows: number;
  /** Start of each column's second (ms). */
  readonly times: Float64Array;
  /** Center bucket of each column (NaN when the book was empty). */
  readonly centers: Float64Array;
  readonly bucketSize: number;
  readonly values: Float32Array;
  /** Snapshots seen in each column's second (0: carried from the previous column). */
  readonly samples: Uint32Array;
}

/** One column of the heatmap: its second, center bucket, spread and per-bucket bid and ask (copies). */
export interface HeatmapColumn {
  /** Start of the column's second (ms). */
  readonly time: number;
  /** Center bucket (NaN when the book was empty). */
  readonly center: number;
  readonly bucketSize: number;
  readonly spread: number;
  /** Snapshots seen in the column's second (0: carried from the previous column). */
  readonly samples: number;
  readonly bid: Float32Array;
  readonly ask: Float32Array;
}

/** A ring of per-second COB columns; `record` is O(rows), `matrix` copies the ring in time order, `column` one column. */
export class CobHeatmap {
  readonly seconds: number;
  readonly range: number;
  readonly rows: number;
  private readonly bid: Float32Array;
  private readonly ask: Float32Array;
  private readonly spread: Float32Array;
  private readonly center: Float64Array;
  private readonly second: Float64Array;
  private readonly samples: Uint32Array;
  private head = -1; // slot of the newest column
  private count = 0;
  private bucketSize = NaN;

  /** Creates an empty heatmap. */
  constructor(cfg: HeatmapConfig = {}) {
    this.seconds = cfg.seconds ?? 300;
    this.range = cfg.range ?? 10;
    if (!Number.isInteger(this.seconds) || this.seconds < 1) throw new RangeError(`heatmap seconds ${this.seconds} must be a positive integer`);
    if (!Number.isInteger(this.range) || this.range < 0) throw new RangeError(`heatmap range ${this.range} must be a non-negative integer`);
    this.rows = 2 * this.range + 1;
    this.bid = new Float32Array(this.seconds * this.rows);
    this.ask = new Float32Array(this.seconds * this.rows);
    this.spread = new Float32Array(this.seconds);
    this.center = new Float64Array(this.seconds);
    this.second = new Float64Array(this.seconds);
    this.samples = new Uint32Array(this.seconds);
  }

  /** Returns how many columns are kept. */
  get length(): number {
    return this.count;
  }

  /** Records a snapshot into its second's column; snapshots older than the newest column are ignored. */
  record(s: CobSnapshot): void {
    if (s.range < this.range) throw new RangeError(`heatmap range ${this.range} exceeds the snapshot range ${s.range}`);
    this.bucketSize = s.bucketSize;
    const sec = Math.floor(s.ts / 1_000);
    if (this.count > 0) {
      const newest = this.second[this.head]!;
      if (sec < newest) return;
      if (sec > newest) {
        // Carry the newest column into skipped seconds (at most a full ring of them).
        const from = Math.max(newest + 1, sec - this.seconds);
        for (let t = from; t < sec; t++) this.openColumn(t, this.head);
        this.openColumn(sec, -1);
      }
    } else {
      this.openColumn(sec, -1);
    }
    const c = this.head;
    const base = c * this.rows;
    const off = s.range - this.range;
    for (let r = 0; r < this.rows; r++) {
      this.bid[base + r] = s.bidBuckets[off + r]!;
      this.ask[base + r] = s.askBuckets[off + r]!;
    }
    this.spread[c] = s.spread;
    this.center[c] = s.centerBucket;
    this.samples[c]!++;
  }

  /** Returns `metric` over the kept columns, oldest first. */
  matrix(metric: HeatmapMetric): HeatmapMatrix {
    const rows = metric === 'spread' ? 1 : this.rows;
    const n = this.count;
    const values = new Float32Array(n * rows);
    const times = new Float64Array(n);
    const centers = new Float64Array(n);
    const samples = new Uint32Array(n);
    for (let j = 0; j < n; j++) {
      const c = (this.head - n + 1 + j + this.seconds) % this.seconds;
      times[j] = this.second[c]! * 1_000;
      centers[j] = this.center[c]!;
      samples[j] = this.samples[c]!;
      if (metric === 'spread') {
        values[j] = this.spread[c]!;
        continue;
      }
      const src = c * this.rows;
      const dst = j * rows;
      for (let r = 0; r < rows; r++) {
        const b = this.bid[src + r]!;
        const a = this.ask[src + r]!;
        values[dst + r] = metric === 'bid' ? b : metric === 'ask' ? a : metric === 'volume' ? b + a : b + a > 0 ? (b - a) / (b + a) : 0;
      }
    }
    return { metric, columns: n, rows, times, centers, bucketSize: this.bucketSize, values, samples };
  }

  /** Returns column `j` (0 = oldest kept, length − 1 = newest), or undefined when out of range; O(rows). */
  column(j: number): HeatmapColumn | undefined {
    if (!Number.isInteger(j) || j < 0 || j >= this.count) return undefined;
    const c = (this.head - this.count + 1 + j + this.seconds) % this.seconds;
    const base = c * this.rows;
    return {
      time: this.second[c]! * 1_000, center: this.center[c]!, bucketSize: this.bucketSize, spread: this.spread[c]!, samples: this.samples[c]!,
      bid: this.bid.slice(base, base + this.rows), ask: this.ask.slice(base, base + this.rows),
    };
  }

  /** Returns the start (ms) of column `j`'s second (0 = oldest), or NaN when out of range; no copy. */
  columnTime(j: number): TsMs {
    if (!Number.isInteger(j) || j < 0 || j >= this.count) return NaN;
    return this.second[(this.head - this.count + 1 + j + this.seconds) % this.seconds]! * 1_000;
  }

  /** Returns the newest column (still forming until a later second is recorded), or undefined when empty. */
  latestColumn(): HeatmapColumn | undefined {
    return this.column(this.count - 1);
  }

  /** Returns the start (ms) of the newest column's second, or NaN when empty. */
  newestTime(): TsMs {
    return this.count === 0 ? NaN : this.second[this.head]! * 1_000;
  }

  // Advances the ring to a new column for second `sec`, copying column `copyFrom` (or zeroing when −1).
  private openColumn(sec: number, copyFrom: number): void {
    const c = (this.head + 1) % this.seconds;
    const base = c * this.rows;
    if (copyFrom >= 0) {
      const src = copyFrom * this.rows;
      this.bid.copyWithin(base, src, src + this.rows);
      this.ask.copyWithin(base, src, src + this.rows);
      this.spread[c] = this.spread[copyFrom]!;
      this.center[c] = this.center[copyFrom]!;
    } else {
      this.bid.fill(0, base, base + this.rows);
      this.ask.fill(0, base, base + this.rows);
      this.spread[c] = NaN;
      this.center[c] = NaN;
    }
    this.second[c] = sec;
    this.samples[c] = 0;
    this.head = c;
    if (this.count < this.seconds) this.count++;
  }
}
