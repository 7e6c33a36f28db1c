// The exchange simulator's market (engine/venues/sim/feed.ts) hands its matching engine the newest recorded bookTicker
// and the book's update id, and its prints, so sim takers reach nothing the real-time touch or the tape after the
// depth book's last diff shows gone (review bt20, finding 1: they filled at stale depth@100ms levels).
// Frames are shaped like the recording's (data/recordings).
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { SimAccount } from '../../../../engine/venues/sim/accounts.ts';
import { SymbolMarket } from '../../../../engine/venues/sim/feed.ts';
import { SimVenue } from '../../../../engine/venues/sim/venue.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const E = 1_723_161_255_208;

const tickerLine = (u: number, bid: string, bidQty: string, ask: string, askQty: string) =>
  `{"stream":"btcusdt@bookTicker","data":{"u":${u},"s":"BTCUSDT","b":"${bid}","B":"${bidQty}","a":"${ask}","A":"${askQty}"}}`;
const soldLine = (id: number, ts: number, price: string, qty: string) =>
  `{"stream":"btcusdt@trade","data":{"e":"trade","E":${ts + 1},"s":"BTCUSDT","t":${id},"p":"${price}","q":"${qty}","T":${ts},"m":true,"M":true}}`;
const depthLine = (id: number, ts: number) =>
  `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":${ts},"s":"BTCUSDT","U":${id},"u":${id},"b":[],"a":[]}}`;

/** Bids 61837.63 and 61837.50, asks 61837.64 and 61837.70, 1 BTC each; the book at update id 11, its diff at E. */
function setup() {
  const clock = new SimulatedClock(E);
  const venue = new SimVenue(clock, '0.001', '0.001');
  const cfg = { clock, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0, nextOrderId: venue.nextOrderId, nextTradeId: venue.nextTradeId };
  const m = new SymbolMarket(BTC, cfg, { m1: [] }, () => {}, clock);
  venue.addMarket(m);
  const acct = new SimAccount('a1', 'apikey1234', 'secret1234', { USDT: '1000000', BTC: '10' });
  venue.addAccount(acct);
  const base = { venue: 'binance' as const, symbol: 'BTC/USDT', tsExchange: E, tsLocal: E };
  const lvl = (p: number): [Ticks, Lots] => [p as Ticks, 100_000 as Lots];
  m.sync.onSnapshot({ ...base, type: 'md.snapshot', lastUpdateId: 10, bids: [lvl(6_183_763), lvl(6_183_750)], asks: [lvl(6_183_764), lvl(6_183_770)] });
  m.sync.onDiff({ ...base, type: 'md.depth', firstUpdateId: 11, finalUpdateId: 11, bids: [], asks: [] });
  m.engine.onSnapshot();
  m.engine.onDepth([], [], E);
  const line = (text: string) => m.onLine(text, BigInt(clock.now()) * 1_000_000n);
  const market = (side: 'BUY' | 'SELL', quantity: string) => venue.placeOrder(acct, { symbol: 'BTCUSDT', side, type: 'MARKET', quantity });
  const fills = () => acct.trades.map((t) => `${t.fill.lots}@${t.fill.price}`);
  return { m, line, market, fills };
}

describe('exchange simulator: takers and the real-time touch', () => {
  it('has a market buy reach no ask below a bookTicker newer than the book, and the ticker\'s size at its ask', () => {
    const s = setup();
    s.line(tickerLine(12, '61837.63000000', '1.00000000', '61837.66000000', '0.20000000'));
    s.market('BUY', '0.5');

    expect(s.m.counters).toMatchObject({ bookTickers: 1, malformed: 0 });
    expect(s.fills()).toEqual(['20000@6183766', '30000@6183770']);
  });

  it('has a market sell reach no bid above a seller-aggressor print after the book\'s last diff, until a diff past it', () => {
    const s = setup();
    s.line(soldLine(1, E + 50, '61837.50000000', '0.30000000'));
    s.market('SELL', '0.8');
    s.line(depthLine(12, E + 100));
    s.market('SELL', '0.1');

    expect(s.fills()).toEqual(['70000@6183750', '10000@6183763']);
  });
});
