// Shared by candle-cache.test.ts and its kill -9 child: the bundled recording's ETH and BTC trades in receive
// order, a DataProvider over a store's candles cache, and a driver that replays trades onto it on a SimulatedClock.
import { DataProvider, type CobQuery } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Trade } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { CandleCache } from '../../../engine/store/candle-cache.ts';
import type { LmdbStore } from '../../../engine/store/lmdb.ts';
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
