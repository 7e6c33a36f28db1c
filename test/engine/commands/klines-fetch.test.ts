// `cobalt klines fetch` (task h12): pages the exchange simulator's GET /api/v3/klines on 127.0.0.1 into a kline CSV that
// the kline archive reads back, extends it without duplicates, leaves the venue's gaps as gaps (and reports them),
// waits out a 429 and retries, and names a bad flag in one line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { KlinesArchive } from '../../../actors/data-provider/klines-archive.ts';
import { klinesFetchCommand, type KlinesFetchIo, type KlinesFetchOptions } from '../../../engine/commands/klines.ts';
import { formatDatedKlinesCsv, formatKlinesCsv, loadKlinesCsv, readKlinesText } from '../../../engine/market/klines-csv.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { DEFAULT_RETRY, retrying } from '../../../engine/commands/klines-pager.ts';
import { resetRestGates, RestGate } from '../../../engine/venues/rest-gate.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';

const ETH = ['data/recordings/spot_ethusdt_20240808.jsonl.gz'];
const BUNDLED_1M = 'data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz';
const BUNDLED_1H = 'data/klines/moudux1-ft_userdata_ETH_USDT-1h.csv.gz';
const root = mkdtempSync(join(tmpdir(), 'cobalt-klines-fetch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const freshDir = (): string => join(root, `out-${++n}`);
const ohlcv = (c: Candle) => [c.openTime, c.open, c.high, c.low, c.close, c.volume];
const bundled = (file: string, from: number, until: number) => loadKlinesCsv(file).candles.filter((c) => c.openTime >= from && c.openTime < until);

interface Run {
  code: number;
  out: string[];
  err: string[];
  summary: Record<string, unknown> & { file: string; venueGaps: unknown[]; unfetchedGaps: unknown[] };
}

async function fetchKlines(o: Partial<KlinesFetchOptions> & { baseUrl: string }, io: KlinesFetchIo = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await klinesFetchCommand(
    { symbol: 'ETHUSDT', timeframe: '1m', from: '2024-08-08', until: '2024-08-08T06:00', ...o },
    { out: (l) => out.push(l), err: (l) => err.push(l), progress: { isTTY: false, write: () => true }, ...io },
  );
  return { code, out, err, summary: out.length > 0 ? JSON.parse(out[out.length - 1]!) : undefined };
}

describe('cobalt klines fetch from the exchange simulator', () => {
  let sim: ExchangeSim;
  beforeAll(async () => {
    sim = await startExchangeSim({ files: ETH, port: 0, speed: 'manual', weightLimitPerMinute: 1_000_000 });
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
  });

  it('writes the simulator\'s bars, page by page, to a CSV the kline archive reads back', async () => {
    const out = freshDir();
    const writes: string[] = [];
    const r = await fetchKlines({ baseUrl: sim.url, out, pageLimit: 100 }, { progress: { isTTY: true, write: (s) => writes.push(s) } });
    const archived = new KlinesArchive([out]).all('ETH/USDT', '1m');
    const want = bundled(BUNDLED_1M, Date.UTC(2024, 7, 8), Date.UTC(2024, 7, 8, 6));
    expect([r.code, r.err]).toEqual([0, []]);
    expect(readdirSync(out)).toEqual(['binance_ETH_USDT-1m.csv.gz']);
    expect(archived.map(ohlcv)).toEqual(want.map(ohlcv));
    expect(archived).toHaveLength(360);
    expect(r.summary).toMatchObject({ fetched: 360, added: 360, bars: 360, first: '2024-08-08T00:00:00Z', last: '2024-08-08T05:59:00Z', venueGaps: [], unfetchedGaps: [] });
    // Three pages of 100 and one of 60, which reaches --until.
    expect(r.summary.requests).toBe(4);
    expect(writes.some((w) => w.includes('100%'))).toBe(true);
    expect(writes[writes.length - 1]).toBe('\r\x1b[K');
  });

  it('extends the file with an overlapping range, without duplicate bars', async () => {
    const out = freshDir();
    await fetchKlines({ baseUrl: sim.url, out });
    const r = await fetchKlines({ baseUrl: sim.url, out, from: '2024-08-08T05:00', until: '2024-08-08T12:00' });
    const archived = new KlinesArchive([out]).all('ETH/USDT', '1m');
    const times = archived.map((c) => c.openTime);
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({ fetched: 420, added: 360, unchanged: 60, replaced: 0, bars: 720, venueGaps: [], unfetchedGaps: [] });
    expect(new Set(times).size).toBe(720);
    expect(times.every((t, i) => i === 0 || t - times[i - 1]! === 60_000)).toBe(true);
    expect(archived.map(ohlcv)).toEqual(bundled(BUNDLED_1M, Date.UTC(2024, 7, 8), Date.UTC(2024, 7, 8, 12)).map(ohlcv));
  });

  it('extends the series file readers already use in place, in its own rows, and reports the hole it does not fetch', async () => {
    const out = freshDir();
    mkdirSync(out);
    const name = 'moudux1-ft_userdata_ETH_USDT-1h.csv.gz';
    const stored = bundled(BUNDLED_1H, 0, Date.UTC(2024, 7, 1, 1));
    writeFileSync(join(out, name), gzipSync(formatKlinesCsv(stored)));
    const r = await fetchKlines({ baseUrl: sim.url, out, timeframe: '1h', from: '2024-08-03', until: '2024-08-05' });
    const text = readKlinesText(join(out, name));
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual([name]);
    expect(text.startsWith(formatKlinesCsv(stored))).toBe(true);
    expect(loadKlinesCsv(join(out, name)).candles.map(ohlcv)).toEqual([...stored, ...bundled(BUNDLED_1H, Date.UTC(2024, 7, 3), Date.UTC(2024, 7, 5))].map(ohlcv));
    expect(r.summary).toMatchObject({ added: 48, venueGaps: [], unfetchedGaps: [{ after: '2024-08-01T00:00:00Z', before: '2024-08-03T00:00:00Z', missing: 47 }] });
  });

  it('fetches through the MEXC dialect (60m klines) into a mexc_ file', async () => {
    const out = freshDir();
    const r = await fetchKlines({ baseUrl: `${sim.url}/mexc`, venue: 'mexc', out, timeframe: '1h', from: '2024-08-03', until: '2024-08-04' });
    expect([r.code, r.err]).toEqual([0, []]);
    expect(readdirSync(out)).toEqual(['mexc_ETH_USDT-1h.csv.gz']);
    expect(new KlinesArchive([out]).all('ETH/USDT', '1h').map(ohlcv)).toEqual(bundled(BUNDLED_1H, Date.UTC(2024, 7, 3), Date.UTC(2024, 7, 4)).map(ohlcv));
  });

  it('says nothing was written when the venue has no bar in the range', async () => {
    const out = freshDir();
    const r = await fetchKlines({ baseUrl: sim.url, out, timeframe: '1h', from: '2010-01-01', until: '2010-02-01' });
    expect(r.code).toBe(1);
    expect(r.err).toEqual(['klines fetch: binance has no ETH/USDT 1h bars opening in [2010-01-01T00:00:00Z, 2010-02-01T00:00:00Z); nothing written']);
    expect(existsSync(out)).toBe(false);
  });
});

describe('cobalt klines fetch over a venue gap', () => {
  let sim: ExchangeSim;
  const simKlines = join(root, 'sim-klines');
  const hole = (c: Candle) => c.openTime >= Date.UTC(2024, 4, 1, 3) && c.openTime < Date.UTC(2024, 4, 1, 6);
  beforeAll(async () => {
    // A 1h history missing 03:00-05:00 on 2024-05-01: the venue has no bars there.
    mkdirSync(simKlines);
    writeFileSync(join(simKlines, 'gappy_ETH_USDT-1h.csv.gz'), gzipSync(formatKlinesCsv(loadKlinesCsv(BUNDLED_1H).candles.filter((c) => !hole(c)))));
    sim = await startExchangeSim({ files: ETH, port: 0, speed: 'manual', weightLimitPerMinute: 1_000_000, klinesDir: simKlines });
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
  });

  it('leaves the gap a gap and reports it', async () => {
    const out = freshDir();
    const r = await fetchKlines({ baseUrl: sim.url, out, timeframe: '1h', from: '2024-05-01', until: '2024-05-02' });
    const times = new KlinesArchive([out]).all('ETH/USDT', '1h').map((c) => c.openTime);
    expect(r.code).toBe(0);
    expect(times).toHaveLength(21);
    expect(times.filter((t) => t >= Date.UTC(2024, 4, 1, 3) && t < Date.UTC(2024, 4, 1, 6))).toEqual([]);
    expect(r.summary).toMatchObject({ venueGaps: [{ after: '2024-05-01T02:00:00Z', before: '2024-05-01T06:00:00Z', missing: 3 }], unfetchedGaps: [] });
  });
});

describe('cobalt klines fetch under a rate limit', () => {
  let sim: ExchangeSim;
  // 10 s into a wall-clock minute; the gate and the simulator's weight limiter both run on it.
  const wall = new SimulatedClock(Math.floor(Date.now() / 60_000) * 60_000 + 70_000);
  beforeAll(async () => {
    resetRestGates(wall);
    sim = await startExchangeSim({ files: ETH, port: 0, speed: 'manual', wallClock: wall, weightLimitPerMinute: 30 });
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
    resetRestGates();
  });

  it('waits out a 429 for its Retry-After and sends the page again', async () => {
    const statuses: number[] = [];
    sim.events.on('request', (e: { path: string; status: number }) => statuses.push(e.status));
    const waits: number[] = [];
    const sleep = (ms: number): Promise<void> => {
      waits.push(ms);
      wall.advance(ms);
      return Promise.resolve();
    };
    const out = freshDir();
    // exchangeInfo (20) + time (1) + 6 pages (2 each) is past 30 in one minute: the fifth page is answered 429.
    const r = await fetchKlines({ baseUrl: sim.url, out, pageLimit: 60 }, { retry: { sleep } });
    expect([r.code, r.err]).toEqual([0, []]);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(statuses).not.toContain(418);
    expect(waits).toEqual([50_000]);
    expect(new KlinesArchive([out]).all('ETH/USDT', '1m').map(ohlcv)).toEqual(bundled(BUNDLED_1M, Date.UTC(2024, 7, 8), Date.UTC(2024, 7, 8, 6)).map(ohlcv));
  });

  it('writes what it got when it gives up, and says where to go on from', async () => {
    wall.set(Math.ceil(wall.now() / 60_000) * 60_000 + 10_000);
    const out = freshDir();
    const r = await fetchKlines({ baseUrl: sim.url, out, pageLimit: 60 }, { retry: { sleep: () => Promise.resolve(), rateLimitWaits: 0 } });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    const m = /^klines fetch: stopped before (\S+) \((\d+) bars written to .*binance_ETH_USDT-1m\.csv\.gz\): binance klines still rate limited \(HTTP 429\) after 0 waits: .*; run again with --from (\S+) to go on$/.exec(r.err[0]!);
    const stop = Date.parse(m![1]!);
    expect(m![3]).toBe(m![1]);
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(new KlinesArchive([out]).all('ETH/USDT', '1m').map(ohlcv)).toEqual(bundled(BUNDLED_1M, Date.UTC(2024, 7, 8), stop).map(ohlcv));
    expect(stop - Date.UTC(2024, 7, 8)).toBe(Number(m![2]) * 60_000);
  });
});

describe('retrying', () => {
  it('sends nothing more once the venue has banned the IP (418)', async () => {
    const clock = new SimulatedClock(1_000_000);
    const gate = new RestGate('http://127.0.0.1:9', clock);
    let calls = 0;
    const attempt = () => {
      calls++;
      gate.block('banned', 120_000);
      return Promise.reject(new Error('binance klines failed: 418 IP banned'));
    };
    const err = await retrying(gate, 'binance klines', attempt, { ...DEFAULT_RETRY, sleep: () => Promise.resolve() }).catch((e: unknown) => e as Error);
    expect(calls).toBe(1);
    expect(err.message).toBe('binance klines stopped: http://127.0.0.1:9 this IP is banned for 120000 ms more (HTTP 418); nothing more was sent, as requests during a ban lengthen it');
  });
});

describe('the dated layout writer a fetch extends a RocketAlerts file with', () => {
  it('writes the bundled daily file back byte for byte', () => {
    const file = 'data/klines/rocketalerts_ETHUSDT_1d.csv.gz';
    expect(formatDatedKlinesCsv(loadKlinesCsv(file).candles)).toBe(readKlinesText(file));
  });

  it('keeps the time of a bar that does not open at midnight', () => {
    const c = { openTime: Date.UTC(2024, 7, 8, 13, 5), open: 1, high: 2, low: 0.5, close: 1.5, volume: 3, closed: true };
    expect(formatDatedKlinesCsv([c])).toBe('Date,Open,High,Low,Close,Volume\n2024-08-08 13:05:00,1.0,2.0,0.5,1.5,3.0\n');
  });
});

describe('cobalt klines fetch refusals', () => {
  const base = { baseUrl: 'http://127.0.0.1:1' };
  it.each([
    ['a timeframe it does not keep', { timeframe: '5m' }, "klines fetch: --timeframe must be one of 1s, 1m, 1h, 1d, not '5m'"],
    ['a venue it does not know', { venue: 'kraken' }, "klines fetch: --venue must be one of binance, mexc, not 'kraken'"],
    ['1s on mexc', { venue: 'mexc', timeframe: '1s' }, 'klines fetch: --timeframe 1s: mexc has no 1s klines (use --venue binance)'],
    ['a date that is not one', { from: '2024-13-01' }, "klines fetch: --from '2024-13-01' is not a UTC date (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]) or epoch milliseconds"],
    ['an end before the start', { from: '2024-08-02', until: '2024-08-01' }, 'klines fetch: --until 2024-08-01 is not after --from 2024-08-02'],
    ['a symbol it cannot split', { symbol: 'ETH-USDT' }, "klines fetch: --symbol 'ETH-USDT' is not a spot symbol like ETHUSDT or ETH/USDT (quote one of USDT, USDC, FDUSD, BUSD, TUSD, BTC, ETH, BNB, EUR, or write BASE/QUOTE)"],
    ['a base URL that is not http', { baseUrl: 'ftp://127.0.0.1' }, "klines fetch: --base-url: REST base URL 'ftp://127.0.0.1' is not http or https"],
  ])('names %s in one line before sending anything', async (_what, o, line) => {
    const r = await fetchKlines({ ...base, out: freshDir(), ...o });
    expect([r.code, r.err, r.out]).toEqual([1, [line], []]);
  });

  it('refuses to rewrite a file with malformed rows', async () => {
    const out = freshDir();
    mkdirSync(out);
    copyFileSync(BUNDLED_1M, join(out, 'a_ETH_USDT-1m.csv.gz'));
    writeFileSync(join(out, 'a_ETH_USDT-1m.csv.gz'), gzipSync(`${readKlinesText(BUNDLED_1M)}1724595840000,bad,row\n`));
    const r = await fetchKlines({ ...base, out });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/a_ETH_USDT-1m\.csv\.gz has 1 malformed rows \(first: row 43210: has 3 fields, expected 7\); fix or move the file/);
  });

  it('is registered in the CLI, and a bad flag there is one line with exit code 1', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'engine/cli.ts', 'klines', 'fetch', '--symbol', 'ETHUSDT', '--timeframe', '5m', '--from', '2024-08-01', '--until', '2024-08-02'],
        { timeout: 60_000, env: { ...process.env, COBALT_LOG_LEVEL: 'silent' } }, (err, _out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr }));
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(["klines fetch: --timeframe must be one of 1s, 1m, 1h, 1d, not '5m'"]);
  }, 60_000);
});
