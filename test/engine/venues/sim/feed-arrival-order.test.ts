// The exchange simulator's market (engine/venues/sim/feed.ts) hands the matching engine the recorded exchange times
// of depth diffs (E) and trades (T), so a diff that already shows a trade and arrives before the trade's print does
// not move a resting order's queue twice (a known review finding: it did, and maker orders filled too early).
// Frames are shaped like the recording's (data/recordings, test/fixtures/binance/spot-btcusdt-head.jsonl).
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { SimAccount } from '../../../../engine/venues/sim/accounts.ts';
import { SymbolMarket } from '../../../../engine/venues/sim/feed.ts';
import { SimVenue } from '../../../../engine/venues/sim/venue.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const E = 1_723_161_255_208;

const depthLine = (id: number, ts: number, bidQty: string) =>
  `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":${ts},"s":"BTCUSDT","U":${id},"u":${id},"b":[["61837.63000000","${bidQty}"]],"a":[]}}`;
const tradeLine = (id: number, ts: number, qty: string) =>
  `{"stream":"btcusdt@trade","data":{"e":"trade","E":${ts + 1},"s":"BTCUSDT","t":${id},"p":"61837.63000000","q":"${qty}","T":${ts},"m":true,"M":true}}`;

function setup() {
  const clock = new SimulatedClock(E);
  const venue = new SimVenue(clock, '0.001', '0.001');
  const cfg = { clock, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0, nextOrderId: venue.nextOrderId, nextTradeId: venue.nextTradeId };
  const m = new SymbolMarket(BTC, cfg, { m1: [] }, () => {}, clock);
  venue.addMarket(m);
  const acct = new SimAccount('a1', 'apikey1234', 'secret1234', { USDT: '100000' });
  venue.addAccount(acct);
  const base = { venue: 'binance' as const, symbol: 'BTC/USDT', tsExchange: E, tsLocal: E };
  m.sync.onSnapshot({ ...base, type: 'md.snapshot', lastUpdateId: 10, bids: [[6_183_763 as Ticks, 100_000 as Lots]], asks: [[6_183_764 as Ticks, 100_000 as Lots]] });
  m.sync.onDiff({ ...base, type: 'md.depth', firstUpdateId: 11, finalUpdateId: 11, bids: [], asks: [] });
  m.engine.onSnapshot();
  const line = (text: string) => m.onLine(text, BigInt(clock.now()) * 1_000_000n);
  return { venue, m, acct, line };
}

describe('exchange simulator: a depth diff that arrives before the print it shows', () => {
  it('moves a resting buy once for 0.3 BTC sold when the diff comes first', () => {
    const s = setup();
    s.venue.placeOrder(s.acct, { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.5', price: '61837.63' });
    s.line(depthLine(12, E + 100, '0.70000000')); // shows the 0.3 BTC sold at E + 90
    s.line(tradeLine(1, E + 90, '0.30000000'));
    const [o] = s.m.engine.openOrders();

    expect(s.m.counters).toMatchObject({ depth: 1, trades: 1, malformed: 0 });
    expect(o!.queueAhead).toBe(70_000); // 0.7 BTC still ahead, not 0.4
    expect(s.acct.trades).toEqual([]);
  });
});
