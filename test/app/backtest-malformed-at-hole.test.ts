// A malformed line at a hole in the recording (reviewer finding, catalog review 1): the text and the replay catalog
// must give one backtest. The catalog knows a line's trade id and depth update ids only when the line decoded; the
// text read them from the raw line. The rule both now keep: a trade that did not decode is missing from the candles,
// so the id jump it leaves is a real hole (its own id must not close it); a depth diff that did not parse was not
// applied, so the book is missing an update across a silence that follows it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest, type BacktestSummary } from '../../app/backtest.ts';
import { readRecordingLinesSync } from '../../engine/venues/replay/recording.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-malformed-at-hole-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Line = { tsLocalNs: bigint; text: string };
const read = (sym: string): Line[] => readRecordingLinesSync([`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`]);

/** Writes the ETH lines `eth` and the bundled BTC recording (a backtest refuses a reference it has no line of) as `name`. */
function write(name: string, eth: readonly Line[]): string[] {
  const files = [[`eth-${name}`, eth], [`btc-${name}`, read('btc')]] as const;
  return files.map(([f, lines]) => {
    const file = join(dir, `${f}.jsonl`);
    writeFileSync(file, `${lines.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n`);
    return file;
  });
}

/** ETH with 5 trades lost, then a trade whose price does not parse: the first trade after the hole is malformed. */
function lostThenMalformedTrade(): string[] {
  const eth = read('eth');
  const trades = eth.flatMap((l, i) => (l.text.includes('@trade') ? [i] : []));
  const bad = trades[2000]!;
  const lost = new Set(trades.slice(1995, 2000));
  return write('A', eth.map((l, i) => (i === bad ? { ...l, text: l.text.replace(/"p":"[0-9.]+"/, '"p":"?"') } : l)).filter((_, i) => !lost.has(i)));
}

/** ETH with every line from a third in delivered 5 s late (a stall: nothing lost), its last depth diff before it malformed. */
function stallAfterMalformedDepth(): string[] {
  const eth = read('eth');
  const t0 = eth[Math.floor(eth.length / 3)]!.tsLocalNs;
  const shifted = eth.map((l) => (l.tsLocalNs >= t0 ? { ...l, tsLocalNs: l.tsLocalNs + 5_000_000_000n } : l));
  const last = shifted.findLastIndex((l) => l.tsLocalNs < t0 && l.text.includes('@depth'));
  expect(shifted[last]!.text).toContain('"b":[["');
  return write('B1', shifted.map((l, i) => (i === last ? { ...l, text: l.text.replace('"b":[["', '"b":[["x') } : l)));
}

/** The summary without its wall-time figures (the only ones two runs over the same lines may differ in). */
function figures(s: BacktestSummary): Omit<BacktestSummary, 'durationMs' | 'speedX' | 'replayMs' | 'replaySpeedX'> {
  const { durationMs: _d, speedX: _s, replayMs: _r, replaySpeedX: _x, ...rest } = s;
  return rest;
}

async function both(name: string, files: string[]): Promise<{ text: BacktestSummary; catalog: BacktestSummary }> {
  const config = testConfig({ data: { replayFiles: files, catalogDir: join(dir, `catalog-${name}`) } });
  const text = (await runBacktest(config, { seed: 2, catalog: false })).summary;
  const catalog = (await runBacktest(config, { seed: 2 })).summary;
  return { text, catalog };
}

describe('a malformed line at a hole in the recording', () => {
  it('a malformed trade right after lost trades: the text and the catalog count one hole and decide alike', async () => {
    const { text, catalog } = await both('A', lostThenMalformedTrade());
    expect(catalog.tradeIdGaps).toBe(1);
    expect(figures(text)).toEqual(figures(catalog));
  }, 60_000);

  it('a stall whose last depth diff before it is malformed: both paths break the book there', async () => {
    const { text, catalog } = await both('B1', stallAfterMalformedDepth());
    expect(catalog.silences).toBeGreaterThan(0);
    expect(catalog.bookLastDownReason).toMatch(/a hole in the recording/);
    expect(figures(text)).toEqual(figures(catalog));
  }, 60_000);
});
