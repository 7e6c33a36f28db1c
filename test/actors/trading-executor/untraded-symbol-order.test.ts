// An unfinished order on a symbol the venue no longer trades (a config change dropped it across a restart): every
// venue call for that symbol fails, and it must not take the poll of the other symbols down with it. The start says so
// once and leaves it out; a symbol whose reads fail for another reason fails alone too.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor, newOrder } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { venueOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import { VenueCallError, type VenueOrder, type VenueTrade } from '../../../engine/venues/venue.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, tempStore } from './helpers.ts';
import { PollVenue } from './poll-venue.ts';
import { StubExchange } from './stub-exchange.ts';

const T0 = 1_723_161_300_000;
const POLL_MS = 1_000;
const stores: Array<ReturnType<typeof tempStore>> = [];
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const s of stores.splice(0)) await s.cleanup();
});

async function run(ex: TradingExecutor, clock: SimulatedClock, polls: number): Promise<void> {
  for (let i = 0; i < polls; i++) {
    clock.advance(POLL_MS);
    await drive(clock, () => !ex.busy);
  }
}

describe('an order on a symbol the venue does not trade', () => {
  it('is reported once at start and left out of the poll, which books the fills of the traded symbols', async () => {
    const clock = new SimulatedClock(T0);
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    // Left by the previous run, whose config traded ETH/USDT too.
    const eth = { ...newOrder(limitIntent('eth-old', 300_000, { symbol: 'ETH/USDT' }), 'binance', T0), status: 'accepted' as const, venueOrderId: venueOrderId('77') };
    await s.store.commit({ order: eth });
    const btc = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'binance' });
    const stub = new StubExchange();
    const venue = new CcxtExecVenue({ exchange: stub, venue: 'binance', instruments: [btc], clock, recvWindowMs: 10_000 });
    const rec = recordingBus();
    const cap = capturingLogger();
    const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [btc], log: cap.logger, rng: () => 0.5, pollMs: POLL_MS });
    stops.push(() => ex.stop());
    await ex.start();
    expect(ex.state).toBe('live');
    const told = cap.records.filter((r) => r['code'] === 'ORDER_ON_UNTRADED_SYMBOL');
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ clientOrderIds: [eth.clientOrderId], symbols: ['ETH/USDT'] });

    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('btc1', 5_000_000), ts: clock.now() });
    await drive(clock, () => !ex.busy);
    stub.fill(clientOrderIdFor('btc1'));
    await run(ex, clock, 5);

    expect(ex.order(clientOrderIdFor('btc1'))?.status).toBe('filled');
    expect(ex.position('BTC/USDT')?.netLots).toBeGreaterThan(0);
    expect(cap.codes()).not.toContain('POLL_FAILED');
    expect(cap.codes().filter((c) => c === 'ORDER_ON_UNTRADED_SYMBOL')).toHaveLength(1);
    // Left as it was: nothing at the venue can say what became of it.
    expect(ex.order(eth.clientOrderId)).toMatchObject({ status: 'accepted' });
  });
});

const ETH = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['ETH/USDT']!, venue: 'paper' });

/** A PollVenue trading two symbols, reading each one's orders and trades apart; reads of `broken` fail (a 5xx). */
class TwoSymbolVenue extends PollVenue {
  override readonly symbols = ['BTC/USDT', 'ETH/USDT'];
  readonly broken = new Set<string>();

  override async fetchOpenOrders(symbol?: string): Promise<VenueOrder[]> {
    this.failIfBroken(symbol);
    return (await super.fetchOpenOrders()).filter((o) => o.symbol === symbol);
  }

  override async fetchMyTrades(symbol: string, since?: string): Promise<VenueTrade[]> {
    this.failIfBroken(symbol);
    return (await super.fetchMyTrades(symbol, since)).filter((t) => t.symbol === symbol);
  }

  private failIfBroken(symbol: string | undefined): void {
    if (symbol !== undefined && this.broken.has(symbol)) throw new VenueCallError('unknown', 'VENUE_5XX', `${symbol}: 503 from the venue`);
  }
}

describe('a poll whose reads of one symbol fail', () => {
  it('books the fills of the other symbols and reads the failing one again once it answers', async () => {
    const clock = new SimulatedClock(T0);
    const s = tempStore(undefined, { syncCommits: true });
    stores.push(s);
    const venue = new TwoSymbolVenue();
    const rec = recordingBus();
    const cap = capturingLogger();
    const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [{ ...BTC }, ETH], log: cap.logger, rng: () => 0.5, pollMs: POLL_MS });
    stops.push(() => ex.stop());
    await ex.start();
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('eth1', 300_000, { symbol: 'ETH/USDT', lots: 100 as Lots }), ts: clock.now() });
    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('btc1', 6_183_763, { lots: 100 as Lots }), ts: clock.now() });
    await drive(clock, () => !ex.busy);
    venue.broken.add('ETH/USDT');
    venue.fill(clientOrderIdFor('eth1'), 100);
    venue.fill(clientOrderIdFor('btc1'), 100);
    await run(ex, clock, 3);

    expect(ex.order(clientOrderIdFor('btc1'))?.status).toBe('filled');
    expect(ex.order(clientOrderIdFor('eth1'))?.status).toBe('accepted');
    const failed = cap.records.filter((r) => r['code'] === 'POLL_FAILED');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((r) => r['symbol'] === 'ETH/USDT')).toBe(true);

    venue.broken.clear();
    await run(ex, clock, 2);
    expect(ex.order(clientOrderIdFor('eth1'))?.status).toBe('filled');
    expect([ex.position('BTC/USDT')?.netLots, ex.position('ETH/USDT')?.netLots]).toEqual([100, 100]);
  });
});
