// `cobalt candles` over recordings that are not clean: receive clocks off trade time, far-off timestamps, holes in
// the trade stream, lines that are no `<ts_ns> <json>`, a symbol the files do not hold. Regression tests of the CLI
// review (findings 3, 4, 6, 7, 8 and the partial first 1s bar).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captureOutput } from '../../capture-output.ts';
import { candlesFromRecordings, register, type CandlesResult } from '../../../engine/commands/candles.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { readRecordingLinesSync, type RecordedLine } from '../../../engine/venues/replay/recording.ts';

const BTC8 = 'data/recordings/spot_btcusdt_20240808.jsonl.gz';
const DAY_NS = 86_400_000_000_000n;
const at = (m: number, s = 0) => Date.UTC(2024, 7, 8, 23, m, s);
const dir = mkdtempSync(join(tmpdir(), 'candles-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = readRecordingLinesSync([BTC8]);
const isTrade = (l: RecordedLine) => l.text.startsWith('{"stream":"btcusdt@trade"');
/** Writes `ls` as a plain recording and returns its path. */
function write(name: string, ls: readonly RecordedLine[], extra = ''): string {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, `${ls.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n${extra}`);
  return file;
}
const bars = (r: CandlesResult) => r.candles.map((c: Candle) => [c.openTime, c.volume, c.trades]);

let clean: CandlesResult;
beforeAll(async () => {
  clean = await candlesFromRecordings([BTC8], 'BTCUSDT', '1m');
}, 30_000);

describe('cobalt candles over damaged recordings', () => {
  it('the untouched recording gives the five whole minutes 23:55-23:59', () => {
    expect(bars(clean).map((b) => b[0])).toEqual([55, 56, 57, 58, 59].map((m) => at(m)));
    expect(bars(clean)[0]).toEqual([at(55), 15.07702, 1255]);
    expect([clean.lateTrades, clean.lateBars, clean.replay.badLines, clean.replay.tradeIdGaps]).toEqual([0, 0, 0, 0]);
  });

  // Finding 3: the close timer ran on the receive clock, 3 s ahead of trade time: lateTrades 6695 and a 23:55 bar
  // of 4.77 / 507 trades instead of 15.08 / 1255, exit 0.
  it('builds bars by trade time when every receive time runs 3 s ahead of it, losing no trade', async () => {
    const file = write('plus3s', lines.map((l) => ({ ...l, tsLocalNs: l.tsLocalNs + 3_000_000_000n })));
    const r = await candlesFromRecordings([file], 'BTCUSDT', '1m');
    expect(r.lateTrades).toBe(0);
    expect(bars(r)).toEqual(bars(clean));
  }, 30_000);

  // Finding 4: an exchange-simulator recording (trades of 2024 received in 2026) filled ~70 million flat 1s bars.
  it('builds the same bars from a recording received a day after its trade times, with no flat bars between', async () => {
    const file = write('plus1day', lines.map((l) => ({ ...l, tsLocalNs: l.tsLocalNs + DAY_NS })));
    const r = await candlesFromRecordings([file], 'BTCUSDT', '1m');
    expect(bars(r)).toEqual(bars(clean));
  }, 30_000);

  // Finding 4: one line stamped a year late (part_badts.jsonl) moved the clock and hung the command.
  it('is not thrown off by one line whose receive time is a day off', async () => {
    const k = lines.findIndex((l, i) => i > 20_000 && !isTrade(l));
    const file = write('badts', lines.map((l, i) => (i === k ? { ...l, tsLocalNs: l.tsLocalNs + DAY_NS } : l)));
    const r = await candlesFromRecordings([file], 'BTCUSDT', '1m');
    expect(bars(r)).toEqual(bars(clean));
  }, 30_000);

  it('refuses a trade time two days after the previous trade of an unbroken stream, naming the trade', async () => {
    const k = lines.findIndex((l, i) => i > 20_000 && isTrade(l));
    const text = lines[k]!.text.replace(/"T":(\d+)/, (_, t: string) => `"T":${Number(t) + 2 * 86_400_000}`);
    const file = write('badtradetime', lines.map((l, i) => (i === k ? { ...l, text } : l)));
    await expect(candlesFromRecordings([file], 'BTCUSDT', '1m')).rejects.toThrow(/BTC\/USDT trade \d+ at 2024-08-10T\S+ comes 48\.0 h after the previous trade .*a trade time is wrong/);
  }, 30_000);

  // Finding 6: 5 s cut out of the recording (trade ids jump by 112) and 23:56 printed as whole (13.89 / 899).
  it('leaves out the minute of a hole in the trade ids and keeps the others', async () => {
    const cut = (l: RecordedLine) => l.tsLocalNs >= BigInt(at(56, 19)) * 1_000_000n && l.tsLocalNs < BigInt(at(56, 24)) * 1_000_000n;
    const file = write('hole', lines.filter((l) => !cut(l)));
    const r = await candlesFromRecordings([file], 'BTCUSDT', '1m');
    expect(r.replay.tradeIdGaps).toBe(1);
    expect(bars(r)).toEqual(bars(clean).filter((b) => b[0] !== at(56)));
  }, 30_000);

  // Finding 7: lines that are no `<ts_ns> <json>` were dropped without a count; a truncated trade lost a trade.
  it('counts a line that is no recorded line, and leaves out the minute of a trade that did not decode', async () => {
    const k = lines.findIndex((l) => isTrade(l) && l.tsLocalNs >= BigInt(at(57, 30)) * 1_000_000n);
    const file = write('bad', lines.map((l, i) => (i === k ? { ...l, text: l.text.slice(0, 120) } : l)), 'garbage-without-timestamp\n');
    const r = await candlesFromRecordings([file], 'BTCUSDT', '1m');
    expect([r.replay.badLines, r.replay.malformed, r.replay.tradeIdGaps]).toEqual([1, 1, 1]);
    expect(bars(r)).toEqual(bars(clean).filter((b) => b[0] !== at(57)));
  }, 30_000);

  it('leaves out the bar a late trade (trade time out of order) belonged to, and counts it', async () => {
    const k = lines.findIndex((l) => isTrade(l) && l.tsLocalNs >= BigInt(at(57, 30)) * 1_000_000n);
    const text = lines[k]!.text.replace(/"T":(\d+)/, `"T":${at(56, 59) + 500}`);
    const file = write('late', lines.map((l, i) => (i === k ? { ...l, text } : l)));
    const r = await candlesFromRecordings([file], 'BTCUSDT', '1m');
    expect([r.lateTrades, r.lateBars]).toEqual([1, 1]);
    expect(bars(r).map((b) => b[0])).toEqual([55, 57, 58, 59].map((m) => at(m)));
  }, 30_000);

  // Finding 8: `--symbol ETHUSDT` over the BTC file printed count 0 and exited 0.
  it('fails when the symbol is not in the recording, naming the symbols found', async () => {
    await expect(candlesFromRecordings([BTC8], 'ETHUSDT', '1m')).rejects.toThrow('symbol ETHUSDT not in recording (found BTCUSDT)');
  });

  // The 1s bars included the first one, which the recording starts inside; 1m and coarser keep whole bars only.
  it('leaves out the first 1s bar, which the recording starts inside, as it leaves out the first minute', async () => {
    const first = lines.find(isTrade)!;
    const firstSecond = Math.floor(Number(/"T":(\d+)/.exec(first.text)![1]) / 1000) * 1000;
    const r = await candlesFromRecordings([BTC8], 'BTCUSDT', '1s');
    expect(r.partialBars).toBe(1);
    expect(r.candles[0]!.openTime).toBe(firstSecond + 1000);
  }, 30_000);
});

describe('cobalt candles output', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });
  const run = (args: string[]) => captureOutput(async () => {
    const program = new Command();
    register(program);
    await program.parseAsync(['node', 'cobalt', 'candles', ...args]);
  });

  it('prints the bad lines in the JSON and, with --csv, on stderr', async () => {
    const file = write('bad-only', lines, 'garbage-without-timestamp\n');
    const json = await run(['--replay', file, '--symbol', 'BTCUSDT']);
    expect(JSON.parse(json.out)).toMatchObject({ count: 5, badLines: 1, tradeIdGaps: 0, lateTrades: 0 });
    const csv = await run(['--replay', file, '--symbol', 'BTCUSDT', '--csv']);
    expect(csv.out.trim().split('\n')).toHaveLength(6);
    expect(csv.err).toContain('candles: 1 bad lines skipped, 0 trade-id gaps');
  }, 30_000);
});
