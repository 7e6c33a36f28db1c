// Task H5: an order the venue reports filled whose fills the trade history did not show is read by its order id.
// Against the exchange simulator with the real ccxt clients and the real executor:
// - MEXC reads its history by time, 100 trades an answer: in a millisecond holding more than a page, an order none of
//   whose trades made the page was never seen, so reconciliation closed it FILLS_MISSING. It is now read by orderId.
// - Binance pages by trade id from the last one booked: an order whose trades lie before that cursor (a later order's
//   fills booked by another path first) was closed FILLS_MISSING. It is now read by orderId (+ fromId) too.
// - More than a page of one order's trades in one MEXC millisecond cannot be read: still FILLS_MISSING, nothing invented.
// - A 429/418 on that read ends the run before the order is closed; an unknown outcome leaves the order for the next run.
import ccxt from 'ccxt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { VenueOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument } from '../../../engine/types/instrument.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { binanceCcxtOptions } from '../../../engine/venues/binance/rest.ts';
import { CcxtExecVenue, type CcxtExecOptions } from '../../../engine/venues/ccxt-exec.ts';
import { mexcSpotExchange } from '../../../engine/venues/mexc/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { VenueCallError, type VenueTrade } from '../../../engine/venues/venue.ts';
import { capturingLogger, drive, intent, recordingBus, tempStore } from './helpers.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEY = 'h5OrderTradesKey01';
const SECRET = 'h5-order-trades-secret-01';
const SYMBOL = 'BTC/USDT';

let sim: ExchangeSim;
const stores: Array<ReturnType<typeof tempStore>> = [];
const orderIdReads: string[] = [];
beforeEach(async () => {
  sim = await startExchangeSim({ files: FILES, speed: 'manual', accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '100000000' } }] });
  await sim.replay.advanceBy(5_000);
  orderIdReads.length = 0;
  sim.events.on('request', (r: { path: string }) => {
    if (r.path.endsWith('/api/v3/myTrades')) orderIdReads.push(r.path);
  });
});
afterEach(async () => {
  await sim?.close();
  for (const s of stores.splice(0)) await s.cleanup();
});

/** A CcxtExecVenue whose reads by order id fail first with the errors queued in `failures`. */
class FlakyOrderTrades extends CcxtExecVenue {
  readonly failures: VenueCallError[] = [];
  override async fetchOrderTrades(symbol: string, id: VenueOrderId): Promise<VenueTrade[]> {
    const e = this.failures.shift();
    if (e) throw e;
    return super.fetchOrderTrades(symbol, id);
  }
}

function venueOf(dialect: 'mexc' | 'sim', clock: SimulatedClock): { venue: FlakyOrderTrades; inst: Instrument } {
  const inst = makeInstrument({ ...BINANCE_SPOT_DEFAULTS[SYMBOL]!, venue: dialect });
  const exchange = dialect === 'mexc'
    ? mexcSpotExchange({ baseUrl: `${sim.url}/mexc`, apiKey: KEY, secret: SECRET, rateLimit: false })
    : new ccxt.binance(binanceCcxtOptions({ baseUrl: sim.url, apiKey: KEY, secret: SECRET, rateLimit: false }) as never);
  const opts: CcxtExecOptions = { exchange: exchange as never, venue: dialect, instruments: [inst], clock };
  return { venue: new FlakyOrderTrades(opts), inst };
}

/** The executor over the simulator in `dialect`; polls are left out (each test reconciles when it means to). */
async function world(dialect: 'mexc' | 'sim') {
  const clock = new SimulatedClock(sim.clock.now());
  const { venue, inst } = venueOf(dialect, clock);
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const rec = recordingBus();
  const cap = capturingLogger();
  const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [inst], log: cap.logger, rng: () => 0.5, pollMs: 3_600_000 });
  await ex.start();
  /** Buys `lots` at market through the executor; returns the client id once the venue accepted it. */
  const buy = async (id: string, lots: number): Promise<string> => {
    rec.bus.publish({ type: 'risk.orderApproved', intent: intent(id, { lots: lots as Lots }), ts: clock.now() });
    await drive(clock, () => !ex.busy);
    const cid = clientOrderIdFor(intent(id).id);
    expect(ex.order(cid)?.status).toBe('accepted');
    return cid;
  };
  const reconcile = () => ex.reconcile({ balances: false, symbols: [SYMBOL] });
  /** The venue's account of the order: its trades at the simulator, and its filled lots and status. */
  const atVenue = async (cid: string) => {
    const o = (await venue.fetchOrder(SYMBOL, cid as never))!;
    const trades = simTrades().filter((t) => String(t.fill.orderId) === o.venueOrderId);
    return { o, trades };
  };
  return { clock, venue, ex, store: s.store, ...cap, buy, reconcile, atVenue };
}

const simTrades = () => [...sim.venue.accounts.values()][0]!.trades;

describe('reconciliation reads an order the trade history did not show by its order id', () => {
  it('MEXC: an order none of whose trades made its millisecond\'s full page is booked whole, and a second run books nothing', async () => {
    const w = await world('mexc');
    // In one replayed millisecond: a small order, then two 10 BTC sweeps whose 100+ trades fill MEXC's newest-first page.
    const small = await w.buy('h5-mexc-small', 100);
    const sweeps = [await w.buy('h5-mexc-sweep1', 1_000_000), await w.buy('h5-mexc-sweep2', 1_000_000)];
    const smallAtVenue = await w.atVenue(small);
    const all = simTrades();

    const run = await w.reconcile();
    const again = await w.reconcile();

    expect(new Set(all.map((t) => Math.floor(t.fill.ts))).size).toBe(1);
    expect(all.length - smallAtVenue.trades.length).toBeGreaterThanOrEqual(100);
    expect(all.slice(0, smallAtVenue.trades.length)).toEqual(smallAtVenue.trades);
    expect(run.fillsMissing).toEqual([]);
    expect(run.fillsApplied).toBe(all.length);
    for (const cid of [small, ...sweeps]) {
      const { o, trades } = await w.atVenue(cid);
      expect(o.status).toBe('filled');
      expect(w.ex.order(cid)).toMatchObject({ status: 'filled', filledLots: o.filledLots });
      expect([...w.ex.order(cid)!.tradeIds].sort()).toEqual(trades.map((t) => String(t.fill.tradeId)).sort());
    }
    expect(w.ex.position(SYMBOL)?.netLots).toBe(all.reduce((a, t) => a + t.fill.lots, 0));
    expect(w.codes()).not.toContain('FILLS_MISSING');
    expect(again).toMatchObject({ fillsApplied: 0, ordersClosed: 0, fillsMissing: [] });
  });

  it('Binance dialect: an order whose trades lie before the trade cursor is booked whole by orderId', async () => {
    const w = await world('sim');
    const first = await w.buy('h5-bin-first', 500_000);
    const later = await w.buy('h5-bin-later', 100);
    // The later order's fills reach the book first (as a user-stream push would), moving the cursor past the first's.
    const laterAtVenue = await w.atVenue(later);
    for (const t of await w.venue.fetchOrderTrades(SYMBOL, laterAtVenue.o.venueOrderId)) expect(await w.ex.applyTrade(t)).toBe('booked');
    const firstAtVenue = await w.atVenue(first);

    const run = await w.reconcile();
    const again = await w.reconcile();

    expect(firstAtVenue.trades.length).toBeGreaterThan(1);
    expect(firstAtVenue.trades.every((t) => t.fill.tradeId < laterAtVenue.trades[0]!.fill.tradeId)).toBe(true);
    expect(run).toMatchObject({ fillsMissing: [], fillsApplied: firstAtVenue.trades.length });
    expect(w.ex.order(first)).toMatchObject({ status: 'filled', filledLots: firstAtVenue.o.filledLots });
    expect(w.ex.position(SYMBOL)?.netLots).toBe(firstAtVenue.o.filledLots + laterAtVenue.o.filledLots);
    expect(again).toMatchObject({ fillsApplied: 0, ordersClosed: 0, fillsMissing: [] });
  });

  it('MEXC: more than a page of one order\'s trades in one millisecond is still reported FILLS_MISSING, nothing invented', async () => {
    const w = await world('mexc');
    const big = await w.buy('h5-mexc-big', 2_500_000);
    const { o, trades } = await w.atVenue(big);

    const run = await w.reconcile();

    expect(trades.length).toBeGreaterThan(100);
    expect(new Set(trades.map((t) => Math.floor(t.fill.ts))).size).toBe(1);
    expect(run.fillsMissing).toEqual([big]);
    expect(w.ex.order(big)?.status).toBe('filled');
    expect(w.ex.order(big)?.tradeIds).toHaveLength(100);
    expect(w.ex.order(big)!.filledLots).toBeLessThan(o.filledLots);
    expect(w.codes()).toContain('FILLS_MISSING');
  });
});

describe('a failed read by order id', () => {
  it('429: ends the run before the order is closed, and the next run books it whole', async () => {
    const w = await world('mexc');
    const small = await w.buy('h5-rl-small', 100);
    await w.buy('h5-rl-sweep1', 1_000_000);
    await w.buy('h5-rl-sweep2', 1_000_000);
    w.venue.failures.push(new VenueCallError('rateLimited', 'VENUE_RATE_LIMITED', 'VENUE_RATE_LIMITED: test', 1_000));

    const failed = await w.reconcile().then(() => undefined, (e: unknown) => e);
    const between = w.ex.order(small);
    const run = await w.reconcile();
    const { o } = await w.atVenue(small);

    expect(failed).toBeInstanceOf(VenueCallError);
    expect((failed as VenueCallError).kind).toBe('rateLimited');
    expect(between).toMatchObject({ status: 'accepted', filledLots: 0 });
    expect(run.fillsMissing).toEqual([]);
    expect(w.ex.order(small)).toMatchObject({ status: 'filled', filledLots: o.filledLots });
  });

  it('unknown outcome: the order is left as it is and reported unresolved; the next run books it whole', async () => {
    const w = await world('mexc');
    const small = await w.buy('h5-unk-small', 100);
    await w.buy('h5-unk-sweep1', 1_000_000);
    await w.buy('h5-unk-sweep2', 1_000_000);
    w.venue.failures.push(new VenueCallError('unknown', 'REQUEST_TIMEOUT', 'REQUEST_TIMEOUT: test'));

    const first = await w.reconcile();
    const between = w.ex.order(small);
    const second = await w.reconcile();
    const { o } = await w.atVenue(small);

    expect(first).toMatchObject({ ordersUnresolved: [small], fillsMissing: [] });
    expect(between).toMatchObject({ status: 'accepted', filledLots: 0 });
    expect(second).toMatchObject({ ordersUnresolved: [], fillsMissing: [] });
    expect(w.ex.order(small)).toMatchObject({ status: 'filled', filledLots: o.filledLots });
    expect(w.codes()).toContain('RECONCILE_ORDER_TRADES_FAILED');
  });

  it('is not sent while the REST gate holds a 429 block', async () => {
    const clock = new SimulatedClock(sim.clock.now());
    const { venue } = venueOf('mexc', clock);
    venue.gate.block('rateLimited', 5_000);
    const before = orderIdReads.length;

    const err = await venue.fetchOrderTrades(SYMBOL, '1' as VenueOrderId).then(() => undefined, (e: unknown) => e);

    expect(err).toBeInstanceOf(VenueCallError);
    expect((err as VenueCallError).kind).toBe('rateLimited');
    expect(orderIdReads.length).toBe(before);
    expect(venue.counters.blockedLocally).toBe(1);
  });
});
