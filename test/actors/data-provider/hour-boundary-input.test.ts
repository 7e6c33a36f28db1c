// Serving and training see the same input at an hour (day) boundary. Training (replayBaseDataInputs) runs maintenance
// 10 s after each 1m close, so at H:00:10 the hour just closed is backfilled; a running engine's 60 s maintenance runs
// at its own phase, so the roll-up alone must hold that hour by then: it closes with the hour's last minute, not the
// next one (~H:01:00). Before, the live 1h newest bar was H-2 for up to a minute after each hour (review r3: 1499 of
// 5450 CNN input floats differed at 14:00:10).
import { describe, expect, it } from 'vitest';
import { lowerBound } from '../../../actors/data-provider/klines-archive.ts';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import { BDI_LENGTH } from '../../../engine/market/base-data-input.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Candle, Trade } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { DECISION_LAG_MS, replayBaseDataInputs } from '../../../models/train/bdi-dataset.ts';
import { archive } from './helpers.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const sym = 'ETH/USDT';
const grid = archive.all(sym, '1m');

/** The row training packs at `decision`, and the one a running engine (maintenance every 60 s at `phase` s after each close) holds then. */
async function rows(decision: number, phaseS: number): Promise<{ train: Float32Array; live: Float32Array; live1h: number; live1d: number }> {
  let train: Float32Array | undefined;
  await replayBaseDataInputs(archive, sym, grid, Float64Array.of(decision), 120, (bdi) => void (train = bdi.slice()));
  const close = decision - DECISION_LAG_MS;
  // Started mid-hour: the hour in progress rolls up whole from its minutes and so does the day. Started on the hour,
  // the hour just closed comes by backfill, outside the roll-up, and the day then waits for maintenance (as before).
  const clock = new SimulatedClock(close - 150 * MIN);
  const bus = new Bus();
  const dp = new DataProvider({ bus, clock, primary: sym, reference: sym, history: archive, maintenanceMs: 0 });
  await dp.start();
  try {
    for (let i = lowerBound(grid, dp.series(sym, '1m').last()!.openTime + 1); grid[i]!.openTime + MIN <= close; i++) {
      const at = grid[i]!.openTime + MIN;
      clock.set(at);
      bus.publish({ type: 'md.candle', venue: 'binance', symbol: sym, timeframe: '1m', candle: { ...grid[i]!, closed: true }, tsExchange: at, tsLocal: at });
      if (at < close) {
        clock.set(at + phaseS * 1_000);
        await dp.maintain();
      }
    }
    clock.set(decision);
    const live = dp.assembleInput(new Float32Array(BDI_LENGTH)).data.slice();
    return { train: train!, live, live1h: dp.series(sym, '1h').last()!.openTime, live1d: dp.series(sym, '1d').last()!.openTime };
  } finally {
    await dp.stop();
  }
}

describe('DataProvider: the input at an hour boundary equals training\'s', () => {
  it.each([
    ['an hour boundary', Date.UTC(2024, 7, 10, 14), 40],
    ['an hour boundary, maintenance just after the close', Date.UTC(2024, 7, 10, 14), 1],
    ['a day boundary', Date.UTC(2024, 7, 11), 40],
    ['mid-hour (control)', Date.UTC(2024, 7, 10, 14, 5), 40],
  ])('at %s + 10 s', async (_, close, phaseS) => {
    const r = await rows(close + DECISION_LAG_MS, phaseS);
    expect(r.live1h).toBe(Math.floor(close / HOUR) * HOUR - HOUR);
    expect(r.live1d).toBe(Math.floor(close / (24 * HOUR)) * 24 * HOUR - 24 * HOUR);
    let differing = 0;
    for (let k = 0; k < BDI_LENGTH; k++) if (!Object.is(r.train[k], r.live[k])) differing++;
    expect(differing).toBe(0);
  }, 30_000);
});

// Closing the hour with its last minute leaves no forming 1h bar until the next minute: a late trade of that hour's
// last minute must still mark the day (its bar is left out, as before), not a 1h bar that already went out.
describe('DataProvider: a late trade just after the hour went out', () => {
  it('leaves out the day', async () => {
    const D = Date.UTC(2024, 7, 8);
    const late = D + 11 * HOUR - 500;
    const trades: Trade[] = [];
    for (let t = D - MIN, id = 1; t < D + 24 * HOUR + 5_000; t += 2_000, id++) {
      trades.push({ type: 'md.trade', venue: 'binance', symbol: 'BTC/USDT', tsExchange: t, tsLocal: t + 50, tradeId: id, price: 6_100_000 as Ticks, lots: 100 as Lots, buyerMaker: false });
    }
    const run = async (ts: readonly Trade[]) => {
      const clock = new SimulatedClock(ts[0]!.tsLocal - 1);
      const bus = new Bus<EngineMsg>();
      const dp = new DataProvider({ bus, clock, primary: 'BTC/USDT', reference: 'BTC/USDT', maintenanceMs: 0 });
      const published: Record<Timeframe, Candle[]> = { '1s': [], '1m': [], '1h': [], '1d': [] };
      bus.subscribe('md.candle', (m) => void published[m.timeframe].push(m.candle));
      await dp.start();
      for (const t of ts) {
        clock.set(t.tsLocal);
        bus.publish(t);
      }
      await dp.stop();
      return { dp, published };
    };
    const clean = await run(trades);
    // 10:59:59.5, received at 11:00:03: after 10:59 (and so the hour 10:00) went out, before 11:00 did.
    const extra: Trade = { ...trades[0]!, tradeId: 0, tsExchange: late, tsLocal: D + 11 * HOUR + 3_000 };
    const withLate = await run([...trades, extra].sort((a, b) => a.tsLocal - b.tsLocal));
    expect(clean.published['1d'].map((c) => c.openTime)).toEqual([D]);
    expect(withLate.dp.stats.lateTrades).toBe(1);
    expect(withLate.published['1d']).toEqual([]);
  }, 60_000);
});
