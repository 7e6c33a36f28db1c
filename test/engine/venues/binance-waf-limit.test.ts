// Re-review finding (low-medium): Binance answers HTTP 403 when its WAF limit is violated ("HTTP 403 return code is
// used when the WAF Limit (Web Application Firewall) has been violated"), but ccxt's Binance client threw
// ExchangeNotAvailable (an HTML page) or a plain ExchangeError (JSON): an unknown outcome, nothing recorded on the
// origin's REST gate, so orders and market data kept hitting the limit. binanceExchange (the executor's client and
// BinanceRest's) throws a 403 as the WAF limit: a rate limit of the origin for Retry-After, else WAF_BACKOFF_MS. Its
// 5xx are unknown outcomes whatever the body's code ("the execution status is UNKNOWN").
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { clientOrderId } from '../../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots } from '../../../engine/types/price.ts';
import { BinanceRest, binanceExchange, type BinanceRestError } from '../../../engine/venues/binance/rest.ts';
import { CcxtExecVenue, classifyCcxtError, classifyOnGate, WAF_BACKOFF_MS } from '../../../engine/venues/ccxt-exec.ts';
import { resetRestGates, restGateFor, RestGate } from '../../../engine/venues/rest-gate.ts';

const NOW = 1_700_000_000_000;
const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

// What binanceExchange throws for an answer with HTTP `status` and `body`.
function thrownBy(status: number, body: string): unknown {
  const ex = binanceExchange({ apiKey: 'k', secret: 's' });
  const json = body.startsWith('{') ? JSON.parse(body) as never : undefined;
  try {
    ex.handleErrors(status, 'x', 'https://api.binance.com/api/v3/order', 'POST', {}, body, json, {}, '');
    ex.handleHttpStatusCode(status, 'x', 'https://api.binance.com/api/v3/order', 'POST', body);
  } catch (err) {
    return err;
  }
  throw new Error(`binance HTTP ${status} ${body} threw nothing`);
}

describe('binanceExchange: the HTTP status before the body', () => {
  it('calls a 403 (an HTML page or JSON) the WAF limit: a rate limit of WAF_BACKOFF_MS recorded on the gate', () => {
    for (const body of ['<html><body><h1>403 Forbidden</h1></body></html>', '{"code":403,"msg":"Access Denied"}']) {
      const gate = new RestGate('https://api.binance.com', { now: () => NOW });
      const { error, block } = classifyOnGate(gate, thrownBy(403, body), {});
      expect([body, error.kind, error.code, block]).toEqual([body, 'rateLimited', 'VENUE_RATE_LIMITED', { kind: 'rateLimited', retryAfterMs: WAF_BACKOFF_MS }]);
      expect(gate.blocked?.remainingMs).toBe(WAF_BACKOFF_MS);
    }
  });

  it('calls a 403 country block a refusal naming it, not a limit that passes', () => {
    const body = '<html><h1>403 ERROR</h1><h2>The request could not be satisfied.</h2>Request blocked. We can\'t connect to the server for this app or website at this time.</html>';
    const gate = new RestGate('https://api.binance.com', { now: () => NOW });
    const { error, block } = classifyOnGate(gate, thrownBy(403, body), {});
    expect([error.kind, block, gate.blocked]).toEqual(['rejected', undefined, undefined]);
    expect(error.message).toMatch(/access from this location is blocked/);
  });

  it('calls -1034 (too many concurrent requests, absent from ccxt\'s map) a rate limit, not a refusal', () => {
    expect(classifyCcxtError(thrownBy(400, '{"code":-1034,"msg":"Too many concurrent requests."}'), NOW, {})).toMatchObject({ kind: 'rateLimited', code: 'VENUE_RATE_LIMITED' });
  });

  it('calls a 5xx an unknown outcome whatever code its body carries', () => {
    for (const body of ['{"code":-1199,"msg":"a code the map lacks"}', '{"code":-2010,"msg":"Account has insufficient balance for requested action."}']) {
      expect(classifyCcxtError(thrownBy(503, body), NOW, {})).toMatchObject({ kind: 'unknown', code: 'EXCHANGE_UNAVAILABLE' });
    }
  });
});

// A loopback Binance answering 403 to every request, with `headers`; `requests` counts what reached it.
async function wafVenue(headers: Record<string, string>): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url?.split('?')[0]}`);
    res.writeHead(403, { 'content-type': 'text/html', ...headers }).end('<html><body><h1>403 Forbidden</h1></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('Binance\'s WAF limit on the shared gate of the origin', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
    resetRestGates();
  });

  it('holds back the market-data client and the executor for Retry-After once klines meet it, nothing more sent', async () => {
    const venueSide = await wafVenue({ 'retry-after': '90' });
    closers.push(venueSide.close);
    const wall = new SimulatedClock(NOW);
    resetRestGates(wall);
    const rest = new BinanceRest({ baseUrl: venueSide.url, rateLimit: false });
    const clock = new SimulatedClock(NOW);
    const venue = new CcxtExecVenue({
      exchange: binanceExchange({ baseUrl: venueSide.url, apiKey: 'k', secret: 's', rateLimit: false }) as never,
      venue: 'binance', instruments: [BTC], clock, gate: restGateFor(venueSide.url),
    });

    const klines = await rest.klines(BTC, '1m', { nowMs: NOW }).catch((e: unknown) => e) as BinanceRestError;
    const sent = venueSide.requests.length;
    const depth = await rest.depthSnapshot(BTC, 100).catch((e: unknown) => e) as BinanceRestError;
    const order = await venue.submit({ clientOrderId: clientOrderId('cbWafBn1'), symbol: 'BTC/USDT', side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 1_000_000 as never, timeInForce: 'GTC' })
      .catch((e: unknown) => e);

    expect(sent).toBe(1);
    expect([klines.httpStatus, klines.block]).toEqual([403, { kind: 'rateLimited', retryAfterMs: 90_000 }]);
    expect(rest.gate.blocked).toMatchObject({ kind: 'rateLimited', remainingMs: 90_000 });
    expect(depth.message).toMatch(/not sent: .* rate limited for 90000 ms more/);
    expect(depth.block).toEqual({ kind: 'rateLimited', retryAfterMs: 90_000 });
    expect(order).toMatchObject({ kind: 'rateLimited', retryAfterMs: 90_000 });
    expect(venueSide.requests).toHaveLength(sent);
    wall.advance(90_000);
    expect(rest.gate.blocked).toBeUndefined();
  });

  it('blocks the executor\'s venue for WAF_BACKOFF_MS when the 403 names no Retry-After', async () => {
    const venueSide = await wafVenue({});
    closers.push(venueSide.close);
    const clock = new SimulatedClock(NOW);
    const venue = new CcxtExecVenue({ exchange: binanceExchange({ baseUrl: venueSide.url, apiKey: 'k', secret: 's', rateLimit: false }) as never, venue: 'binance', instruments: [BTC], clock });

    const poll = await venue.fetchOpenOrders('BTC/USDT').catch((e: unknown) => e);

    expect(poll).toMatchObject({ kind: 'rateLimited', code: 'VENUE_RATE_LIMITED', retryAfterMs: WAF_BACKOFF_MS });
    expect(venue.blocked).toMatchObject({ kind: 'rateLimited', untilTs: NOW + WAF_BACKOFF_MS });
  });
});
