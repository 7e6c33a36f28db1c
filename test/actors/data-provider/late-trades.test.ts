// Trades refused as late. A network stall then a burst (live, or replayed from a recording of one): nothing is lost,
// the trade ids chain, so no reset comes; the 1 s clock closes the stalled seconds as flat bars, the delayed trades
// are refused as late, and the minute still rolled up whole with the wrong volume (23:57 v=46.07 instead of 59.29
// over a 20 s stall at 23:57:10; a 4 s stall already lost 2 trades). Regression tests of the market-data candles
// review (finding 2).
import { describe, expect, it } from 'vitest';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import { loadKlinesCsv } from '../../../engine/market/klines-csv.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle, Trade } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { BinanceFrameDecoder } from '../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';
import { archive, BTC } from './helpers.ts';

const at = (h: number, m: number, s = 0) => Date.UTC(2024, 7, h >= 12 ? 8 : 9, h, m, s);
const ohlcv = (c: Candle | undefined) => c && [c.openTime, c.open, c.high, c.low, c.close, c.volume];

/** The recorded BTC/USDT trades of both days, decoded as the feed publishes them. */
const recorded: Trade[] = (() => {
  const dec = new BinanceFrameDecoder(BTC);
  const files = ['data/recordings/spot_btcusdt_20240808.jsonl.gz', 'data/recordings/spot_btcusdt_20240809.jsonl.gz'];
  return readRecordingLinesSync(files).filter((l) => l.text.startsWith('{"stream":"btcusdt@trade"')).map((l) => {
    const m = dec.decode(l);
    if (m.type !== 'md.trade') throw new Error(`not a trade: ${l.text.slice(0, 80)}`);
    return m;
  });
})();

/** The trades received in [from, to) held back and received at `to` in one burst, in order (nothing lost). */
const stalled = (trades: readonly Trade[], from: number, to: number): Trade[] =>
  trades.map((t) => (t.tsLocal >= from && t.tsLocal < to ? { ...t, tsLocal: to } : t));

interface Run {
  readonly dp: DataProvider;
  readonly published: Record<Timeframe, Candle[]>;
}

/** Delivers `trades` as a feed does (clock set to each receive time, bars closed by the clock); `end` moves the clock on after. */
async function deliver(trades: readonly Trade[], opts: { history?: boolean; end?: number } = {}): Promise<Run> {
  const clock = new SimulatedClock(trades[0]!.tsLocal - 1);
  const bus = new Bus<EngineMsg>();
  const dp = new DataProvider({ bus, clock, primary: 'BTC/USDT', reference: 'BTC/USDT', maintenanceMs: 0, ...(opts.history ? { history: archive } : {}) });
  const published: Record<Timeframe, Candle[]> = { '1s': [], '1m': [], '1h': [], '1d': [] };
  bus.subscribe('md.candle', (m) => void published[m.timeframe].push(m.candle));
  await dp.start();
  for (const t of trades) {
    clock.set(t.tsLocal);
    bus.publish(t);
  }
  if (opts.end !== undefined) for (let t = clock.now() + 1_000; t <= opts.end; t += 1_000) clock.set(t);
  return { dp, published };
}

describe('DataProvider: a trade refused as late', () => {
  it.each([[4], [20]])('leaves out the minute of a %i s stall, and the backfill restores the venue\'s bar', async (stallS) => {
    const clean = await deliver(recorded);
    const r = await deliver(stalled(recorded, at(23, 57, 10), at(23, 57, 10 + stallS)), { history: true });
    const minutes = r.dp.series('BTC/USDT', '1m').tail(12).map((c) => c.openTime);
    await r.dp.maintain();
    const real = new Map(loadKlinesCsv('data/klines/mintanam-ftrade_BTC_USDT-1m.csv.gz', { strict: true }).candles.map((c) => [c.openTime, c]));
    expect(r.dp.stats.lateTrades).toBeGreaterThan(0);
    expect(clean.published['1m'].map((c) => c.openTime)).toContain(at(23, 57));
    expect(r.published['1m'].map(ohlcv)).toEqual(clean.published['1m'].filter((c) => c.openTime !== at(23, 57)).map(ohlcv));
    expect(minutes).not.toContain(at(23, 57));
    expect(ohlcv(r.dp.series('BTC/USDT', '1m').tail(12).find((c) => c.openTime === at(23, 57)))).toEqual(ohlcv(real.get(at(23, 57))));
  }, 30_000);

  // The flat 1s bars of the stall went out before the trades came: they stay (a bus message cannot be taken back).
  it('keeps the flat 1s bars of the stall it already published', async () => {
    const r = await deliver(stalled(recorded, at(23, 57, 10), at(23, 57, 30)));
    const stallSeconds = r.published['1s'].filter((c) => c.openTime >= at(23, 57, 12) && c.openTime < at(23, 57, 28));
    expect(stallSeconds.length).toBe(16);
    expect(stallSeconds.every((c) => c.volume === 0)).toBe(true);
  }, 30_000);

  // A synthetic hour of one trade every 500 ms, the last three seconds of 10:29 received 3 s into 10:30 (the trades
  // after them on time): 10:29 rolled up before they came (the 1 s clock closed its last second), so the hour holding
  // them is left out instead. Every minute of the hour is there: only the late trades make it partial.
  it('leaves out the hour when the minute of the late trade already went out', async () => {
    const H = Date.UTC(2024, 7, 8, 10);
    const M = H + 30 * 60_000;
    const trades: Trade[] = [];
    for (let t = H - 60_000, id = 1; t < H + 62 * 60_000; t += 500, id++) {
      const tsLocal = t >= M - 3_000 && t < M ? M + 3_000 : t + 50;
      trades.push({ type: 'md.trade', venue: 'binance', symbol: 'BTC/USDT', tsExchange: t, tsLocal, tradeId: id, price: 6_100_000 as Ticks, lots: 100 as Lots, buyerMaker: false });
    }
    const clean = await deliver(trades.map((t) => ({ ...t, tsLocal: t.tsExchange + 50 })));
    const late = await deliver([...trades].sort((a, b) => a.tsLocal - b.tsLocal));
    expect(clean.published['1h'].map((c) => c.openTime)).toEqual([H]);
    expect(late.dp.stats.lateTrades).toBe(6);
    // 10:29 went out before its last trades came (a bus message cannot be taken back); every minute is published.
    expect(late.published['1m'].map((c) => c.openTime)).toEqual(clean.published['1m'].map((c) => c.openTime));
    expect(late.published['1h']).toEqual([]);
  }, 30_000);
});
