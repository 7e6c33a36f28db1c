// `cobalt klines fetch` faults and edges, against a Binance-shaped klines server on 127.0.0.1 made here: no new
// file may hide the one readers pick, Ctrl-C/SIGTERM writes what was fetched, a span too large for one file is refused
// up front, Binance's JSON 5xx answers are retried, epoch seconds are refused, and gaps are judged against the span
// asked for.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { klinesFetchCommand, parseWhen, type KlinesFetchIo, type KlinesFetchOptions } from '../../../engine/commands/klines.ts';
import { formatKlinesCsv, loadKlinesCsv } from '../../../engine/market/klines-csv.ts';
import type { Candle } from '../../../engine/messages/market.ts';

const root = mkdtempSync(join(tmpdir(), 'cobalt-klines-faults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `out-${++n}`);
const MIN = 60_000;
const STEP: Record<string, number> = { '1s': 1000, '1m': MIN, '1h': 3_600_000, '1d': 86_400_000 };

interface FakeBinance {
  url: string;
  /** Klines requests answered so far. */
  klinesRequests: number;
  close(): Promise<void>;
}

interface FakeOptions {
  /** GET /api/v3/time. */
  now: number;
  /** The venue's bars open in [start, end). */
  start?: number;
  end?: number;
  delayMs?: number;
  /** The answer to the klines request of that number (1-based) instead of bars: HTTP status and Binance code. */
  fail?: Record<number, { status: number; code: number }>;
  onKlines?: (count: number) => void;
}

// Synthetic bars on every interval, in Binance's row shape; the exchangeInfo shape BinanceRest.instruments reads.
async function fakeBinance(o: FakeOptions): Promise<FakeBinance> {
  const fake = { url: '', klinesRequests: 0, close: () => Promise.resolve() };
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/api/v3/time') return send(200, { serverTime: o.now });
    if (u.pathname === '/api/v3/exchangeInfo') {
      return send(200, { timezone: 'UTC', serverTime: o.now, rateLimits: [], symbols: [{ symbol: 'ETHUSDT', status: 'TRADING', baseAsset: 'ETH', quoteAsset: 'USDT',
        filters: [{ filterType: 'PRICE_FILTER', tickSize: '0.01000000', minPrice: '0.01', maxPrice: '1000000' }, { filterType: 'LOT_SIZE', stepSize: '0.00010000', minQty: '0.0001', maxQty: '9000' }] }] });
    }
    if (u.pathname !== '/api/v3/klines') return send(404, { code: -1, msg: `no route ${u.pathname}` });
    const count = ++fake.klinesRequests;
    o.onKlines?.(count);
    const failure = o.fail?.[count];
    if (failure) return send(failure.status, { code: failure.code, msg: 'An unknown error occurred while processing the request.' });
    const ms = STEP[u.searchParams.get('interval') ?? '']!;
    const limit = Math.min(1000, Number(u.searchParams.get('limit') ?? 500));
    const end = Math.min(Number(u.searchParams.get('endTime')), o.now, (o.end ?? Infinity) - 1);
    const rows: unknown[] = [];
    for (let t = Math.max(o.start ?? 0, Math.ceil(Number(u.searchParams.get('startTime')) / ms) * ms); t <= end && rows.length < limit; t += ms) {
      const px = 3000 + ((t / ms) % 100) / 100;
      rows.push([t, px.toFixed(2), (px + 0.5).toFixed(2), (px - 0.5).toFixed(2), (px + 0.1).toFixed(2), '12.3456', t + ms - 1, '37036.8', 42, '6.1', '18518.4', '0']);
    }
    setTimeout(() => send(200, rows), o.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  fake.close = () => new Promise<void>((resolve) => {
    srv.closeAllConnections();
    srv.close(() => resolve());
  });
  return fake;
}

let servers: FakeBinance[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});
const serve = async (o: FakeOptions): Promise<FakeBinance> => {
  const s = await fakeBinance(o);
  servers.push(s);
  return s;
};

interface Run {
  code: number;
  err: string[];
  summary: Record<string, unknown> | undefined;
}

async function fetchKlines(o: Partial<KlinesFetchOptions> & { baseUrl: string }, io: KlinesFetchIo = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await klinesFetchCommand(
    { symbol: 'ETHUSDT', timeframe: '1m', from: '2024-08-01', until: '2024-08-01T12:00', ...o },
    { out: (l) => out.push(l), err: (l) => err.push(l), progress: { isTTY: false, write: () => true }, retry: { sleep: () => Promise.resolve() }, ...io },
  );
  return { code, err, summary: out.length > 0 ? JSON.parse(out[out.length - 1]!) : undefined };
}

const bars = (from: number, count: number, stepMs = MIN): Candle[] =>
  Array.from({ length: count }, (_, i) => ({ openTime: from + i * stepMs, open: 1, high: 2, low: 0.5, close: 1.5, volume: 3, closed: true }));
const times = (path: string): number[] => loadKlinesCsv(path).candles.map((c) => c.openTime);
const contiguous = (ts: number[], from: number, stepMs = MIN): boolean => ts.every((t, i) => t === from + i * stepMs);

describe('a new file that would hide the one readers pick', () => {
  it('is refused, naming both files and --out, before anything is sent', async () => {
    const out = freshDir();
    mkdirSync(out);
    const bundled = 'moudux1-ft_userdata_ETH_USDT-1h.csv.gz';
    writeFileSync(join(out, bundled), gzipSync(formatKlinesCsv(bars(Date.UTC(2024, 0, 1), 48, 3_600_000))));
    const r = await fetchKlines({ baseUrl: 'http://127.0.0.1:1', venue: 'mexc', timeframe: '1h', out });
    expect([r.code, r.summary]).toEqual([1, undefined]);
    expect(r.err).toEqual([
      `klines fetch: creating ${join(out, 'mexc_ETH_USDT-1h.csv.gz')} would hide ${join(out, bundled)} from every reader (they take the first matching name in sorted order); fetch into another folder with --out, or move ${join(out, bundled)} away first`,
    ]);
    expect(readdirSync(out)).toEqual([bundled]);
  });
});

describe('an interrupted fetch', () => {
  it('writes what was fetched on SIGTERM, says where to go on from, and exits 143', async () => {
    const ac = new AbortController();
    const fake = await serve({ now: Date.UTC(2024, 9, 1), onKlines: (k) => k === 4 && ac.abort('SIGTERM') });
    const out = freshDir();
    const r = await fetchKlines({ baseUrl: fake.url, out, pageLimit: 60 }, { stop: ac.signal });
    expect(r.code).toBe(143);
    expect(r.err).toHaveLength(1);
    const m = /^klines fetch: stopped before (\S+) \((\d+) bars written to (\S+)\): interrupted by SIGTERM; run again with --from (\S+) to go on$/.exec(r.err[0]!);
    expect(m?.[4]).toBe(m?.[1]);
    const written = times(m![3]!);
    expect(written).toHaveLength(Number(m![2]));
    expect(written.length).toBeGreaterThanOrEqual(180);
    expect(contiguous(written, Date.UTC(2024, 7, 1))).toBe(true);
    expect(Date.parse(m![1]!)).toBe(written[written.length - 1]! + MIN);
  });

  it('through the CLI: Ctrl-C (SIGINT) writes what was fetched and exits 130', async () => {
    const out = freshDir();
    const child = { kill: (_s: NodeJS.Signals): boolean => false };
    const fake = await serve({ now: Date.UTC(2024, 9, 1), delayMs: 50, onKlines: (k) => k === 3 && child.kill('SIGINT') });
    const proc = spawn(process.execPath, ['--import', 'tsx', 'engine/cli.ts', 'klines', 'fetch', '--symbol', 'ETHUSDT', '--timeframe', '1m',
      '--from', '2024-08-01', '--until', '2024-09-01', '--out', out, '--base-url', fake.url], { env: { ...process.env, COBALT_LOG_LEVEL: 'silent' } });
    child.kill = (s) => proc.kill(s);
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    expect(code).toBe(130);
    const m = /^klines fetch: stopped before (\S+) \((\d+) bars written to (\S+)\): interrupted by SIGINT; run again with --from (\S+) to go on$/m.exec(stderr);
    expect(m, stderr).not.toBeNull();
    const written = times(join(out, 'binance_ETH_USDT-1m.csv.gz'));
    expect(written).toHaveLength(Number(m![2]));
    expect(written.length).toBeGreaterThanOrEqual(2000);
    expect(contiguous(written, Date.UTC(2024, 7, 1))).toBe(true);
  }, 60_000);
});

describe('a span too large for one file', () => {
  it('is refused before any klines request, with a --until that fits', async () => {
    const fake = await serve({ now: Date.UTC(2024, 9, 1) });
    const out = freshDir();
    const r = await fetchKlines({ baseUrl: fake.url, out, timeframe: '1s', from: '2024-08-01', until: '2024-09-20' });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      'klines fetch: [2024-08-01T00:00:00Z, 2024-09-20T00:00:00Z) is 4,320,000 1s bars: more than the 4,000,000 one klines file is written with (as one text in memory); fetch up to --until 2024-09-16T07:06:40Z here and the rest into another folder (--out)',
    ]);
    expect(fake.klinesRequests).toBe(0);
  });

  it('counts the bars the file already holds', async () => {
    const fake = await serve({ now: Date.UTC(2024, 9, 1) });
    const out = freshDir();
    mkdirSync(out);
    const file = join(out, 'binance_ETH_USDT-1s.csv.gz');
    writeFileSync(file, gzipSync(formatKlinesCsv(bars(Date.UTC(2024, 0, 1), 10, 1000))));
    const r = await fetchKlines({ baseUrl: fake.url, out, timeframe: '1s', from: '2024-08-01', until: String(Date.UTC(2024, 7, 1) + 4_000_000_000) });
    expect(r.code).toBe(1);
    expect(r.err[0]).toContain(`is 4,000,000 1s bars and ${file} holds 10: more than`);
    expect(fake.klinesRequests).toBe(0);
  });
});

describe('Binance 5xx answers with a JSON body', () => {
  it('are retried: -1000 (HTTP 500), -1008 (HTTP 503), -1001 (HTTP 500)', async () => {
    const fail = { 3: { status: 500, code: -1000 }, 5: { status: 503, code: -1008 }, 7: { status: 500, code: -1001 } };
    const fake = await serve({ now: Date.UTC(2024, 9, 1), fail });
    const out = freshDir();
    const waits: number[] = [];
    const r = await fetchKlines({ baseUrl: fake.url, out, pageLimit: 100 }, { retry: { sleep: (ms) => (waits.push(ms), Promise.resolve()) } });
    expect([r.code, r.err]).toEqual([0, []]);
    expect(waits).toHaveLength(3);
    expect(r.summary).toMatchObject({ fetched: 720, bars: 720, venueGaps: [], unfetchedGaps: [] });
    expect(fake.klinesRequests).toBe(11);
  });

  it('are not retried for a code that is the request\'s fault', async () => {
    const fake = await serve({ now: Date.UTC(2024, 9, 1), fail: { 1: { status: 400, code: -1121 } } });
    const r = await fetchKlines({ baseUrl: fake.url, out: freshDir(), pageLimit: 100 });
    expect(r.code).toBe(1);
    expect(fake.klinesRequests).toBe(1);
  });
});

describe('epoch seconds', () => {
  it('are refused, where 13-digit epoch milliseconds and dates are taken', () => {
    expect(() => parseWhen('1722470400', '--from')).toThrow("--from '1722470400' looks like epoch seconds: give epoch milliseconds (13 digits, 1722470400000) or a UTC date (YYYY-MM-DD)");
    expect(parseWhen('1722470400000', '--from')).toBe(Date.UTC(2024, 7, 1));
    expect(parseWhen('2024-08-01T06:00', '--until')).toBe(Date.UTC(2024, 7, 1, 6));
  });

  it('are refused by the command before anything is sent', async () => {
    const r = await fetchKlines({ baseUrl: 'http://127.0.0.1:1', out: freshDir(), from: '1727654400', until: 'now' });
    expect([r.code, r.err]).toEqual([1, ["klines fetch: --from '1727654400' looks like epoch seconds: give epoch milliseconds (13 digits, 1727654400000) or a UTC date (YYYY-MM-DD)"]]);
  });
});

describe('gaps judged against the span asked for', () => {
  const storeDay = (out: string, day: number): void => {
    mkdirSync(out);
    writeFileSync(join(out, 'binance_ETH_USDT-1m.csv'), formatKlinesCsv(bars(Date.UTC(2024, 8, day), 1440)));
  };

  it('a hole at the start of the span, next to the stored bars, is the venue\'s', async () => {
    const fake = await serve({ now: Date.UTC(2024, 9, 1), start: Date.UTC(2024, 8, 29) });
    const out = freshDir();
    storeDay(out, 27);
    const r = await fetchKlines({ baseUrl: fake.url, out, from: '2024-09-28', until: '2024-09-30' });
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({
      venueGaps: [{ after: '2024-09-27T23:59:00Z', before: '2024-09-29T00:00:00Z', missing: 1440 }], unfetchedGaps: [],
    });
  });

  it('a hole split by the span\'s edge, and one between the last bar and --until', async () => {
    const fake = await serve({ now: Date.UTC(2024, 9, 1), start: Date.UTC(2024, 8, 29), end: Date.UTC(2024, 8, 29, 12) });
    const out = freshDir();
    storeDay(out, 26);
    const r = await fetchKlines({ baseUrl: fake.url, out, from: '2024-09-28', until: '2024-09-30' });
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({
      venueGaps: [
        { after: '2024-09-27T23:59:00Z', before: '2024-09-29T00:00:00Z', missing: 1440 },
        { after: '2024-09-29T11:59:00Z', before: '2024-09-30T00:00:00Z', missing: 720 },
      ],
      unfetchedGaps: [{ after: '2024-09-26T23:59:00Z', before: '2024-09-28T00:00:00Z', missing: 1440 }],
    });
  });
});
