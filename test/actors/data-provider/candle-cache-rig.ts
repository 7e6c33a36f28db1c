// Shared by the candles cache tests and the kill -9 child: the bundled recording's ETH and BTC trades in receive
// order, a DataProvider over a store's candles cache, a driver that replays trades onto it on a SimulatedClock, and
// the series a provider holds and a store keeps, in the cache's own terms.
import { DataProvider, type CobQuery } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Trade } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { CANDLES_DB, CandleCache } from '../../../engine/store/candle-cache.ts';
import { LmdbStore, prefixRange } from '../../../engine/store/lmdb.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { TIMEFRAMES } from '../../../actors/data-provider/logic.ts';
import { BinanceFrameDecoder, classifyFrame } from '../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';
import { archive, BTC, ETH } from './helpers.ts';

let cached: Trade[] | undefined;

/** Returns the trades of the bundled ETH and BTC recordings (2024-08-08 23:54:13 to ~00:05), in receive order. */
export function recordedTrades(): Trade[] {
  if (cached) return cached;
  const out: Trade[] = [];
  for (const [inst, sym] of [[ETH, 'ethusdt'], [BTC, 'btcusdt']] as const) {
    const dec = new BinanceFrameDecoder(inst);
    const files = [`data/recordings/spot_${sym}_20240808.jsonl.gz`, `data/recordings/spot_${sym}_20240809.jsonl.gz`];
    for (const l of readRecordingLinesSync(files)) {
      if (classifyFrame(l.text) !== 'trade') continue;
      const m = dec.decode(l);
      if (m.type === 'md.trade') out.push(m);
    }
  }
  cached = out.sort((a, b) => a.tsLocal - b.tsLocal);
  return cached;
}

/** What a rig provider is built with. */
export interface RigOptions {
  /** Its candles cache's store. */
  readonly store?: LmdbStore;
  readonly cob?: CobQuery;
  /** Load and backfill klines from the bundled archive (default true). */
  readonly history?: boolean;
}

/** A provider on a SimulatedClock at `now`, with the kline archive as history and, given a store, its candles cache. */
export function rigProvider(now: number, o: RigOptions = {}): { dp: DataProvider; clock: SimulatedClock; bus: Bus<EngineMsg> } {
  const clock = new SimulatedClock(now);
  const bus = new Bus<EngineMsg>();
  const dp = new DataProvider({
    bus, clock, maintenanceMs: 0, ...(o.history === false ? {} : { history: archive }), ...(o.cob ? { cob: o.cob } : {}),
    ...(o.store ? { candleCache: new CandleCache(o.store) } : {}),
  });
  return { dp, clock, bus };
}

/**
 * Publishes the recorded trades received in [from, to), moving the clock to each one's receive time; calls `each`
 * with every whole second passed (the clock set to it) before that second's trades.
 */
export function replayTrades(rig: { clock: SimulatedClock; bus: Bus<EngineMsg> }, from: number, to: number, each?: (second: number) => void): void {
  let second = Math.ceil(from / 1_000) * 1_000;
  for (const t of recordedTrades()) {
    if (t.tsLocal < from) continue;
    if (t.tsLocal >= to) break;
    for (; second <= t.tsLocal; second += 1_000) {
      rig.clock.set(second);
      each?.(second);
    }
    rig.clock.set(t.tsLocal);
    rig.bus.publish(t);
  }
  rig.clock.set(to);
}

/** A stored bar's value, as the candles cache writes it. */
export type BarValue = [open: number, high: number, low: number, close: number, volume: number, trades: number | null];
/** A bar as one row: its open time, then its stored value. */
export type BarRow = [openTime: number, ...BarValue];

/** Every series of `dp` by name (`SYMBOL tf`), as it holds it now, in the cache's own terms (one row per bar). */
export function seriesOf(dp: DataProvider): Record<string, BarRow[]> {
  const out: Record<string, BarRow[]> = {};
  for (const sym of dp.symbols) {
    for (const tf of TIMEFRAMES) {
      out[`${sym} ${tf}`] = dp.series(sym, tf).tail(1_500).map((c) => [c.openTime, c.open, c.high, c.low, c.close, c.volume, c.trades ?? null]);
    }
  }
  return out;
}

/** Every bar the store at `path` (opened here, closed before returning) holds of each series named in `names`. */
export async function storedIn(path: string, names: readonly string[]): Promise<Record<string, BarRow[]>> {
  const store = LmdbStore.open({ path, noSync: true });
  const db = store.db<[string, Timeframe, number], BarValue>(CANDLES_DB);
  const out: Record<string, BarRow[]> = {};
  for (const name of names) {
    const [sym, tf] = name.split(' ') as [string, Timeframe];
    out[name] = [...db.entries(prefixRange([sym, tf]))].map(({ key, value }) => [key[2], ...value]);
  }
  await store.close();
  return out;
}
