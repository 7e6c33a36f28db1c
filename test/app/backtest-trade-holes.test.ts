// A hole in a recording's trade ids (a recorder reconnect leaves no other marker) cuts the backtest's candles there,
// as it does in the replayed daemon (engine/venues/replay/trade-ids.ts), whether the lines come from the replay catalog
// or the text. The bundled recording has none, so its backtests do not change.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import type { Candle } from '../../engine/messages/market.ts';
import { readRecordingLinesSync } from '../../engine/venues/replay/recording.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-trade-holes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (m: number, s = 0) => Date.UTC(2024, 7, 8, 23, m, s);

/**
 * Returns the recordings of 2024-08-08 of ETH and of BTC (the reference: a backtest refuses one it has no line of),
 * each with every line received in [from, to) cut out, as `name`.
 */
function cutFiles(name: string, from: number, to: number): string[] {
  const ms = (ns: bigint) => Number(ns / 1_000_000n);
  return ['eth', 'btc'].map((sym) => {
    const lines = readRecordingLinesSync([`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`]);
    const file = join(dir, `${sym}-${name}.jsonl`);
    writeFileSync(file, `${lines.filter((l) => ms(l.tsLocalNs) < from || ms(l.tsLocalNs) >= to).map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n`);
    return file;
  });
}

/** The recording of 2024-08-08 with 5 s of lines (every stream, as over a reconnect) cut out at 23:56:19. */
const holeFiles = (): string[] => cutFiles('hole', at(56, 19), at(56, 24));

describe('a backtest over a hole in the trade ids', () => {
  const files = holeFiles();
  it.each([['catalog', true], ['text', false]] as const)('from the %s: counts it and leaves out the minute it falls in', async (_, catalog) => {
    const config = testConfig({ data: { replayFiles: files, catalogDir: join(dir, 'catalog') } });
    const minutes: Candle[] = [];
    const r = await runBacktest(config, {
      seed: 1, catalog,
      onSystem: (s) => void s.bus.subscribe('md.candle', (m) => {
        if (m.timeframe === '1m' && m.symbol === 'ETH/USDT') minutes.push(m.candle);
      }),
    });
    // One per symbol: the reference's trades lost the same 5 s.
    expect(r.summary.tradeIdGaps).toBe(2);
    const opens = minutes.filter((c) => c.closed).map((c) => c.openTime);
    expect(opens).toContain(at(55));
    expect(opens).toContain(at(57));
    expect(opens).not.toContain(at(56));
  }, 60_000);

  it('finds none in the bundled recording', async () => {
    const r = await runBacktest(testConfig(), { seed: 1, maxSpanMs: 120_000 });
    expect([r.summary.tradeIdGaps, r.summary.silences]).toEqual([0, 0]);
  }, 60_000);
});

// Market-data candles review, finding 1: after a recorder stop the first line is a bookTicker or depth frame; moving
// the clock to it made a flat zero-volume 1s bar of every second of the stop, and the minutes inside it rolled up
// whole (the trade-id reset came later, with the first trade). The backtest reads ahead and cuts the candles at
// ETH's last line before the stop.
describe('a backtest over a recorder stop of 88 s (every stream lost, no marker)', () => {
  const files = cutFiles('stop', at(55, 30), at(56, 58));
  it.each([['catalog', true], ['text', false]] as const)('from the %s: leaves out every minute it touches and makes no 1s bar inside it', async (_, catalog) => {
    const config = testConfig({ data: { replayFiles: files, catalogDir: join(dir, 'catalog') } });
    const bars: Candle[] = [];
    const seconds: Candle[] = [];
    const r = await runBacktest(config, {
      seed: 1, catalog,
      onSystem: (s) => void s.bus.subscribe('md.candle', (m) => {
        if (m.symbol === 'ETH/USDT' && m.timeframe === '1m') bars.push(m.candle);
        if (m.symbol === 'ETH/USDT' && m.timeframe === '1s') seconds.push(m.candle);
      }),
    });
    // One of each per symbol: the stop lost the reference's lines too.
    expect([r.summary.silences, r.summary.tradeIdGaps]).toEqual([2, 2]);
    // 23:54 and 23:59 are partial anyway (the recording starts and ends inside them); 23:55 and 23:56 hold the stop.
    expect(bars.map((c) => c.openTime)).toEqual([at(57), at(58)]);
    // Trade times run ~1.3 s ahead of receive times: the last second with trades before the stop is 23:55:31.
    expect(seconds.filter((c) => c.openTime >= at(55, 31) && c.openTime < at(56, 58)).map((c) => c.openTime)).toEqual([]);
  }, 60_000);
});
