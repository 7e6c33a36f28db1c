// Review findings (MEXC live execution #2-#5): MEXC answers CcxtExecVenue must read. Real MEXC shapes from ccxt's own
// mexc.js samples, parsed by ccxt's MEXC client; duplicates and bans through the simulator's MEXC dialect and a
// loopback server.
//  #2 an open order placed by hand has `"clientOrderId": null`: it is named venue-<orderId>, the list stays readable;
//  #3 MEXC writes commissions unrounded (more than 9 decimals): rounded up, balances down, the page stays readable;
//  #4 "Duplicate order sent." (-2010) means the order exists: unknown (query, never a rejection) on MEXC and Binance;
//  #5 an HTTP 418 is a ban whatever code its body carries, and the simulator's MEXC ban keeps "IP banned until".
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import ccxt from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import { reconcile, type ReconcileHost } from '../../../actors/trading-executor/reconcile.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import { binanceCcxtOptions } from '../../../engine/venues/binance/rest.ts';
import { CcxtExecVenue, classifyCcxtError, roundedFixed, type CcxtOrderApi } from '../../../engine/venues/ccxt-exec.ts';
import { mexcSpotExchange } from '../../../engine/venues/mexc/rest.ts';
import { RestGate } from '../../../engine/venues/rest-gate.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { VenueCallError, type VenueOrder } from '../../../engine/venues/venue.ts';
import { mexcSimVenue } from './mexc-sim-venue.ts';

const BTC = makeInstrument({ symbol: 'BTC/USDT', venue: 'mexc', tickSize: '0.01', lotSize: '0.000001', minNotional: '1' });
const SILENT = { info() {}, warn() {}, error() {}, debug() {} } as unknown as ReconcileHost['log'];

// ccxt's MEXC client, with BTC/USDT as its market, to parse raw MEXC answers exactly as it does live.
const mx = new ccxt.mexc();
mx.setMarkets([{ id: 'BTCUSDT', symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT', spot: true, type: 'spot', active: true, precision: { amount: 0.000001, price: 0.01 }, limits: { amount: {}, price: {}, cost: {} } } as never]);
const market = mx.market('BTC/USDT');

// MEXC's openOrders rows (ccxt's sample): ours, and one placed by hand in MEXC's UI.
const ours = {
  symbol: 'BTCUSDT', orderId: '133734823834147272', orderListId: '-1', clientOrderId: 'cbAAAAAAAAAAAAAAAAAAAAAAAA', price: '30000', origQty: '0.0002', executedQty: '0',
  cummulativeQuoteQty: '0', status: 'NEW', timeInForce: null, type: 'LIMIT', side: 'BUY', time: '1647667102000', updateTime: '1647667102000', isWorking: true,
};
const manual = { ...ours, orderId: '133734823834147999', clientOrderId: null, price: '29000' };
// A myTrades row (ccxt's sample shape) with `commission` as given.
const tradeRow = (id: string, commission: string) => ({
  symbol: 'BTCUSDT', id, orderId: '133734823834147272', orderListId: '-1', price: '60000.01', qty: '0.000123', quoteQty: '7.38000123', commission,
  commissionAsset: 'USDT', time: '1647718055000', isBuyer: true, isMaker: false, isBestMatch: true,
});

/** A ccxt stand-in whose answers are raw MEXC rows parsed by ccxt's MEXC client; records fetchOrder's arguments. */
function mexcStub(over: Partial<Record<'orders' | 'trades' | 'balances', unknown[]>> = {}) {
  const fetchOrderArgs: Array<[string | undefined, Record<string, unknown> | undefined]> = [];
  const api: CcxtOrderApi = {
    createOrder: async () => ({}), cancelOrder: async () => ({}),
    fetchOrder: async (id, _s, params) => {
      fetchOrderArgs.push([id, params]);
      return mx.parseOrder({ ...manual, status: 'FILLED', executedQty: '0.0002' }, market);
    },
    fetchOpenOrders: async () => (over.orders ?? [ours, manual]).map((o) => mx.parseOrder(o as never, market)),
    fetchMyTrades: async () => (over.trades ?? []).map((t) => mx.parseTrade(t as never, market)),
    // The adapter reads MEXC's raw account answer (info.balances), as ccxt's fetchBalance keeps it.
    fetchBalance: async () => ({ info: { balances: over.balances ?? [] } }),
  };
  const venue = new CcxtExecVenue({ exchange: api, venue: 'mexc', instruments: [BTC], clock: new SimulatedClock(1_647_718_100_000) });
  return { venue, fetchOrderArgs };
}

describe('MEXC orders without a client id (review #2)', () => {
  it('lists an open order placed by hand as venue-<orderId>, next to ours, and reconciliation adopts it instead of failing', async () => {
    const { venue } = mexcStub();
    const adopted: VenueOrder[] = [];
    const host: ReconcileHost = {
      venue, clock: new SimulatedClock(0), log: SILENT, openOrders: () => [], order: () => undefined, orderByVenueId: () => undefined, position: () => undefined,
      lastTradeId: () => undefined, hasFill: () => false, apply: async () => ({ kind: 'noop' }) as never, applyTrade: async () => 'booked',
      adoptOpenOrder: async (v) => (adopted.push(v), true), baseOf: () => 0n, publishBus: () => {},
    };

    const open = await venue.fetchOpenOrders('BTC/USDT');
    const report = await reconcile(host, { balances: false, symbols: ['BTC/USDT'] });

    expect(open.map((o) => [o.clientOrderId, o.venueOrderId, o.price])).toEqual([
      ['cbAAAAAAAAAAAAAAAAAAAAAAAA', '133734823834147272', 3_000_000],
      ['venue-133734823834147999', '133734823834147999', 2_900_000],
    ]);
    expect(report.ordersAdopted).toBe(2);
    expect(adopted.map((o) => o.clientOrderId)).toEqual(['cbAAAAAAAAAAAAAAAAAAAAAAAA', 'venue-133734823834147999']);
  });

  it('names each hand-placed order listed with an empty client id venue-<orderId>, not all of them \'\'', async () => {
    const blank = { ...manual, clientOrderId: '' };
    const other = { ...manual, orderId: '133734823834148000', clientOrderId: '' };
    const { venue } = mexcStub({ orders: [blank, other] });

    const open = await venue.fetchOpenOrders('BTC/USDT');

    expect(open.map((o) => o.clientOrderId)).toEqual(['venue-133734823834147999', 'venue-133734823834148000']);
  });

  it('queries an order it named venue-<orderId> by that order id, and answers under that name', async () => {
    const { venue, fetchOrderArgs } = mexcStub();

    const o = await venue.fetchOrder('BTC/USDT', clientOrderId('venue-133734823834147999'));

    expect(fetchOrderArgs).toEqual([['133734823834147999', {}]]);
    expect(o).toMatchObject({ clientOrderId: 'venue-133734823834147999', venueOrderId: '133734823834147999', status: 'filled', filledLots: 200 });
  });
});

describe('MEXC amounts with more than 9 decimals (review #3)', () => {
  it('reads a trade page whose commission has 11 decimals, the fee rounded up to 9', async () => {
    const { venue } = mexcStub({ trades: [tradeRow('1001', '0.00738'), tradeRow('1002', '0.00738000123'), tradeRow('1003', '0.016798204')] });

    const trades = await venue.fetchMyTrades('BTC/USDT');

    expect(trades.map((t) => [t.tradeId, t.fee, t.feeAsset])).toEqual([['1001', 7_380_000n, 'USDT'], ['1002', 7_380_002n, 'USDT'], ['1003', 16_798_204n, 'USDT']]);
  });

  it('reads balances with more than 9 decimals, rounded down to 9', async () => {
    const { venue } = mexcStub({ balances: [{ asset: 'USDT', free: '10.123456789999', locked: '0.0000000001' }, { asset: 'BTC', free: '0.5', locked: '0' }] });

    const b = await venue.fetchBalances();

    expect(b).toEqual([{ asset: 'USDT', free: 10_123_456_789n, locked: 0n }, { asset: 'BTC', free: 500_000_000n, locked: 0n }]);
  });

  it.each([
    ['0.016798204', 'up', 16_798_204n, true],
    ['0.00738000123', 'up', 7_380_002n, false],
    ['0.00738000123', 'down', 7_380_001n, false],
    ['0.000000000999', 'down', 0n, false],
    ['-0.00000000101', 'up', -1n, false],
    ['-0.00000000101', 'down', -2n, false],
    ['1.500000000000', 'up', 1_500_000_000n, true],
  ] as const)('rounds %s %s to %s (exact: %s)', (s, dir, value, exact) => {
    expect(roundedFixed(s, dir)).toEqual({ value, exact });
  });

  it('refuses an amount that is no plain decimal, naming it', () => {
    const err = (() => {
      try {
        return roundedFixed('1e-8', 'up');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(VenueCallError);
    expect(err).toMatchObject({ kind: 'unknown', code: 'BAD_RESPONSE' });
    expect((err as Error).message).toContain("'1e-8'");
  });
});

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEY = 'mexcAnswersKey0001';
const SECRET = 'mexc-answers-secret-0001';
let sim: ExchangeSim | undefined;
let server: Server | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('a duplicate client id (review #4)', () => {
  it.each(['mexc', 'binance'] as const)('on %s is an unknown outcome (the order exists), and the query by client id finds it', async (v) => {
    sim = await startExchangeSim({ files: FILES, speed: 'manual', accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '100000' } }] });
    await sim.replay.advanceBy(5_000);
    const venue = v === 'mexc' ? mexcSimVenue(sim, { apiKey: KEY, secret: SECRET }) : new CcxtExecVenue({
      exchange: new ccxt.binance(binanceCcxtOptions({ baseUrl: sim.url, apiKey: KEY, secret: SECRET, rateLimit: false }) as never) as never,
      venue: v, instruments: [makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: v })], clock: new SimulatedClock(sim.clock.now()),
    });
    const bid = (sim.venue.market('BTCUSDT').sync.book.bestBid()! - 100_000) as Ticks;
    const req = { clientOrderId: clientOrderId(`cbDup${v}1`), symbol: 'BTC/USDT', side: 'buy' as const, orderType: 'limit' as const, lots: 200 as Lots, price: bid, timeInForce: 'GTC' as const };

    const first = await venue.submit(req);
    const second = await venue.submit(req).catch((e: unknown) => e);
    const found = await venue.fetchOrder('BTC/USDT', req.clientOrderId);

    expect(first.status).toBe('accepted');
    expect(second).toBeInstanceOf(VenueCallError);
    expect(second).toMatchObject({ kind: 'unknown', code: 'DUPLICATE_CLIENT_ORDER_ID' });
    expect(found).toMatchObject({ clientOrderId: req.clientOrderId, status: 'accepted', venueOrderId: first.status === 'accepted' ? first.venueOrderId : '' });
  });
});

describe('an IP ban on MEXC (review #5)', () => {
  it('classifies an HTTP 418 as a ban whatever class and code the body gave it', () => {
    const now = 1_700_000_000_000;
    const viaBody = new ccxt.RateLimitExceeded('mexc 418 I\'m a Teapot {"code":429,"msg":"Too Many Requests"}');
    const viaStatus = new ccxt.DDoSProtection('mexc GET http://127.0.0.1:1/api/v3/openOrders?symbol=BTCUSDT 418 I\'m a Teapot {"code":429}');
    const limited = new ccxt.RateLimitExceeded('mexc {"code":429,"msg":"Too Many Requests"}');

    const c = [viaBody, viaStatus, limited].map((e) => classifyCcxtError(e, now, {}, { rateLimitMs: 1_000, banMs: 120_000 }));

    expect(c.map((x) => [x.kind, x.code, x.retryAfterMs])).toEqual([
      ['banned', 'VENUE_IP_BANNED', 120_000], ['banned', 'VENUE_IP_BANNED', 120_000], ['rateLimited', 'VENUE_RATE_LIMITED', 1_000],
    ]);
  });

  it('is a ban of the default length when MEXC answers 418 with its 429 body and no Retry-After', async () => {
    server = createServer((req, res) => {
      if (req.url?.includes('/api/v3/openOrders')) {
        res.writeHead(418, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 429, msg: 'Too Many Requests' }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ex = mexcSpotExchange({ baseUrl: base, apiKey: KEY, secret: SECRET, rateLimit: false });
    ex.setMarkets([{ id: 'BTCUSDT', symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT', spot: true, type: 'spot', active: true, precision: { amount: 0.000001, price: 0.01 }, limits: { amount: {}, price: {}, cost: {} } } as never]);
    const clock = new SimulatedClock(1_700_000_000_000);
    const venue = new CcxtExecVenue({ exchange: ex as never, venue: 'mexc', instruments: [BTC], clock, gate: new RestGate('loopback', clock), defaultBanMs: 300_000 });

    const err = await venue.fetchOpenOrders('BTC/USDT').catch((e: unknown) => e);

    expect(err).toMatchObject({ kind: 'banned', code: 'VENUE_IP_BANNED', retryAfterMs: 300_000 });
    expect(venue.blocked).toEqual({ kind: 'banned', untilTs: 1_700_000_300_000 });
  });

  it('reaches the executor from the simulator\'s MEXC dialect as a ban until the time it names, after a rate limit', async () => {
    sim = await startExchangeSim({ files: FILES, speed: 'manual', weightLimitPerMinute: 60, accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '1000' } }] });
    const inst = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'mexc' });
    const ex = mexcSpotExchange({ baseUrl: `${sim.url}/mexc`, apiKey: KEY, secret: SECRET, rateLimit: false });
    await ex.loadMarkets();
    const clock = new SimulatedClock(Date.now());
    const errors: VenueCallError[] = [];
    for (let i = 0; i < 40 && !errors.some((e) => e.kind === 'banned'); i++) {
      // A fresh gate each call, so every call reaches the simulator.
      const venue = new CcxtExecVenue({ exchange: ex as never, venue: 'mexc', instruments: [inst], clock, gate: new RestGate('t', clock) });
      await venue.fetchOpenOrders('BTC/USDT').catch((e: unknown) => errors.push(e as VenueCallError));
    }

    const kinds = errors.map((e) => e.kind);
    const ban = errors.find((e) => e.kind === 'banned');
    expect(kinds[0]).toBe('rateLimited');
    expect(ban).toMatchObject({ code: 'VENUE_IP_BANNED' });
    expect(ban!.message).toMatch(/ 418 .*IP banned until \d{13}/);
    expect(ban!.retryAfterMs).toBeGreaterThan(60_000);
  });
});

describe('MEXC trade history: a last booked trade older than the month MEXC keeps', () => {
  it('is searched for once: later polls read from the start of the kept month in one request', async () => {
    const now = 1_760_000_000_000;
    let requests = 0;
    const api: CcxtOrderApi = {
      createOrder: async () => ({}), cancelOrder: async () => ({}), fetchOrder: async () => undefined, fetchOpenOrders: async () => [],
      fetchBalance: async () => ({ info: { balances: [] } }),
      fetchMyTrades: async () => (requests++, []), // nothing since: the booked trade (40 days old) is past MEXC's month
    };
    const venue = new CcxtExecVenue({ exchange: api, venue: 'mexc', instruments: [BTC], clock: new SimulatedClock(now) });
    const perPoll: number[] = [];
    for (let i = 0; i < 3; i++) {
      requests = 0;
      expect(await venue.fetchMyTrades('BTC/USDT', '1000')).toEqual([]);
      perPoll.push(requests);
    }
    expect(perPoll[0]).toBeGreaterThan(5); // the walk back over the month, window by window
    expect(perPoll.slice(1)).toEqual([1, 1]);
  });
});
