// Backtest review bt20, finding 1: an order that activates inside the clock's move to a line fills on the paper venue
// there, but the executor publishes exec.orderFilled only after its asynchronous commit. The loop took the equity
// samples up to the line (and published the line) before that, so a sample just after a fill missed it, and sharpe and
// exposure were off. Each sample must be the account at its time: the fills and the marks before it, recomputed here
// independently of the engine's tracker from the run's fills and the trade prints it saw.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest, type BacktestResult } from '../../app/backtest.ts';
import { EquityTracker } from '../../app/backtest-metrics.ts';
import { money, type Money } from '../../engine/types/money.ts';
import { stepsToFloat, type Lots, type Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { ClientOrderId, VenueOrderId } from '../../engine/types/ids.ts';
import { replayInstrument } from '../../engine/venues/replay/book-replay.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-equity-samples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A trade print of the traded symbol: the simulated time it was published at and its price (ticks). */
type Mark = readonly [t: number, price: number];

/**
 * Returns the account's equity at each of `r`'s samples from its fills and `marks` alone: cash plus base valued at the
 * last print, counting what happened before the sample's time (a 1 s sample is taken before the line at its time is
 * published); the closing sample, taken once everything settled, counts what happened up to its time.
 */
function recomputedEquity(r: BacktestResult, marks: readonly Mark[]): number[] {
  const tick = stepsToFloat(1, r.instrument.tickSize);
  const lot = stepsToFloat(1, r.instrument.lotSize);
  const fills = [...r.fills].sort((a, b) => a.ts - b.ts);
  let cash = r.summary.initialEquity;
  let base = 0;
  let mark = 0;
  let fi = 0;
  let mi = 0;
  return r.equity.map((p, i) => {
    const counted = i === r.equity.length - 1 ? (t: number) => t <= p.t : (t: number) => t < p.t;
    for (; fi < fills.length && counted(fills[fi]!.ts); fi++) {
      const f = fills[fi]!;
      const qty = f.lots * lot;
      const value = f.price * tick * qty;
      cash += f.side === 'buy' ? -value : value;
      base += f.side === 'buy' ? qty : -qty;
      const fee = Number(f.fee) / 1e9;
      if (f.feeAsset === r.instrument.quote) cash -= fee;
      else base -= fee;
    }
    for (; mi < marks.length && counted(marks[mi]![0]); mi++) mark = marks[mi]![1];
    return cash + base * mark * tick;
  });
}

describe('the equity samples of a backtest', () => {
  it('are the account at their time: a fill just before a sample is in it', async () => {
    // Tight exits (2 and 3 bps) make many short round trips; one exit of this run fills 23 ms before a sample.
    const config = testConfig({
      risk: { maxOrderNotional: '1000', maxPositionNotional: '5000', maxDrawdownPct: 10, stopLossPct: 0.02, takeProfitPct: 0.03 },
      data: { catalogDir: join(dir, 'catalog') },
    });
    const marks: Mark[] = [];
    const r = await runBacktest(config, {
      seed: 42, maxSpanMs: 420_000,
      onSystem: (s) => void s.bus.subscribe('md.trade', (m) => {
        if (m.symbol === 'ETH/USDT') marks.push([s.clock.now(), m.price]);
      }),
    });
    const want = recomputedEquity(r, marks);
    const differing = r.equity.flatMap((p, i) => (Math.abs(p.equity - want[i]!) > 1e-6 ? [{ t: p.t, engine: p.equity, recomputed: want[i] }] : []));

    expect(r.fills.length).toBeGreaterThan(10);
    expect(differing).toEqual([]);
  }, 180_000);
});

describe('the equity tracker', () => {
  it('counts a fill whose event comes after the clock moved on in the samples after its time only', () => {
    const eth = replayInstrument('ETH/USDT');
    const T0 = Date.UTC(2024, 7, 9) as TsMs;
    const tr = new EquityTracker(eth, money('10000'));
    tr.onMark(268_000 as Ticks);
    tr.tick(T0);
    tr.onMark(270_000 as Ticks);
    // Bought 1 ETH at 2,680.00 at T0 + 1.5 s; its event comes once the clock is at T0 + 2.2 s, before that tick.
    tr.onFill({
      clientOrderId: 'c1' as ClientOrderId, venueOrderId: 'v1' as VenueOrderId, tradeId: 't1', venue: 'paper', symbol: 'ETH/USDT', side: 'buy',
      price: 268_000 as Ticks, lots: 10_000 as Lots, fee: 0n as Money, feeAsset: 'USDT', liquidity: 'taker', ts: (T0 + 1_500) as TsMs,
    });
    tr.tick((T0 + 2_200) as TsMs);

    // T0 (the start) and T0 + 1 s: 10,000 in cash; T0 + 2 s: 7,320 in cash and 1 ETH at 2,700.00.
    expect(tr.points.map((p) => [p.t - T0, p.equity, p.held])).toEqual([[0, 10_000, false], [1_000, 10_000, false], [2_000, 10_020, true]]);
  });
});
