// MexcRest (ccxt `mexc`, URLs rewritten to loopback) against the exchange simulator, whose /api/v3 klines and
// ticker/price have the shapes MEXC's v3 spot API shares with Binance's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MexcRest, parseRawKline } from '../../../../engine/venues/mexc/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';
import { loadKlinesCsv } from '../../../../engine/market/klines-csv.ts';
import { VenueError } from '../../../../engine/types/errors.ts';

let sim: ExchangeSim;
const paths: string[] = [];

beforeAll(async () => {
  sim = await startExchangeSim({ files: ['data/recordings/spot_ethusdt_20240808.jsonl.gz'], speed: 'manual' });
  await sim.replay.advanceBy(30_000);
  sim.events.on('request', (r: { path: string }) => paths.push(r.path));
});
afterAll(async () => {
  await sim?.close();
});

describe('MexcRest', () => {
  it('rewrites every ccxt mexc API URL onto the loopback base', () => {
    const rest = new MexcRest({ baseUrl: sim.url, rateLimit: false });
    const urls: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') urls.push(v);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk((rest.exchange as unknown as { urls: { api: unknown } }).urls.api);
    expect(urls.length).toBeGreaterThan(3);
    expect(urls.every((u) => u.startsWith(sim.url))).toBe(true);
  });

  it('returns 1m klines as raw decimal strings, equal to the bundled kline rows', async () => {
    const rest = new MexcRest({ baseUrl: sim.url, rateLimit: false });
    const start = Date.UTC(2024, 7, 8, 23, 40);
    const rows = await rest.klines('ETH/USDT', '1m', { startTime: start, limit: 5 });
    const csv = loadKlinesCsv('data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz').candles.filter((c) => c.openTime >= start).slice(0, 5);
    expect(paths).toContain('/api/v3/klines');
    expect(rows.map((r) => r.openTime)).toEqual(csv.map((c) => c.openTime));
    expect(rows.every((r) => typeof r.open === 'string' && typeof r.volume === 'string')).toBe(true);
    expect(rows.map((r) => [Number(r.open), Number(r.high), Number(r.low), Number(r.close), Number(r.volume)])).toEqual(csv.map((c) => [c.open, c.high, c.low, c.close, c.volume]));
    expect(rows[0]!.closeTime).toBe(start + 59_999);
  });

  it('returns the ticker price as the venue\'s decimal string', async () => {
    const rest = new MexcRest({ baseUrl: sim.url, rateLimit: false });
    const px = await rest.tickerPrice('ETH/USDT');
    expect(px).toMatch(/^\d+\.\d+$/);
    expect(Number(px)).toBeGreaterThan(2600);
    expect(Number(px)).toBeLessThan(2700);
  });

  it('wraps a refused request in a VenueError naming the call', async () => {
    const rest = new MexcRest({ baseUrl: 'http://127.0.0.1:9', rateLimit: false, timeoutMs: 2_000 });
    const err = await rest.tickerPrice('ETH/USDT').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VenueError);
    expect((err as Error).message).toMatch(/^mexc ticker\/price failed/);
  });

  it.each([
    [[1723160400000, '2680.1', '2681', '2679.5', '2680.4', '12.5', 1723160459999, '33500.1'], undefined],
    [[1723160400000, '2680.1', '2681', '2679.5', '2680.4', '12.5'], 'not a kline array'],
    [[1723160400000, 'NaN', '2681', '2679.5', '2680.4', '12.5', 1723160459999], 'open "NaN" is not a decimal'],
    [[-5, '1', '1', '1', '1', '1', 1], 'open time -5 is not a time'],
    [{ t: 1 }, 'not a kline array'],
  ])('checks kline row %j', (row, error) => {
    const run = () => parseRawKline(row, 'row');
    if (error === undefined) expect(run()).toEqual({ openTime: 1723160400000, open: '2680.1', high: '2681', low: '2679.5', close: '2680.4', volume: '12.5', closeTime: 1723160459999 });
    else expect(run).toThrow(error);
  });
});
