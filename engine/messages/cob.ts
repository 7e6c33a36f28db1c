import type { CobSnapshot } from '../market/cob.ts';
import type { TsMs } from '../types/time.ts';

/** The consolidated book of one symbol at `ts` (published at `cob.publishHz`, 10 Hz by default). */
export interface CobSnapshotMsg {
  readonly type: 'cob.snapshot';
  readonly symbol: string;
  readonly ts: TsMs;
  /** Buckets, imbalance and its moving averages; shared with readers, never mutated. */
  readonly cob: CobSnapshot;
}

/**
 * One finished heatmap column (one second) of a symbol: rows are the ±range buckets around `center`
 * (row r is the absolute bucket `center − range + r`); `samples` 0 means the column carried the previous one.
 */
export interface CobHeatmapMsg {
  readonly type: 'cob.heatmap';
  readonly symbol: string;
  readonly ts: TsMs;
  /** Start of the column's second (ms). */
  readonly time: TsMs;
  readonly center: number;
  readonly bucketSize: number;
  readonly range: number;
  readonly bid: Float32Array;
  readonly ask: Float32Array;
  /** Spread (quote units) of the column's last snapshot. */
  readonly spread: number;
  readonly samples: number;
}

/** Every COB message. */
export type CobMsg = CobSnapshotMsg | CobHeatmapMsg;
