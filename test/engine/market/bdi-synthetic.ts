// Synthetic BaseDataInput sources for the validation and packing edge cases (stale, holey, malformed series).
import { expect } from 'vitest';
import { assembleBaseDataInput, BdiAssembler, BDI_FRAMES, BDI_SECTIONS, SERIES_FEATURES, type BaseDataInput, type BdiSources } from '../../../engine/market/base-data-input.ts';
import { CandleSeries } from '../../../engine/market/candles.ts';
import type { CobSnapshot } from '../../../engine/market/cob.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { timeframeMs, type Timeframe } from '../../../engine/types/time.ts';

export const NOW = Date.UTC(2024, 7, 9, 12, 30, 0, 500);

/** A clean random walk of n bars whose newest closed at or before `now`. */
export function bars(tf: Timeframe, now: number, n: number, px = 2600, seed = 1): Candle[] {
  const ms = timeframeMs(tf);
  const last = Math.floor(now / ms) * ms - ms;
  const out: Candle[] = [];
  let p = px;
  let s = seed;
  const rnd = (): number => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  for (let i = n - 1; i >= 0; i--) {
    const o = p;
    const c = p * (1 + (rnd() - 0.5) * 0.004);
    out.push({ openTime: last - i * ms, open: o, high: Math.max(o, c) * 1.001, low: Math.min(o, c) * 0.999, close: c, volume: 1 + rnd() * 10, closed: true });
    p = c;
  }
  return out;
}

function series(tf: Timeframe, bs: readonly Candle[]): CandleSeries {
  const s = new CandleSeries(tf);
  s.pushAll(bs);
  return s;
}

function cob(now: number, mid: number): CobSnapshot {
  return {
    symbol: 'ETH/USDT', ts: now, bestBid: mid - 0.5, bestAsk: mid + 0.5, mid, spread: 1, spreadBps: 1 / mid * 1e4, bucketSize: 1, range: 20,
    centerBucket: Math.floor(mid), bidBuckets: new Float64Array(41).fill(1), askBuckets: new Float64Array(41).fill(1), imbalance: 0, imbalanceNear: 0,
    imbalanceRange: 5, imbalanceMa: [0, 0, 0, 0], maWindowsMs: [1e3, 5e3, 15e3, 6e4],
    venues: [{ venue: 'binance', live: true, stale: false, ageMs: 10 }], flags: { noLiveVenue: false, emptyBid: false, emptyAsk: false },
  } as unknown as CobSnapshot;
}

/** Sources at `now` with 400 clean bars per series, any of them replaced by `edit`. */
export function world(now: number, edit: Partial<Record<Timeframe | 'ref', Candle[]>> = {}): BdiSources {
  const p1s = edit['1s'] ?? bars('1s', now, 400);
  const p = (tf: Timeframe): CandleSeries => series(tf, edit[tf] ?? bars(tf, now, 400));
  return {
    now, primary: { '1s': series('1s', p1s), '1m': p('1m'), '1h': p('1h'), '1d': p('1d') },
    reference1s: series('1s', edit.ref ?? bars('1s', now, 400, 60000, 7)), cob: cob(now, p1s[p1s.length - 1]!.close),
  };
}

/** Assembles `src` from scratch and through a BdiAssembler, and checks that both give the same bytes and validation. */
export function assembleBoth(src: BdiSources): BaseDataInput {
  const full = assembleBaseDataInput(src);
  const inc = new BdiAssembler().assemble(src);
  expect(Array.from(inc.data)).toEqual(Array.from(full.data));
  expect(inc.validation).toEqual(full.validation);
  return full;
}

/** One feature (0 open … 5 present) of series `si` (SERIES_NAMES order) over the 300 frames. */
export const column = (data: Float32Array, si: number, f: number): number[] =>
  Array.from({ length: BDI_FRAMES }, (_, t) => data[t * SERIES_FEATURES + si * 6 + f]!);

export const pivots = (data: Float32Array): number[] =>
  Array.from(data.subarray(BDI_SECTIONS.pivots.offset, BDI_SECTIONS.pivots.offset + BDI_SECTIONS.pivots.length));
