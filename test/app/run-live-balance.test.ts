// `cobalt run --live` whose first signed call (the account balances) fails refuses to start like any other start
// problem: one `cobalt run:` line without the signed URL, exit code 2, no stack (review_dash finding 4). The venue
// is a local fake Binance: server time and exchangeInfo answer, /api/v3/account is down (503).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../../app/run.ts';

const API_KEY = 'fake-binance-api-key-0123456789abcdef';
const API_SECRET = 'fake-binance-api-secret-0123456789abcdef';
const ETHUSDT = {
  symbol: 'ETHUSDT', status: 'TRADING', baseAsset: 'ETH', quoteAsset: 'USDT', baseAssetPrecision: 8, quoteAssetPrecision: 8, quotePrecision: 8,
  orderTypes: ['LIMIT', 'MARKET'], isSpotTradingAllowed: true, isMarginTradingAllowed: false, permissions: ['SPOT'], permissionSets: [['SPOT']],
  filters: [
    { filterType: 'PRICE_FILTER', tickSize: '0.01000000', minPrice: '0.01', maxPrice: '1000000' },
    { filterType: 'LOT_SIZE', stepSize: '0.00010000', minQty: '0.0001', maxQty: '9000' },
    { filterType: 'NOTIONAL', minNotional: '5.00000000' },
  ],
};

let server: Server;
let dir: string;
const requested: string[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cobalt-live-balance-'));
  server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://fake.invalid');
    requested.push(u.pathname);
    const json = (body: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/api/v3/time') return json({ serverTime: Date.now() });
    if (u.pathname === '/api/v3/exchangeInfo') return json({ timezone: 'UTC', serverTime: Date.now(), rateLimits: [], symbols: [ETHUSDT] });
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('down');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('cobalt run --live: the account cannot be read', () => {
  it('refuses to start with one line, exit code 2, and no signed URL', async () => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = join(dir, 'live.yaml');
    writeFileSync(config, `mode: live\nvenues:\n  binance:\n    restUrl: ${base}\n    wsUrl: ws://127.0.0.1:1\nstore:\n  path: ${join(dir, 'store')}\ndashboard:\n  enabled: false\n`);
    vi.stubEnv('COBALT_API_KEY', API_KEY);
    vi.stubEnv('COBALT_API_SECRET', API_SECRET);
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    const stderr: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true));
    let code: number | undefined;
    try {
      code = await runCommand({ config, live: true });
    } finally {
      write.mockRestore();
    }
    const text = stderr.join('');
    expect(requested).toContain('/api/v3/account');
    expect(code).toBe(2);
    expect(text).toMatch(/^cobalt run: the binance account could not be read \(refusing to start\): EXCHANGE_UNAVAILABLE: /);
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(text).not.toMatch(/signature=[0-9a-f]{16}/);
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(API_SECRET);
  }, 30_000);
});
