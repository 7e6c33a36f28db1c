// `cobalt record`: a bad --duration, config, symbol or REST endpoint is one line naming it (exit 1), and a session that
// recorded nothing, or no depth snapshot of a symbol, exits 1 (review findings 1, 5 and the smaller record ones).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration, recordCommand, type RecordIo } from '../../../engine/commands/record.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { Recorder } from '../../../engine/venues/binance/recorder.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { until } from '../../wait-until.ts';

const ETH = ['data/recordings/spot_ethusdt_20240808.jsonl.gz'];
const dir = mkdtempSync(join(tmpdir(), 'cobalt-record-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, restUrl: string, wsUrl: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `mode: paper\nvenues:\n  binance:\n    restUrl: ${restUrl}\n    wsUrl: ${wsUrl}\n  mexc:\n    enabled: false\n`);
  return file;
}

/** Waits for the recorder's three subscriptions, then replays a second of market data to it. */
async function subscribedThenAdvance(sim: ExchangeSim): Promise<void> {
  let subscribed = 0;
  sim.events.on('subscribe', () => subscribed++);
  await until(() => subscribed >= 3, 'subscriptions');
  await sim.replay.advanceBy(1000);
}

/** Runs `cobalt record` in-process; `stop` decides when the session ends. */
async function record(opts: { config: string; symbols?: string; duration?: string }, stop: RecordIo['stop'] = () => Promise.resolve()) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await recordCommand({ out: join(dir, 'rec', String(Math.random()).slice(2)), streams: 'depth@100ms,trade,bookTicker', ...opts }, { out: (l) => out.push(l), err: (l) => err.push(l), stop });
  return { code, out, err };
}

describe('parseDuration', () => {
  it.each([['90', 90], ['1.5', 1.5], ['30s', 30], ['5m', 300], ['1h', 3600], ['0.5h', 1800]])('reads %s as %d seconds', (s, v) => {
    expect(parseDuration(s)).toBe(v);
  });
  it.each(['abc', '-3', '0', '0s', '', '1d', '1e3', 'Infinity', '5 m x'])("refuses '%s'", (s) => {
    expect(() => parseDuration(s)).toThrow(`--duration must be a positive number of seconds (or with a unit: 30s, 5m, 1h), not '${s}'`);
  });
});

describe('cobalt record', () => {
  let sim: ExchangeSim | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('refuses a --duration that is not a positive time before connecting anywhere', async () => {
    const r = await record({ config: join(dir, 'absent.yaml'), duration: '-3' });
    expect([r.code, r.err]).toEqual([1, ["record: --duration must be a positive number of seconds (or with a unit: 30s, 5m, 1h), not '-3'"]]);
  });

  it('names a config file it cannot read, in one line', async () => {
    const r = await record({ config: join(dir, 'absent.yaml') });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^record: cannot read config file .*absent\.yaml/);
  });

  it('names the symbol the venue does not list', async () => {
    sim = await startExchangeSim({ files: ETH, port: 0, speed: 'manual' });
    const r = await record({ config: config('badsym', sim.url, sim.wsUrl), symbols: 'ETH/USDT,FOO/USDT' });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^record: binance does not list FOO\/USDT: .*Invalid symbol/);
  });

  it('says in one line that the REST endpoint cannot be reached', async () => {
    const r = await record({ config: config('norest', 'http://127.0.0.1:1', 'ws://127.0.0.1:1'), symbols: 'ETH/USDT' });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^record: binance exchangeInfo failed: /);
  });

  it('exits 1 when the WebSocket never delivered a message', async () => {
    sim = await startExchangeSim({ files: ETH, port: 0, speed: 'manual' });
    const r = await record({ config: config('nows', sim.url, 'ws://127.0.0.1:1'), symbols: 'ETH/USDT' }, (rec) => until(() => rec.streamStats.drops >= 1, 'a failed connection'));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out[0]!)).toMatchObject({ files: [], messages: 0, connects: 0 });
    expect(r.err).toEqual([expect.stringMatching(/^record: no message was recorded from ws:\/\/127\.0\.0\.1:1\/stream/)]);
  });

  it('exits 1 naming the symbol whose depth never got a snapshot', async () => {
    // Frozen wall clock and 60 weight a minute: exchangeInfo (20) passes, every 1000-level depth request (50) is refused.
    const s = sim = await startExchangeSim({ files: ETH, port: 0, speed: 'manual', wallClock: new SimulatedClock(Date.UTC(2024, 7, 8, 23, 55, 30)), weightLimitPerMinute: 60 });
    const r = await record({ config: config('nosnap', sim.url, sim.wsUrl), symbols: 'ETH/USDT' }, async (rec: Recorder) => {
      await subscribedThenAdvance(s);
      await until(() => rec.counts.snapshotFailures === 1, 'the refused snapshot');
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out[0]!)).toMatchObject({ snapshots: 0, snapshotFailures: 1, missingSnapshot: ['ETHUSDT'] });
    expect(r.err).toEqual([expect.stringMatching(/^record: no depth snapshot was recorded for ETHUSDT \(1 failed requests\)/)]);
  });

  it('exits 0 once messages and a snapshot of every symbol are on disk', async () => {
    const s = sim = await startExchangeSim({ files: ETH, port: 0, speed: 'manual' });
    const r = await record({ config: config('ok', sim.url, sim.wsUrl), symbols: 'ETH/USDT', duration: '1h' }, async (rec: Recorder) => {
      await subscribedThenAdvance(s);
      await until(() => rec.counts.snapshots === 1, 'the snapshot');
    });
    expect([r.code, r.err]).toEqual([0, []]);
    expect(JSON.parse(r.out[0]!)).toMatchObject({ snapshots: 1, snapshotFailures: 0, missingSnapshot: [] });
  });
});
