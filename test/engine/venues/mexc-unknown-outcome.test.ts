// Review finding (MEXC, high): ccxt's MEXC client throws a plain ExchangeError for a body code its map does not name
// and for MEXC's 500 "Internal error", whatever the HTTP status, and classifyCcxtError called that a rejection: an
// order MEXC had accepted was recorded rejected, never queried, and stayed live untracked. MEXC: "HTTP 5XX ... the
// execution status is UNKNOWN". Now the HTTP status decides first (5xx: unknown), and a plain ExchangeError with an
// internal-error code (500, 20002, 730000) or none is an unknown outcome (the executor queries by client id before
// anything else); named refusals, and a plain ExchangeError with any other code (re-review: MEXC 30000 "suspended
// transaction for the symbol" and the like, see ccxt-exec-plain-refusal.test.ts), stay rejections.
// Review finding (MEXC, medium): MEXC's WAF limit (HTTP 403, body code 403 "Access Denied") was a rejection or an
// unavailable venue and nothing held back the origin's other callers: it is a rate limit of the origin now (Retry-After,
// else WAF_BACKOFF_MS), recorded on the shared gate. Against the simulator's /mexc dialect behind a loopback proxy.
import ccxt, { type Exchange } from 'ccxt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { binanceCcxtOptions } from '../../../engine/venues/binance/rest.ts';
import { CcxtExecVenue, classifyCcxtError, classifyOnGate, WAF_BACKOFF_MS } from '../../../engine/venues/ccxt-exec.ts';
import { MexcRest, mexcSpotExchange } from '../../../engine/venues/mexc/rest.ts';
import { resetRestGates, restGateFor, RestGate } from '../../../engine/venues/rest-gate.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { VenueCallError } from '../../../engine/venues/venue.ts';
import { capturingLogger, drive, limitIntent, recordingBus, tempStore } from '../../actors/trading-executor/helpers.ts';
import { startFaultProxy, type FaultProxy, type FaultRule } from './mexc-fault-proxy.ts';

const KEY = 'mexcUnknownKey01';
const SECRET = 'mexc-unknown-secret-01';
const BTC = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'mexc' });
const NOW = 1_700_000_000_000;

// What the engine's MEXC client throws for an answer with HTTP `status` and `body`, as classifyCcxtError sees it.
function mexcAnswer(status: number, body: string): VenueCallError {
  const ex = mexcSpotExchange({ apiKey: 'k', secret: 's' });
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  try {
    ex.handleErrors(status, 'x', 'https://api.mexc.com/api/v3/order', 'POST', {}, body, json as never, {}, '');
    ex.handleHttpStatusCode(status, 'x', 'https://api.mexc.com/api/v3/order', 'POST', body);
  } catch (err) {
    return classifyCcxtError(err, NOW, {});
  }
  throw new Error(`HTTP ${status} ${body} threw nothing`);
}

describe('MEXC error answers: the HTTP status first, then the body code', () => {
  it('calls every 5xx, and an internal-error code ccxt leaves plain, an unknown outcome; refusals stay rejections', () => {
    const unknown: Array<[number, string]> = [
      [500, '{"code":500,"msg":"Internal error"}'],
      [503, '{"code":730000,"msg":"Request failed, please contact the customer service"}'],
      [500, '{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}'],
      // The status decides whatever code the body carries.
      [502, '{"code":30005,"msg":"Oversold"}'],
    ];
    const refusals: Array<[number, string, string]> = [
      [400, '{"code":30005,"msg":"Oversold"}', 'INSUFFICIENT_FUNDS'],
      [400, '{"code":10101,"msg":"Insufficient balance"}', 'INSUFFICIENT_FUNDS'],
      [400, '{"code":-2013,"msg":"Order does not exist."}', 'ORDER_NOT_FOUND'],
      [400, '{"code":700002,"msg":"Signature for this request is not valid."}', 'AUTH_FAILED'],
      [400, '{"code":-1121,"msg":"Invalid symbol."}', 'UNKNOWN_SYMBOL'],
    ];

    expect(unknown.map(([s, b]) => [s, mexcAnswer(s, b).kind, mexcAnswer(s, b).code])).toEqual(unknown.map(([s]) => [s, 'unknown', 'EXCHANGE_UNAVAILABLE']));
    // HTTP 200 with an error code ccxt's map calls a plain ExchangeError (20002 "Internal system error").
    expect(mexcAnswer(200, '{"code":20002,"msg":"Internal system error please contact support"}')).toMatchObject({ kind: 'unknown', code: 'VENUE_ERROR' });
    expect(mexcAnswer(400, '{"code":730000,"msg":"Request failed, please contact the customer service"}')).toMatchObject({ kind: 'unknown', code: 'VENUE_ERROR' });
    expect(mexcAnswer(400, '{"code":123456,"msg":"a code no map names"}')).toMatchObject({ kind: 'rejected', code: 'VENUE_REJECTED' });
    expect(refusals.map(([s, b]) => [mexcAnswer(s, b).kind, mexcAnswer(s, b).code])).toEqual(refusals.map(([, , code]) => ['rejected', code]));
  });

  it('leaves Binance\'s refusals, named or not, rejections and its internal errors unknown outcomes', () => {
    const ex = new ccxt.binance(binanceCcxtOptions({ apiKey: 'k', secret: 's' }) as never) as unknown as Exchange;
    const classify = (status: number, body: string): VenueCallError => {
      try {
        ex.handleErrors(status, 'x', 'https://api.binance.com/api/v3/order', 'POST', {}, body, JSON.parse(body) as never, {}, '');
      } catch (err) {
        return classifyCcxtError(err, NOW, {});
      }
      throw new Error(`binance HTTP ${status} ${body} threw nothing`);
    };

    expect(classify(400, '{"code":-2010,"msg":"Account has insufficient balance for requested action."}')).toMatchObject({ kind: 'rejected', code: 'INSUFFICIENT_FUNDS' });
    expect(classify(400, '{"code":-1013,"msg":"Filter failure: LOT_SIZE"}')).toMatchObject({ kind: 'rejected', code: 'INVALID_ORDER' });
    expect(classify(500, '{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}').kind).toBe('unknown');
    expect(classify(400, '{"code":-99999,"msg":"a code no map names"}')).toMatchObject({ kind: 'rejected', code: 'VENUE_REJECTED' });
  });

  it('calls a 403 MEXC\'s WAF limit (JSON or an HTML page): a rate limit of at least a minute, on the gate', () => {
    const answers = [[403, '{"code":403,"msg":"Access Denied"}'], [403, '<html><body>403 Forbidden</body></html>'], [200, '{"code":403,"msg":"Access Denied"}']] as const;
    for (const [status, body] of answers) {
      const gate = new RestGate('https://api.mexc.com', { now: () => NOW });
      const ex = mexcSpotExchange({ apiKey: 'k', secret: 's' });
      let thrown: unknown;
      try {
        ex.handleErrors(status, 'Forbidden', 'https://api.mexc.com/api/v3/order', 'POST', {}, body, (body.startsWith('{') ? JSON.parse(body) : undefined) as never, {}, '');
        ex.handleHttpStatusCode(status, 'Forbidden', 'https://api.mexc.com/api/v3/order', 'POST', body);
      } catch (err) {
        thrown = err;
      }
      const { error, block } = classifyOnGate(gate, thrown, {});
      expect([status, body, error.kind, error.code, block]).toEqual([status, body, 'rateLimited', 'VENUE_RATE_LIMITED', { kind: 'rateLimited', retryAfterMs: WAF_BACKOFF_MS }]);
      expect(gate.blocked?.remainingMs).toBe(WAF_BACKOFF_MS);
    }
    expect(WAF_BACKOFF_MS).toBeGreaterThanOrEqual(60_000);
  });

  it('keeps a refused key or signature an authentication failure under an HTTP 403, and blocks nothing', () => {
    for (const body of ['{"code":10072,"msg":"Api key info invalid"}', '{"code":700002,"msg":"Signature for this request is not valid."}', '{"code":602,"msg":"Signature verification failed!"}']) {
      const gate = new RestGate('https://api.mexc.com', { now: () => NOW });
      let thrown: unknown;
      try {
        mexcSpotExchange({ apiKey: 'k', secret: 's' }).handleErrors(403, 'Forbidden', 'https://api.mexc.com/api/v3/order', 'POST', {}, body, JSON.parse(body) as never, {}, '');
      } catch (err) {
        thrown = err;
      }
      const { error, block } = classifyOnGate(gate, thrown, {});
      expect([body, error.kind, block, gate.blocked]).toEqual([body, 'rejected', undefined, undefined]);
    }
  });
});

let sim: ExchangeSim;
const proxies: FaultProxy[] = [];
const cleanups: Array<() => Promise<void>> = [];
beforeAll(async () => {
  sim = await startExchangeSim({ files: ['data/recordings/spot_btcusdt_20240808.jsonl.gz'], speed: 'manual', accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '100000' } }] });
  await sim.replay.advanceBy(5_000);
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const p of proxies.splice(0)) await p.close();
  resetRestGates();
});
afterAll(async () => {
  await sim?.close();
});

async function proxied(rule: FaultRule): Promise<FaultProxy> {
  const p = await startFaultProxy(`${sim.url}/mexc`, rule);
  proxies.push(p);
  return p;
}

describe('an order MEXC accepted but answered HTTP 500 {"code":500}', () => {
  it('is queried by client id and tracked as accepted, never recorded rejected nor sent again; a halt cancels it', async () => {
    let faults = 0;
    const proxy = await proxied((method, path) => (method === 'POST' && path.endsWith('/api/v3/order') && faults++ === 0
      ? { status: 500, body: '{"code":500,"msg":"Internal error"}', forward: true } : undefined));
    const s = tempStore(undefined, { syncCommits: true });
    cleanups.push(s.cleanup);
    const clock = new SimulatedClock(sim.clock.now());
    const rec = recordingBus();
    const cap = capturingLogger();
    const venue = new CcxtExecVenue({ exchange: mexcSpotExchange({ baseUrl: proxy.url, apiKey: KEY, secret: SECRET, rateLimit: false }) as never, venue: 'mexc', instruments: [BTC], clock });
    const exec = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [BTC], log: cap.logger, rng: () => 0.5, pollMs: 3_600_000 });
    cleanups.push(async () => exec.stop());
    await exec.start();
    const bid = sim.venue.market('BTCUSDT').sync.book.bestBid()! - 100_000;

    rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('mexc500', bid, { lots: 100 as Lots }), ts: clock.now() });
    await drive(clock, () => !exec.busy, 100, 10_000);
    const cid = clientOrderIdFor('mexc500');
    const atVenue = await venue.fetchOpenOrders('BTC/USDT');

    expect(faults).toBe(1);
    expect(atVenue.map((o) => o.clientOrderId)).toEqual([cid]);
    expect(exec.order(cid)).toMatchObject({ status: 'accepted', venueOrderId: atVenue[0]!.venueOrderId });
    expect(rec.of('exec.orderRejected')).toEqual([]);
    expect(proxy.requests.filter((r) => r === 'POST /api/v3/order')).toHaveLength(1);
    expect(exec.counters.queriedAfterUnknown).toBeGreaterThanOrEqual(1);

    rec.bus.publish({ type: 'risk.stateChanged', state: 'halted', reason: 'test halt', ts: clock.now() } as never);
    await drive(clock, () => !exec.busy && exec.order(cid)?.status === 'cancelled', 100, 10_000);
    expect(await venue.fetchOpenOrders('BTC/USDT')).toEqual([]);
  }, 60_000);
});

describe('MEXC\'s WAF limit (HTTP 403) on the shared gate of the origin', () => {
  it('holds back the executor\'s next call and the market-data client for Retry-After, nothing more reaching MEXC', async () => {
    const proxy = await proxied((_m, path) => (path.endsWith('/api/v3/openOrders')
      ? { status: 403, body: '{"code":403,"msg":"Access Denied"}', headers: { 'retry-after': '120' }, forward: false } : undefined));
    const wall = new SimulatedClock(NOW);
    resetRestGates(wall);
    const gate = restGateFor(proxy.url);
    const clock = new SimulatedClock(sim.clock.now());
    const venue = new CcxtExecVenue({ exchange: mexcSpotExchange({ baseUrl: proxy.url, apiKey: KEY, secret: SECRET, rateLimit: false }) as never, venue: 'mexc', instruments: [BTC], clock, gate });
    const data = new MexcRest({ baseUrl: proxy.url, rateLimit: false });

    const poll = await venue.fetchOpenOrders('BTC/USDT').catch((e: unknown) => e);
    const sent = proxy.requests.length;
    const order = await venue.submit({ clientOrderId: clientOrderId('cbWaf1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 1_000_000 as never, timeInForce: 'GTC' })
      .catch((e: unknown) => e);
    const price = await data.tickerPrice('BTC/USDT').catch((e: unknown) => e);

    expect(poll).toMatchObject({ kind: 'rateLimited', code: 'VENUE_RATE_LIMITED', retryAfterMs: 120_000 });
    expect(gate.blocked).toMatchObject({ kind: 'rateLimited', remainingMs: 120_000 });
    expect(order).toMatchObject({ kind: 'rateLimited', retryAfterMs: 120_000 });
    expect(String(price)).toMatch(/not sent: .* rate limited for 120000 ms more/);
    expect(proxy.requests).toHaveLength(sent);
    wall.advance(120_000);
    expect(gate.blocked).toBeUndefined();
  }, 60_000);

  it('blocks for WAF_BACKOFF_MS when the 403 is an HTML page without Retry-After', async () => {
    const proxy = await proxied((_m, path) => (path.endsWith('/api/v3/openOrders') ? { status: 403, body: '<html><body>403 Forbidden</body></html>', forward: false } : undefined));
    const clock = new SimulatedClock(sim.clock.now());
    const venue = new CcxtExecVenue({ exchange: mexcSpotExchange({ baseUrl: proxy.url, apiKey: KEY, secret: SECRET, rateLimit: false }) as never, venue: 'mexc', instruments: [BTC], clock });

    const poll = await venue.fetchOpenOrders('BTC/USDT').catch((e: unknown) => e);

    expect(poll).toMatchObject({ kind: 'rateLimited', retryAfterMs: WAF_BACKOFF_MS });
    expect(venue.blocked).toMatchObject({ kind: 'rateLimited', untilTs: clock.now() + WAF_BACKOFF_MS });
  }, 60_000);
});
