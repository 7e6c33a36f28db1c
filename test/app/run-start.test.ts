// `cobalt run` start-up inputs (review findings 1, 5 and 7): data.speed 0 (as fast as possible) on recorded data or an
// exchange simulator refuses to start (it became 1, real time, without a word; unpaced, a daemon's model runs all time
// out on the replay's clock, and a simulator's time runs on its own); an invalid
// COBALT_LOG_LEVEL refuses with one line and exit code 2 (pino threw a stack trace after `config check` had passed);
// a live account's equity at start counts its base asset at the market data's best bid.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { liveStartEquity, logLevelRefusal, parseRunSpeed, runCommand } from '../../app/run.ts';
import { configSchema } from '../../engine/config/schema.ts';
import { money } from '../../engine/types/money.ts';
import { captureOutput } from '../capture-output.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-start-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('cobalt run speed', () => {
  it.each([
    // [--speed, data.speed, market data, speed used]
    [undefined, 4, 'replay', 4],
    ['2.5', 0, 'replay', 2.5],
    ['2.5', 0, 'simulator', 2.5],
    [undefined, 0, 'live', 1],
    [undefined, 3, 'live', 3],
  ] as const)('takes --speed %s over data.speed %s on %s data as %s', (flag, configured, source, speed) => {
    expect(parseRunSpeed(flag, configured, source)).toBe(speed);
  });

  // data.speed 0 used to run a replay at 1 (real time) without a word; unpaced, every model run times out.
  it.each([
    [undefined, 0, 'replay', /^data\.speed 0 \(as fast as possible\) cannot run here: a daemon replaying unpaced outruns its models/],
    [undefined, 0, 'simulator', /^data\.speed 0 \(as fast as possible\) cannot run here: an exchange simulator runs on its own time/],
    ['0', 1, 'replay', /^--speed must be a number > 0 \(as fast as possible is 'cobalt backtest'\), not '0'/],
    ['-1', 1, 'replay', /not '-1'/],
    ['fast', 1, 'replay', /not 'fast'/],
    ['', 1, 'replay', /not ''/],
  ] as const)('refuses --speed %s (data.speed %s) on %s data', (flag, configured, source, message) => {
    expect(() => parseRunSpeed(flag, configured, source)).toThrow(message);
  });
});

describe('COBALT_LOG_LEVEL', () => {
  it.each([[undefined], ['info'], ['silent'], ['trace']])('accepts %s', (level) => {
    expect(logLevelRefusal(level)).toBeUndefined();
  });

  it('refuses an invalid level before starting: one line, exit code 2', async () => {
    const config = path.join(root, 'paper.yaml');
    writeFileSync(config, `mode: paper\nstore:\n  path: ${path.join(root, 'store')}\ndashboard:\n  enabled: false\n`);
    vi.stubEnv('COBALT_LOG_LEVEL', 'verbose');
    const { result: code, err: stderrText } = await captureOutput(() => runCommand({ config }));

    expect(code).toBe(2);
    expect(stderrText).toBe("cobalt run: COBALT_LOG_LEVEL 'verbose' is not a log level (one of fatal, error, warn, info, debug, trace, silent)\n");
  });
});

describe('an exchange simulator that does not answer', () => {
  it('refuses in one line, exit code 2, naming the URL (it threw a fetch stack trace)', async () => {
    const config = path.join(root, 'sim.yaml');
    writeFileSync(config, `mode: paper\nstore:\n  path: ${path.join(root, 'store-sim')}\ndashboard:\n  enabled: false\nvenues:\n  binance:\n    restUrl: http://127.0.0.1:1\n    wsUrl: ws://127.0.0.1:1/stream\n`);
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    const { result: code, err } = await captureOutput(() => runCommand({ config }));
    expect(code).toBe(2);
    expect(err).toMatch(/^cobalt run: the exchange simulator at http:\/\/127\.0\.0\.1:1 does not answer \(.+\); start it first/);
    expect(err.trim().split('\n')).toHaveLength(1);
  });
});

describe('a live account\'s equity at start', () => {
  let server: Server;
  let depthAsked = 0;
  let bids: [string, string][] = [['2680.17', '1.5'], ['2680.16', '2']];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://fake.invalid');
      if (u.pathname !== '/api/v3/depth' || u.searchParams.get('symbol') !== 'ETHUSDT') {
        res.writeHead(404).end();
        return;
      }
      depthAsked++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ lastUpdateId: 1, bids, asks: [['2680.18', '1']] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });
  const configOn = (restUrl: string) => configSchema.parse({ mode: 'live', venues: { binance: { restUrl, wsUrl: 'ws://127.0.0.1:1' } } });
  const bal = (asset: string, free: string, locked = '0') => ({ asset, free: money(free), locked: money(locked) });
  const logged = (): { logger: pino.Logger; lines: () => { code?: string; msg: string }[] } => {
    const out: string[] = [];
    return { logger: pino({ level: 'info' }, { write: (s: string) => void out.push(s) }), lines: () => out.map((l) => JSON.parse(l) as { code?: string; msg: string }) };
  };

  it('values the base held at the best bid of the market data\'s book', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    bids = [['2680.17', '1.5'], ['2680.16', '2']];
    const log = logged();
    const equity = await liveStartEquity(configOn(url), [bal('USDT', '100', '20'), bal('ETH', '0.5', '0.5')], log.logger);
    expect(equity).toBe(money('2800.17'));
    expect(log.lines().filter((l) => l.code === 'START_EQUITY_UNPRICED')).toEqual([]);
  });

  it('asks for no price when no base is held', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const before = depthAsked;
    const equity = await liveStartEquity(configOn(url), [bal('USDT', '250')], logged().logger);
    expect(equity).toBe(money('250'));
    expect(depthAsked).toBe(before);
  });

  it.each([
    ['the book has no bid', true],
    ['the request fails', false],
  ])('leaves the base out with a warning when %s', async (_name, up) => {
    const url = up ? `http://127.0.0.1:${(server.address() as AddressInfo).port}` : 'http://127.0.0.1:9';
    bids = [];
    const log = logged();
    const equity = await liveStartEquity(configOn(url), [bal('USDT', '100'), bal('ETH', '1')], log.logger);
    expect(equity).toBe(money('100'));
    expect(log.lines().filter((l) => l.code === 'START_EQUITY_UNPRICED')).toHaveLength(1);
  });
});
