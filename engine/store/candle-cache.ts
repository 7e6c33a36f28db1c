// The candles cache: the DataProvider's closed bars kept in LMDB, so that a restarted daemon gets its series back.
// The 1s series matters most: no venue serves 1s klines, so without it a restart waits ~2 minutes of trades before
// the models may decide again (BaseDataInput needs 100 of 300 frames per series).
//
// Layout: database `candles.bars`, one bar per key [symbol, timeframe, openTime] -> [open, high, low, close, volume,
// trades|null]. One bar per key and no index beside it: a transaction is whole or absent after a kill -9 (LMDB), a
// bar is whole or absent within it, so whatever was last committed reads back as a set of whole bars, and a bar
// that never got written is a hole, as it was in the series. Each save also removes the series' keys outside the
// window it keeps, so the database holds at most the newest `capacity` slots of each series.
//
// Writes go in transactions of at most OPS_PER_TRANSACTION puts and removes: lmdb runs a transaction's callback on
// the main thread, and the first save after a history load (7,400 bars of 1m/1h/1d) took 95 ms in one. Bars being
// independent, a kill between two of them leaves whole bars all the same. A save's transactions after its first are
// issued one commit after another, so a later save's may commit between them: a save skips the keys a later save in
// flight writes or removes (an older version of a bar never lands after a newer one), and a save also removes the
// keys outside its window that an earlier one in flight has yet to write.
import type { Candle } from '../messages/market.ts';
import { StoreError } from '../types/errors.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../types/time.ts';
import { prefixRange, type LmdbStore, type TypedDb } from './lmdb.ts';

/** The database of the candles cache. */
export const CANDLES_DB = 'candles.bars';

/** Puts and removes per write transaction: ~13 µs each here, so under a millisecond of main thread per transaction. */
export const OPS_PER_TRANSACTION = 64;

type BarKey = [string, Timeframe, number];
type BarValue = [number, number, number, number, number, number | null];
/** A put (with a value) or a remove (without). */
type PlannedOp = { key: BarKey; value?: BarValue };

const seriesName = (symbol: string, tf: Timeframe): string => `${symbol}\u0000${tf}`;

/** Bars of one series to write, and the window of open times that series keeps. */
export interface SeriesWrite {
  readonly symbol: string;
  readonly timeframe: Timeframe;
  /** Bars closed or changed since the last save; those outside [keepFromMs, keepToMs] are not written. */
  readonly bars: readonly Candle[];
  /** Oldest open time kept: stored bars opening before it are removed. */
  readonly keepFromMs: TsMs;
  /**
   * Newest open time kept (the DataProvider's: its series' newest bar, or the newest bar closed by now when later):
   * stored bars opening after it (from the future: another time line) are removed.
   */
  readonly keepToMs: TsMs;
}

/** What `restore` read. */
export interface RestoredSeries {
  /** Bars closed at `now` inside the window, oldest first. */
  readonly bars: Candle[];
  /** Stored bars left out: older than the window, not closed at `now`, or not a bar (wrong shape, off the grid). */
  readonly skipped: number;
}

/** Returns the open time of the oldest bar a series of `capacity` bars of `tf` holds at `now` (the newest being the last closed one). */
export function windowStartMs(tf: Timeframe, now: TsMs, capacity: number): TsMs {
  const ms = timeframeMs(tf);
  return Math.floor(now / ms) * ms - capacity * ms;
}

/** The DataProvider's closed bars in LMDB (see the header). */
export class CandleCache {
  private readonly db: TypedDb<BarKey, BarValue>;
  /** Saves started so far: the number of a save orders it against the others in flight. */
  private started = 0;
  /**
   * The keys that saves in flight write or remove, by series (seriesName) then open time, each with the number of the
   * latest save to do so. Indexed by series: a save plans each of its series against that series' claims only (a scan
   * of every claim per series took 0.8 s of main thread with 30 symbols while a history load's save was in flight).
   */
  private readonly claimed = new Map<string, Map<number, number>>();

  constructor(private readonly store: LmdbStore) {
    this.db = store.db<BarKey, BarValue>(CANDLES_DB);
  }

  /**
   * Returns the stored bars of `symbol`/`tf` a series of `capacity` bars can use at `now`: those closed by `now`
   * and no older than the window of its newest `capacity` slots. Holes stay holes: nothing is filled in.
   */
  restore(symbol: string, tf: Timeframe, now: TsMs, capacity: number): RestoredSeries {
    const ms = timeframeMs(tf);
    const from = windowStartMs(tf, now, capacity);
    const bars: Candle[] = [];
    let skipped = 0;
    for (const { key, value } of this.db.entries(prefixRange([symbol, tf]))) {
      const openTime = key[2];
      const c = openTime >= from && openTime + ms <= now && openTime % ms === 0 ? toCandle(openTime, value) : undefined;
      if (c === undefined) skipped++;
      else bars.push(c);
    }
    return { bars, skipped };
  }

  /** Returns how many bars of `symbol`/`tf` are stored. */
  count(symbol: string, tf: Timeframe): number {
    return this.db.count(prefixRange([symbol, tf]));
  }

  /**
   * Writes the bars of every series in `writes` and removes each series' stored bars outside its window, in
   * transactions of at most OPS_PER_TRANSACTION writes; resolves once the last has committed. Rejects with a
   * StoreError when the store is closed or a write fails (the transactions before it stay committed). Await it before
   * closing the store: each transaction after the first is issued at the previous one's commit, and a closed store
   * refuses it. Saves may overlap: a key that a save started later also writes or removes is left to that one.
   */
  async save(writes: readonly SeriesWrite[]): Promise<void> {
    for (const w of writes) {
      if (!(w.keepFromMs <= w.keepToMs)) throw new RangeError(`candles cache ${w.symbol} ${w.timeframe}: window ${w.keepFromMs}..${w.keepToMs} is empty`);
    }
    if (this.store.isClosed) throw new StoreError(`store ${this.store.path} is closed: cannot write to ${CANDLES_DB}`);
    // The keys to remove are read now: a later save's bars, written while these transactions wait, are not among them.
    const ops = writes.flatMap((w) => this.plan(w));
    const save = ++this.started;
    for (const op of ops) this.claimsOf(op.key[0], op.key[1]).set(op.key[2], save);
    try {
      for (let i = 0; i < ops.length; i += OPS_PER_TRANSACTION) await this.commit(writes, ops, i, save);
    } finally {
      this.release(ops, save);
    }
  }

  // The claims of one series, created empty when it has none.
  private claimsOf(symbol: string, tf: Timeframe): Map<number, number> {
    const name = seriesName(symbol, tf);
    let claims = this.claimed.get(name);
    if (claims === undefined) this.claimed.set(name, (claims = new Map()));
    return claims;
  }

  // Drops the claims `save` still holds (a later save's stay), and the series left without any.
  private release(ops: readonly PlannedOp[], save: number): void {
    for (const { key } of ops) {
      const name = seriesName(key[0], key[1]);
      const claims = this.claimed.get(name);
      if (claims?.get(key[2]) === save) claims.delete(key[2]);
      if (claims?.size === 0) this.claimed.delete(name);
    }
  }

  // One transaction: the ops from `from` on (at most OPS_PER_TRANSACTION) whose key no later save claimed. The claims
  // are read inside the transaction, where the order of commits is settled.
  private async commit(writes: readonly SeriesWrite[], ops: readonly PlannedOp[], from: number, save: number): Promise<void> {
    const to = Math.min(ops.length, from + OPS_PER_TRANSACTION);
    try {
      await this.db.transaction(() => {
        for (let j = from; j < to; j++) {
          const op = ops[j]!;
          if (this.claimed.get(seriesName(op.key[0], op.key[1]))?.get(op.key[2]) !== save) continue;
          void (op.value === undefined ? this.db.remove(op.key) : this.db.put(op.key, op.value));
        }
      });
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(`candles cache: cannot write ${writes.map((w) => `${w.symbol} ${w.timeframe}`).join(', ')}: ${(err as Error).message}`, { cause: err });
    }
  }

  // The removals of the keys on either side of the window, stored or still to be written by a save in flight, then
  // the puts of the window's bars.
  private plan(w: SeriesWrite): PlannedOp[] {
    const { start, end } = prefixRange([w.symbol, w.timeframe]);
    const outside = new Set<number>();
    for (const key of this.db.keys({ start, end: [w.symbol, w.timeframe, w.keepFromMs] })) outside.add(key[2]);
    for (const key of this.db.keys({ start: [w.symbol, w.timeframe, w.keepToMs + 1], end })) outside.add(key[2]);
    for (const openTime of this.claimed.get(seriesName(w.symbol, w.timeframe))?.keys() ?? []) {
      if (openTime < w.keepFromMs || openTime > w.keepToMs) outside.add(openTime);
    }
    const ops: PlannedOp[] = [...outside].map((openTime) => ({ key: [w.symbol, w.timeframe, openTime] }));
    for (const c of w.bars) {
      if (c.openTime < w.keepFromMs || c.openTime > w.keepToMs) continue;
      ops.push({ key: [w.symbol, w.timeframe, c.openTime], value: [c.open, c.high, c.low, c.close, c.volume, c.trades ?? null] });
    }
    return ops;
  }
}

// A stored value as a closed bar, or undefined when it is not one (written by another version, or damaged).
function toCandle(openTime: number, v: unknown): Candle | undefined {
  if (!Array.isArray(v) || v.length !== 6) return undefined;
  const [open, high, low, close, volume, trades] = v as unknown[];
  const nums = [open, high, low, close, volume];
  if (!nums.every((x) => typeof x === 'number' && Number.isFinite(x))) return undefined;
  if (trades !== null && !(typeof trades === 'number' && Number.isInteger(trades) && trades >= 0)) return undefined;
  const bar = { openTime, open: open as number, high: high as number, low: low as number, close: close as number, volume: volume as number, closed: true };
  return trades === null ? bar : { ...bar, trades: trades as number };
}
