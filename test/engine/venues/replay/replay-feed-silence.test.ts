// A recorder stop leaves no marker in a recording. Replayed as the daemon replays it (ReplayFeed + DataProvider on a
// SimulatedClock, bars closed by the clock), the first line after the stop (a bookTicker or depth frame) moved the
// clock across the hole: the 1 s close timer made a flat zero-volume 1s bar of every second of it, and every minute
// inside the hole (or whose tail was cut) rolled up whole, e.g. 23:55 v=9.33 instead of 15.08 and 23:56 v=0 instead
// of 15.50 over 150 s cut at 23:55:30. Regression tests of the market-data candles review (finding 1).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataProvider } from '../../../../actors/data-provider/provider.ts';
import type { FrameKind } from '../../../../engine/venues/binance/frames.ts';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import type { Candle } from '../../../../engine/messages/market.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { nsToMs } from '../../../../engine/types/time.ts';
import { readRecordingLinesSync, type RecordedLine } from '../../../../engine/venues/replay/recording.ts';
import { ReplayFeed } from '../../../../engine/venues/replay/replay-feed.ts';
import { SILENCE_MS, TRADES_ONLY_SILENCE_MS } from '../../../../engine/venues/replay/trade-ids.ts';

const REC = 'data/recordings';
const at = (m: number, s = 0) => Date.UTC(2024, 7, 8, 23, m, s);
const ms = (l: RecordedLine) => nsToMs(l.tsLocalNs);
const dir = mkdtempSync(join(tmpdir(), 'replay-silence-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const btc8 = readRecordingLinesSync([`${REC}/spot_btcusdt_20240808.jsonl.gz`]);
const eth8 = readRecordingLinesSync([`${REC}/spot_ethusdt_20240808.jsonl.gz`]);
const isTrade = (l: RecordedLine) => /^\{"stream":"[a-z]+@trade"/.test(l.text);
function write(name: string, ls: readonly RecordedLine[]): string {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, `${ls.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n`);
  return file;
}
/** `ls` without the lines received in [from, to): a recorder stop, every stream lost. */
const cut = (ls: readonly RecordedLine[], from: number, to: number) => ls.filter((l) => ms(l) < from || ms(l) >= to);

interface Replayed {
  readonly bars: Map<string, Candle[]>;
  readonly resets: { symbol: string; ts: number; clock: number; reason: string }[];
  readonly feed: ReplayFeed;
}

/** Replays `files` as the daemon does (bars closed by the clock) for BTC/USDT and ETH/USDT; returns the bars by symbol and timeframe. */
async function replay(files: string[], kinds?: FrameKind[]): Promise<Replayed> {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(0);
  const dp = new DataProvider({ bus, clock, primary: 'ETH/USDT', reference: 'BTC/USDT', maintenanceMs: 0 });
  const bars = new Map<string, Candle[]>();
  bus.subscribe('md.candle', (m) => {
    const k = `${m.symbol} ${m.timeframe}`;
    bars.set(k, [...(bars.get(k) ?? []), m.candle]);
  });
  const resets: Replayed['resets'] = [];
  bus.subscribe('md.feedReset', (m) => void resets.push({ symbol: m.symbol, ts: m.ts, clock: clock.now(), reason: m.reason }));
  await dp.start();
  const feed = new ReplayFeed({ bus, clock, files, ...(kinds ? { kinds } : {}) });
  await feed.start();
  await feed.done;
  dp.stop();
  return { bars, resets, feed };
}
const opens = (r: Replayed, key: string) => (r.bars.get(key) ?? []).map((c) => c.openTime);
const inside = (r: Replayed, key: string, from: number, to: number) => opens(r, key).filter((t) => t >= from && t < to);

describe('ReplayFeed over a recorder stop (every stream lost, no marker)', () => {
  const stop = write('btc-stop', cut(btc8, at(55, 30), at(58)));
  const lastBefore = ms(cut(btc8, at(55, 30), Infinity).at(-1)!);

  it.each([['every frame kind', undefined], ['trades only', ['trade'] as FrameKind[]]])(
    'with %s published, leaves out every minute the stop touches and makes no 1s bar inside it',
    async (_, kinds) => {
      const r = await replay([stop], kinds);
      expect(opens(r, 'BTC/USDT 1m')).toEqual([at(59)]);
      // Trade times run ~1.3 s ahead of receive times: the last second with trades before the stop is 23:55:31.
      expect(inside(r, 'BTC/USDT 1s', at(55, 31), at(58))).toEqual([]);
      expect(r.feed.counters.silences).toBe(1);
      expect(r.resets[0]).toMatchObject({ symbol: 'BTC/USDT', ts: lastBefore, clock: lastBefore });
      expect(r.resets[0]!.reason).toMatch(/^no line of BTCUSDT after 2024-08-08T23:55:29\.\d{3}Z \(the next \d+ ms later; a quiet stream stays under 3000 ms\): a hole in the recording$/);
    },
    30_000,
  );

  it('cuts the silent symbol only, while the other one goes on', async () => {
    const r = await replay([stop, write('eth', eth8)]);
    expect(opens(r, 'BTC/USDT 1m')).toEqual([at(59)]);
    expect(inside(r, 'BTC/USDT 1s', at(55, 31), at(58))).toEqual([]);
    expect(opens(r, 'ETH/USDT 1m')).toEqual([at(55), at(56), at(57), at(58)]);
    expect(r.resets.map((x) => x.symbol)).toEqual(['BTC/USDT', 'BTC/USDT']); // the silence, then the trade ids
    expect([r.feed.counters.silences, r.feed.counters.tradeIdGaps]).toEqual([1, 1]);
  }, 30_000);

  it('cuts a symbol whose recording ends while another symbol\'s goes on', async () => {
    const r = await replay([write('eth', eth8), `${REC}/spot_btcusdt_20240808.jsonl.gz`, `${REC}/spot_btcusdt_20240809.jsonl.gz`]);
    expect(r.resets.map((x) => [x.symbol, x.ts])).toEqual([['ETH/USDT', ms(eth8.at(-1)!)]]);
    // No flat ETH bars after its data: the last 1s bar is one with trades.
    const eth1s = r.bars.get('ETH/USDT 1s')!;
    expect(eth1s.at(-1)!.volume).toBeGreaterThan(0);
    expect(eth1s.at(-1)!.openTime).toBeLessThan(at(60, 2));
  }, 30_000);
});

describe('ReplayFeed silence bounds', () => {
  it('finds no silence in the bundled recordings, every frame kind published', async () => {
    const files = ['btc', 'eth'].flatMap((s) => [`${REC}/spot_${s}usdt_20240808.jsonl.gz`, `${REC}/spot_${s}usdt_20240809.jsonl.gz`]);
    const r = await replay(files);
    expect(r.feed.counters).toMatchObject({ silences: 0, tradeIdGaps: 0, resets: 0 });
  }, 30_000);

  // The trades of the bundled ETH recording go up to 3.8 s without one (23:57:14): a quiet market, not a hole.
  it('gives a recording of trades alone the longer bound: its quiet seconds are no hole, a longer stop is', async () => {
    const trades = eth8.filter(isTrade);
    const quiet = Math.max(...trades.slice(1).map((l, i) => ms(l) - ms(trades[i]!)));
    expect(quiet).toBeGreaterThan(SILENCE_MS);
    expect((await replay([write('eth-trades', trades)])).feed.counters.silences).toBe(0);
    const stopped = await replay([write('eth-trades-stop', cut(trades, at(56, 40), at(56, 40) + TRADES_ONLY_SILENCE_MS + 1_000))]);
    expect(stopped.feed.counters.silences).toBe(1);
    expect(opens(stopped, 'ETH/USDT 1m')).toEqual([at(55), at(57), at(58)]);
  }, 30_000);

  it('takes one line stamped a day late for a bad timestamp, not a hole', async () => {
    const k = btc8.findIndex((l, i) => i > 20_000 && !isTrade(l));
    const file = write('badts', btc8.map((l, i) => (i === k ? { ...l, tsLocalNs: l.tsLocalNs + 86_400_000_000_000n } : l)));
    const feed = new ReplayFeed({ bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), files: [file], kinds: ['trade'] });
    await feed.start();
    await feed.done;
    expect([feed.counters.silences, feed.counters.resets]).toEqual([0, 0]);
  }, 30_000);
});
