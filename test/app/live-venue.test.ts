// The live order venue of a config (app/live-venue.ts): the increments come from the venue's exchangeInfo (here the
// simulator's Binance side and MEXC dialect), and a price grid that differs from the data's refuses to start.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { binanceInstrument, liveVenue } from '../../app/live-venue.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { BINANCE_SPOT_DEFAULTS } from '../../engine/types/instrument.ts';
import { formatDecimal, formatFixed } from '../../engine/types/decimal.ts';
import { startExchangeSim, type ExchangeSim } from '../../engine/venues/sim/server.ts';
import { testConfig } from '../e2e/helpers.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEYS = { mexcApiKey: 'liveVenueKey0001', mexcApiSecret: 'live-venue-secret-0001', binanceApiKey: 'liveVenueKey0001', binanceApiSecret: 'live-venue-secret-0001' };
const sims: ExchangeSim[] = [];
const proxies: Server[] = [];
afterEach(async () => {
  for (const s of sims.splice(0)) await s.close();
  for (const p of proxies.splice(0)) await new Promise((r) => p.close(r));
});

/**
 * A loopback proxy in front of `target` that keeps each request's path, query and body, to read what was signed; a
 * path `down` matches is answered 503 without reaching `target` (an outage of that service).
 */
async function recordingProxy(target: string, down: (path: string) => boolean = () => false): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push(`${req.url ?? ''} ${body.toString('utf8')}`);
      if (down(new URL(req.url ?? '/', target).pathname)) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('futures maintenance');
        return;
      }
      const up = request(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  proxies.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function venueSim(btc: { tickSize: string; lotSize: string; minNotional: string }): Promise<ExchangeSim> {
  const sim = await startExchangeSim({
    files: FILES, speed: 'manual', accounts: [{ apiKey: KEYS.mexcApiKey, secret: KEYS.mexcApiSecret, balances: { USDT: '100' } }],
    instruments: { BTCUSDT: { symbol: 'BTC/USDT', venue: 'sim', ...btc } },
  });
  sims.push(sim);
  return sim;
}

const configFor = (sim: ExchangeSim, symbol = 'BTC/USDT', venue: 'binance' | 'mexc' = 'mexc') => testConfig({
  symbols: { primary: symbol, reference: symbol === 'BTC/USDT' ? 'ETH/USDT' : 'BTC/USDT' }, execution: { venue },
  venues: { binance: { restUrl: sim.url, wsUrl: sim.wsUrl }, mexc: { enabled: false, restUrl: `${sim.url}/mexc` } },
});

// MEXC states precisions, Binance filters padded to 8 places; both differ from the bundled lot (0.00001) here.
it.each([
  { venue: 'mexc', sim: { tickSize: '0.01', lotSize: '0.000001', minNotional: '1' }, want: ['mexc', '0.01', '0.000001', '1'] },
  { venue: 'binance', sim: { tickSize: '0.01', lotSize: '0.0001', minNotional: '10' }, want: ['binance', '0.01', '0.0001', '10'] },
] as const)('liveVenue on $venue trades with the increments the venue states, not the bundled ones', async ({ venue: name, sim: inc, want }) => {
  const sim = await venueSim(inc);
  const venue = await liveVenue(configFor(sim, 'BTC/USDT', name), KEYS, new SimulatedClock(sim.clock.now()));
  const i = venue.instrument('BTC/USDT')!;
  expect(venue.id).toBe(name);
  expect([i.venue, formatDecimal(i.tickSize), formatDecimal(i.lotSize), formatFixed(i.minNotional)]).toEqual(want);
  expect(BINANCE_SPOT_DEFAULTS['BTC/USDT']!.lotSize).toBe('0.00001');
});

describe('liveVenue on MEXC', () => {
  it('refuses when MEXC prices on another tick grid than the Binance data, and without MEXC keys', async () => {
    const sim = await venueSim({ tickSize: '0.1', lotSize: '0.00001', minNotional: '5' });
    const err = await liveVenue(configFor(sim), KEYS, new SimulatedClock(sim.clock.now())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/MEXC prices BTC\/USDT in steps of 0\.1 but the market data \(bundled Binance increments\) in steps of 0\.01/);
    await expect(liveVenue(configFor(sim), {}, new SimulatedClock(0))).rejects.toThrow(/COBALT_MEXC_API_KEY and COBALT_MEXC_API_SECRET/);
  });

  // Review finding 2: ccxt's MEXC fetchMarkets always loads the futures contract list with the spot markets (its
  // fetchMarkets.types option is not read there), so a futures outage refused a spot-only start.
  it('loads the spot markets only: a start goes ahead while the futures contract list answers 503', async () => {
    const sim = await venueSim({ tickSize: '0.01', lotSize: '0.00001', minNotional: '5' });
    const proxy = await recordingProxy(sim.url, (p) => p.startsWith('/mexc/api/v1/contract/'));
    const config = testConfig({
      symbols: { primary: 'BTC/USDT', reference: 'ETH/USDT' }, execution: { venue: 'mexc' },
      venues: { binance: { restUrl: sim.url, wsUrl: sim.wsUrl }, mexc: { enabled: false, restUrl: `${proxy.url}/mexc` } },
    });
    const started = await liveVenue(config, KEYS, new SimulatedClock(sim.clock.now())).then((v) => v.instrument('BTC/USDT')?.venue, (e: Error) => e.message);
    const paths = proxy.seen.map((r) => r.split(/[? ]/)[0]);
    expect(started).toBe('mexc');
    expect(paths).toContain('/mexc/api/v3/exchangeInfo');
    expect(paths.filter((p) => p!.includes('/contract/'))).toEqual([]);
  });

  it('refuses a symbol MEXC does not list', async () => {
    const sim = await venueSim({ tickSize: '0.01', lotSize: '0.00001', minNotional: '5' });
    await expect(liveVenue(configFor(sim, 'ETH/USDT'), KEYS, new SimulatedClock(0))).rejects.toThrow(/MEXC lists no spot market ETH\/USDT/);
  });
});

describe('liveVenue on Binance', () => {
  // Review finding 3: ccxt calls a TRADING market active whatever isSpotTradingAllowed says, so the start went ahead
  // and every order was rejected.
  it('refuses a TRADING market whose isSpotTradingAllowed is false', async () => {
    const btc = (spot: boolean) => ({
      symbol: 'BTCUSDT', status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDT', baseAssetPrecision: 8, quoteAssetPrecision: 8, quotePrecision: 8,
      orderTypes: ['LIMIT', 'MARKET'], isSpotTradingAllowed: spot, permissions: [], permissionSets: [['SPOT']],
      filters: [
        { filterType: 'PRICE_FILTER', tickSize: '0.01000000', minPrice: '0.01', maxPrice: '1000000' },
        { filterType: 'LOT_SIZE', stepSize: '0.00001000', minQty: '0.00001', maxQty: '9000' },
        { filterType: 'NOTIONAL', minNotional: '5.00000000' },
      ],
    });
    let spot = true;
    const server = createServer((req, res) => {
      const ok = new URL(req.url ?? '/', 'http://fake.invalid').pathname === '/api/v3/exchangeInfo';
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { timezone: 'UTC', serverTime: 0, rateLimits: [], symbols: [btc(spot)] } : {}));
    });
    proxies.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = testConfig({
      symbols: { primary: 'BTC/USDT', reference: 'ETH/USDT' }, execution: { venue: 'binance' },
      venues: { binance: { restUrl: base, wsUrl: 'ws://127.0.0.1:1' }, mexc: { enabled: false, restUrl: `${base}/mexc` } },
    });
    const open = await liveVenue(config, KEYS, new SimulatedClock(0)).then((v) => v.id, (e: Error) => e.message);
    spot = false;
    const closed = await liveVenue(config, KEYS, new SimulatedClock(0)).then((v) => v.id, (e: unknown) => e);
    expect(open).toBe('binance');
    expect(closed).toBeInstanceOf(ConfigError);
    expect((closed as Error).message).toBe("Binance's BTC/USDT market is not open for spot trading (isSpotTradingAllowed is false)");
  });

  // The Binance client signed with ccxt's default recvWindow (10 000 ms) while the executor waits the
  // configured one (submitSettleMs) after an unknown outcome, so a request could still be accepted after the query.
  it('signs its requests with the configured recvWindow, the wait the executor uses after an unknown outcome', async () => {
    const sim = await venueSim({ tickSize: '0.01', lotSize: '0.00001', minNotional: '5' });
    const proxy = await recordingProxy(sim.url);
    const config = testConfig({
      symbols: { primary: 'BTC/USDT', reference: 'ETH/USDT' }, execution: { venue: 'binance' },
      venues: { binance: { restUrl: proxy.url, wsUrl: sim.wsUrl, recvWindowMs: 7_000 }, mexc: { enabled: false, restUrl: `${sim.url}/mexc` } },
    });
    const venue = await liveVenue(config, KEYS, new SimulatedClock(sim.clock.now()));
    await venue.fetchBalances();
    const signed = proxy.seen.filter((r) => r.includes('signature='));
    expect(signed.length).toBeGreaterThan(0);
    expect(signed.map((r) => /recvWindow=(\d+)/.exec(r)?.[1])).toEqual(signed.map(() => '7000'));
    expect(venue.submitSettleMs).toBe(7_000);
  });

  it('refuses a price step other than the data\'s, an unlisted symbol, and missing or malformed filters', async () => {
    const sim = await venueSim({ tickSize: '0.1', lotSize: '0.00001', minNotional: '5' });
    await expect(liveVenue(configFor(sim, 'BTC/USDT', 'binance'), KEYS, new SimulatedClock(0)))
      .rejects.toThrow(/Binance prices BTC\/USDT in steps of 0\.1 but the market data \(bundled Binance increments\) in steps of 0\.01/);
    await expect(liveVenue(configFor(sim, 'ETH/USDT', 'binance'), KEYS, new SimulatedClock(0))).rejects.toThrow(/Binance lists no spot market ETH\/USDT/);
    const market = (filters: unknown[]) => ({ loadMarkets: async () => ({ 'BTC/USDT': { active: true, info: { filters } } }) });
    const price = { filterType: 'PRICE_FILTER', tickSize: '0.01000000' };
    const lot = { filterType: 'LOT_SIZE', stepSize: '0.00001000' };
    const old = await binanceInstrument(market([price, lot, { filterType: 'MIN_NOTIONAL', minNotional: '5.00000000' }]), 'BTC/USDT');
    expect(formatFixed(old.minNotional)).toBe('5');
    await expect(binanceInstrument(market([price, { filterType: 'NOTIONAL', minNotional: '5' }]), 'BTC/USDT')).rejects.toThrow(/LOT_SIZE stepSize 'undefined'/);
    await expect(binanceInstrument(market([price, { filterType: 'LOT_SIZE', stepSize: '0.00000000' }, { filterType: 'NOTIONAL', minNotional: '5' }]), 'BTC/USDT')).rejects.toThrow(/LOT_SIZE stepSize '0.00000000' is not a positive decimal/);
    await expect(binanceInstrument({ loadMarkets: async () => ({ 'BTC/USDT': { active: false } }) }, 'BTC/USDT')).rejects.toThrow(/not open for spot trading/);

    // Padded zeros are dropped: '0.01000000' → '0.01', '1.00' → '1'; '100' and '0.00001' stay as they are.
    expect([formatDecimal(old.tickSize), formatDecimal(old.lotSize)]).toEqual(['0.01', '0.00001']);
    const plain = await binanceInstrument(market([{ filterType: 'PRICE_FILTER', tickSize: '100' }, { filterType: 'LOT_SIZE', stepSize: '0.00001' }, { filterType: 'NOTIONAL', minNotional: '1.00' }]), 'BTC/USDT');
    expect([formatDecimal(plain.tickSize), formatDecimal(plain.lotSize), formatFixed(plain.minNotional)]).toEqual(['100', '0.00001', '1']);
  });
});
