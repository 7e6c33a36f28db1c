// Holes in a recording's trade stream (a recorder reconnect leaves no marker, but Binance's trade ids count up by one
// per trade) and lines that are no `<ts_ns> <json>`. Regression tests of the CLI review (findings 6 and 7).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CobAggregator } from '../../../../actors/cob-aggregator/index.ts';
import { DataProvider } from '../../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { readRecordingLinesSync, type RecordedLine } from '../../../../engine/venues/replay/recording.ts';
import { recordedTradeId, ReplayFeed } from '../../../../engine/venues/replay/replay-feed.ts';

const rec = (sym: string) => [`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`, `data/recordings/spot_${sym}usdt_20240809.jsonl.gz`];
const at = (m: number, s = 0) => Date.UTC(2024, 7, 8, 23, m, s);
const ms = (l: RecordedLine) => Number(l.tsLocalNs / 1_000_000n);
const dir = mkdtempSync(join(tmpdir(), 'replay-trade-ids-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const btc8 = readRecordingLinesSync([rec('btc')[0]!]);
const isTrade = (l: RecordedLine) => l.text.startsWith('{"stream":"btcusdt@trade"');
function write(name: string, ls: readonly RecordedLine[], extra = ''): string {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, `${ls.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n${extra}`);
  return file;
}
/** The recording with 5 s of lines (all streams, as over a reconnect) cut out at 23:56:19. */
const holeFile = () => write('hole', btc8.filter((l) => ms(l) < at(56, 19) || ms(l) >= at(56, 24)));
/** The trades of 23:57:00-23:57:05 lost while the other streams went on (no silence: only the ids show it). */
const tradeCut = new Set(btc8.filter((l) => isTrade(l) && ms(l) >= at(57) && ms(l) < at(57, 5)));
const tradeHoleFile = () => write('trade-hole', btc8.filter((l) => !tradeCut.has(l)));
const idOf = (l: RecordedLine) => Number(/"t":(\d+)/.exec(l.text)![1]);
/** A recorded trade frame rewritten as the aggTrade frame of that one trade. */
function asAggTrade(l: RecordedLine): RecordedLine {
  const d = JSON.parse(l.text).data as Record<string, unknown>;
  const agg = { e: 'aggTrade', E: d['E'], s: d['s'], a: d['t'], p: d['p'], q: d['q'], f: d['t'], l: d['t'], T: d['T'], m: d['m'], M: true };
  return { ...l, text: JSON.stringify({ stream: 'btcusdt@aggTrade', data: agg }) };
}

describe('recordedTradeId', () => {
  const trade = btc8.find(isTrade)!;
  const id = Number(/"t":(\d+)/.exec(trade.text)![1]);
  it.each([
    ['a trade frame', trade.text, id],
    ['an aggTrade frame', asAggTrade(trade).text, id],
    ['a bare trade event with a blank after the colon', '{"e":"trade","E":1,"s":"BTCUSDT","t": 42,"p":"1.0","q":"1.0","T":1,"m":true}', 42],
    ['a bookTicker frame', btc8.find((l) => l.text.includes('@bookTicker'))!.text, undefined],
    ['a depth frame', btc8.find((l) => l.text.includes('@depth'))!.text, undefined],
    ['a trade frame without an id', '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT"}}', undefined],
  ])('reads %s', (_, text, want) => {
    expect(recordedTradeId(text)).toBe(want);
  });
});

describe('ReplayFeed trade-id holes', () => {
  it('finds no hole in the bundled recordings (both symbols, both days), so replays of them do not change', async () => {
    const bus = new Bus<EngineMsg>();
    const feed = new ReplayFeed({ bus, clock: new SimulatedClock(0), files: [...rec('btc'), ...rec('eth')], kinds: ['trade'] });
    await feed.start();
    await feed.done;
    expect(feed.counters).toMatchObject({ trades: 34_419, tradeIdGaps: 0, silences: 0, resets: 0, badLines: 0 });
  }, 30_000);

  it('takes the first trades of a lap for no hole: a looped replay publishes its lap resets only', async () => {
    const bus = new Bus<EngineMsg>();
    const resets: string[] = [];
    bus.subscribe('md.feedReset', (m) => resets.push(m.reason));
    const feed = new ReplayFeed({ bus, clock: new SimulatedClock(0), files: rec('eth'), loop: true, maxLaps: 3, kinds: ['trade'] });
    await feed.start();
    await feed.done;
    expect(feed.counters.tradeIdGaps).toBe(0);
    expect(resets).toEqual(['replay lap 2', 'replay lap 3']);
  }, 30_000);

  // A hole in the trades alone (the other streams went on, so no silence shows it): only the ids do.
  it('publishes md.feedReset for the symbol before the first trade after a hole, at the previous line\'s time', async () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const seen: { type: string; ts: number; at: number; reason?: string }[] = [];
    bus.subscribePrefix('md.', (m) => {
      if (m.type === 'md.trade') seen.push({ type: m.type, ts: m.tsLocal, at: clock.now() });
      else if (m.type === 'md.feedReset') seen.push({ type: m.type, ts: m.ts, at: clock.now(), reason: `${m.symbol} ${m.reason}` });
    });
    const feed = new ReplayFeed({ bus, clock, files: [tradeHoleFile()] });
    await feed.start();
    await feed.done;
    const i = seen.findIndex((m) => m.type === 'md.feedReset');
    const last = idOf(btc8.filter((l) => isTrade(l) && ms(l) < at(57)).at(-1)!);
    const next = idOf(btc8.find((l) => isTrade(l) && ms(l) >= at(57, 5))!);
    expect([feed.counters.tradeIdGaps, feed.counters.silences]).toEqual([1, 0]);
    expect(seen[i]!.reason).toBe(`BTC/USDT trade id jumps from ${last} to ${next} (${next - last - 1} trades missing)`);
    // Between the last trade before the hole and the first after it, before the clock moved to that trade's line.
    expect(seen[i - 1]!.ts).toBeLessThan(at(57));
    expect(seen[i + 1]!.ts).toBeGreaterThanOrEqual(at(57, 5));
    expect(seen[i]!.ts).toBeGreaterThanOrEqual(seen[i - 1]!.ts);
    expect(seen[i]!.ts).toBeLessThan(seen[i + 1]!.ts);
    expect(seen[i]!.at).toBe(seen[i]!.ts);
  }, 30_000);

  // Trades lost while the depth stream went on: the reset is for the trades only. A book dropped here would wait for a
  // snapshot the recording does not hold (the recorder takes one after a reconnect, not after a trade hole).
  it('keeps the order book live over a hole in the trades alone', async () => {
    const cut = tradeCut;
    const file = tradeHoleFile();
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const scopes: (string | undefined)[] = [];
    bus.subscribe('md.feedReset', (m) => scopes.push(m.scope));
    const feed = new ReplayFeed({ bus, clock, files: [file] });
    const cob = new CobAggregator({ bus, clock, snapshots: feed, symbols: [{ symbol: 'BTC/USDT', bucketSize: '10', venues: [makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!)] }] });
    cob.start();
    await feed.start();
    await feed.done;
    cob.stop();
    expect(cut.size).toBeGreaterThan(10);
    expect([feed.counters.tradeIdGaps, scopes]).toEqual([1, ['trades']]);
    expect([cob.counters().resyncs, cob.bookState('BTC/USDT')]).toEqual([0, 'live']);
  }, 30_000);

  it('sees a hole in an aggTrade stream', async () => {
    const k = btc8.findIndex((l) => isTrade(l) && ms(l) >= at(57));
    const file = write('agg', btc8.filter((_, i) => i !== k).map((l) => (isTrade(l) ? asAggTrade(l) : l)));
    const bus = new Bus<EngineMsg>();
    const resets: string[] = [];
    bus.subscribe('md.feedReset', (m) => resets.push(m.reason));
    const feed = new ReplayFeed({ bus, clock: new SimulatedClock(0), files: [file], kinds: ['trade'] });
    await feed.start();
    await feed.done;
    expect(feed.counters.trades).toBe(btc8.filter(isTrade).length - 1);
    expect(resets).toEqual([expect.stringMatching(/^trade id jumps from \d+ to \d+ \(1 trades missing\)$/)]);
  }, 30_000);

  it('takes a trade line that does not decode for a lost trade: the next trade marks the hole', async () => {
    const k = btc8.findIndex((l) => isTrade(l) && ms(l) >= at(57));
    const file = write('truncated', btc8.map((l, i) => (i === k ? { ...l, text: l.text.slice(0, 120) } : l)));
    const feed = new ReplayFeed({ bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), files: [file], kinds: ['trade'] });
    await feed.start();
    await feed.done;
    expect([feed.counters.malformed, feed.counters.tradeIdGaps]).toEqual([1, 1]);
  }, 30_000);

  it('publishes no reset for a symbol whose trades are not published', async () => {
    const feed = new ReplayFeed({ bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), files: [holeFile()], kinds: ['depth'] });
    await feed.start();
    await feed.done;
    expect([feed.counters.tradeIdGaps, feed.counters.resets]).toEqual([0, 0]);
  }, 30_000);

  // The daemon's path: bars close on the simulated clock. The hole sits inside one minute; the silence cuts the bars at
  // the last line before it, before the clock moves into it (the id reset alone came after the clock had crossed the
  // hole; test/engine/venues/replay/replay-feed-silence.test.ts has holes over whole minutes).
  it('makes the DataProvider of a replaying daemon leave the minute of a hole out instead of closing it whole', async () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const dp = new DataProvider({ bus, clock, primary: 'BTC/USDT', reference: 'BTC/USDT', maintenanceMs: 0 });
    const minutes: number[] = [];
    bus.subscribe('md.candle', (m) => {
      if (m.timeframe === '1m') minutes.push(m.candle.openTime);
    });
    await dp.start();
    const feed = new ReplayFeed({ bus, clock, files: [holeFile()], kinds: ['trade'] });
    await feed.start();
    await feed.done;
    dp.stop();
    expect(minutes).toEqual([at(55), at(57), at(58), at(59)]);
  }, 30_000);
});

describe('ReplayFeed bad lines and symbols', () => {
  it('counts lines that are no `<ts_ns> <json>` in badLines, on every lap', async () => {
    const file = write('badlines', btc8.slice(0, 3000), 'garbage-without-timestamp\n12345\n');
    const feed = new ReplayFeed({ bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), files: [file], loop: true, maxLaps: 2 });
    await feed.start();
    await feed.done;
    expect(feed.counters.badLines).toBe(4);
    expect(feed.counters.frames).toBe(6000);
  });

  it('refuses to start, naming what it found, when asked for an instrument the recording does not hold', async () => {
    const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
    const feed = new ReplayFeed({ bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), files: [rec('btc')[0]!], instruments: [eth], requireInstruments: true });
    await expect(feed.start()).rejects.toThrow('symbol ETHUSDT not in recording (found BTCUSDT)');
  });
});
