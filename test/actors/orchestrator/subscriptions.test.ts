import { describe, expect, it } from 'vitest';
import { SubscriptionManager } from '../../../actors/orchestrator/subscriptions.ts';
import { ConsolidatedBook } from '../../../engine/market/cob.ts';
import { loadKlinesCsv } from '../../../engine/market/klines-csv.ts';
import type { CobSnapshotMsg } from '../../../engine/messages/cob.ts';
import type { Candle, CandleMsg, Trade } from '../../../engine/messages/market.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { Timeframe } from '../../../engine/types/time.ts';

// Real ETH/USDT 1m klines drive the candle stream; the clock moves with them.
const bars = loadKlinesCsv('data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz').candles.slice(0, 10);
const book = new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1' });
const cob = (ts: number, symbol = 'ETH/USDT'): CobSnapshotMsg => ({ type: 'cob.snapshot', symbol, ts, cob: book.update(ts) });
const candle = (c: Candle, timeframe: Timeframe = '1m', closed = true, symbol = 'ETH/USDT'): CandleMsg => ({
  type: 'md.candle', venue: 'binance', symbol, timeframe, candle: { ...c, closed }, tsExchange: c.openTime + 60_000, tsLocal: c.openTime + 60_000,
});
const trade = (ts: number): Trade => ({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tradeId: ts, price: 260_000 as Ticks, lots: 10 as Lots, buyerMaker: false, tsExchange: ts, tsLocal: ts });

describe('subscription manager', () => {
  it('makes a tick ready on a trigger close once the COB is fresh', () => {
    const clock = new SimulatedClock(bars[0]!.openTime + 60_000);
    const s = new SubscriptionManager({ symbol: 'ETH/USDT', triggerTimeframe: '1m', cobMaxAgeMs: 500, maxWaitMs: 2_000 });
    s.onCandle(candle(bars[0]!), clock.now());
    expect(s.poll(clock.now())).toBeUndefined();
    expect(s.status(clock.now()).pending?.blockers).toEqual(['no COB snapshot yet']);
    clock.advance(100);
    s.onCob(cob(clock.now()));
    expect(s.poll(clock.now())).toEqual({ symbol: 'ETH/USDT', ts: clock.now(), timeframe: '1m', candleClose: bars[0]!.openTime + 60_000 });
    expect(s.poll(clock.now())).toBeUndefined(); // consumed
    expect(s.status(clock.now())).toMatchObject({ ticks: 1, cob: { count: 1, ageMs: 0 }, candles: { '1m': { count: 1 } } });
  });

  it('holds a tick while the COB is stale and drops it after maxWaitMs', () => {
    const clock = new SimulatedClock(bars[1]!.openTime + 60_000);
    const s = new SubscriptionManager({ symbol: 'ETH/USDT', triggerTimeframe: '1m', cobMaxAgeMs: 500, maxWaitMs: 1_000 });
    s.onCob(cob(clock.now() - 800));
    s.onCandle(candle(bars[1]!), clock.now());
    expect(s.blockers(clock.now())).toEqual(['COB snapshot 800 ms old (max 500)']);
    clock.advance(1_000);
    expect(s.poll(clock.now())).toBeUndefined();
    clock.advance(1);
    expect(s.poll(clock.now())).toBeUndefined();
    expect(s.status(clock.now())).toMatchObject({ expired: 1, ticks: 0 });
    expect(s.status(clock.now()).pending).toBeUndefined();
    s.onCob(cob(clock.now()));
    expect(s.poll(clock.now())).toBeUndefined(); // nothing pending any more
  });

  it('coalesces trigger closes that arrive while a tick waits, and ignores forming bars and other symbols', () => {
    const clock = new SimulatedClock(bars[5]!.openTime + 60_000);
    const s = new SubscriptionManager({ symbol: 'ETH/USDT', triggerTimeframe: '1m', requireCob: false });
    s.onCandle(candle(bars[3]!, '1m', true, 'BTC/USDT'), clock.now());
    s.onCandle(candle(bars[5]!, '1m', false), clock.now());
    expect(s.status(clock.now()).ignored).toBe(2);
    s.onCandle(candle(bars[4]!), clock.now());
    s.onCandle(candle(bars[5]!), clock.now());
    s.onCandle(candle(bars[3]!), clock.now()); // older than pending: kept out
    expect(s.status(clock.now())).toMatchObject({ coalesced: 1 });
    expect(s.poll(clock.now())?.candleClose).toBe(bars[5]!.openTime + 60_000);
  });

  it('requires recent closes of the listed timeframes and a recent trade when asked', () => {
    const clock = new SimulatedClock(bars[2]!.openTime + 60_000);
    const s = new SubscriptionManager({ symbol: 'ETH/USDT', triggerTimeframe: '1m', requiredTimeframes: ['1h'], requireCob: false, tradeMaxAgeMs: 5_000 });
    s.onCandle(candle(bars[2]!), clock.now());
    expect(s.blockers(clock.now())).toEqual(['no 1h candle closed yet', 'no trade yet']);
    const hour = Math.floor(clock.now() / 3_600_000) * 3_600_000 - 3_600_000;
    s.onCandle({ ...candle(bars[2]!, '1h'), candle: { ...bars[2]!, openTime: hour, closed: true } }, clock.now());
    s.onTrade(trade(clock.now() - 6_000));
    expect(s.blockers(clock.now())).toEqual(['last trade 6000 ms ago (max 5000)']);
    s.onTrade(trade(clock.now()));
    expect(s.poll(clock.now())).toBeDefined();
    clock.advance(3 * 3_600_000);
    s.onCandle(candle({ ...bars[3]!, openTime: clock.now() - 60_000 }), clock.now());
    s.onTrade(trade(clock.now()));
    expect(s.blockers(clock.now())).toEqual([`last 1h close ${clock.now() - hour - 3_600_000} ms ago`]);
  });

  it('makes a tick ready for each trigger that closes at one instant, at once (no wait for a later poll)', () => {
    // A trade of a later bar closes two 1s bars at once: both ticks are ready at that instant. (Holding the second for
    // a later poll, tried once, made the live path wait for the next market event; the history keys stay unique in the
    // coordinator instead: coordinator.ts historyTs.)
    const clock = new SimulatedClock(bars[5]!.openTime + 60_000);
    const s = new SubscriptionManager({ symbol: 'ETH/USDT', triggerTimeframe: '1m', requireCob: false });
    s.onCandle(candle(bars[4]!), clock.now());
    const first = s.poll(clock.now());
    s.onCandle(candle(bars[5]!), clock.now());
    const same = s.poll(clock.now());

    expect(first?.candleClose).toBe(bars[4]!.openTime + 60_000);
    expect(same).toEqual({ symbol: 'ETH/USDT', ts: first!.ts, timeframe: '1m', candleClose: bars[5]!.openTime + 60_000 });
  });
});
