// What a backtest skipped of its recording (reviewer finding, catalog review 2): lines that are not `<ts> <json>`,
// frames that did not decode and depth diffs of the traded symbol that did not parse were counted somewhere and
// reported nowhere, so a run over a damaged recording looked like one over a whole one. The summary's `feed` says how
// many, from the text and from the catalog alike, and a warning with a stable code says so when any is not zero.
// A run stopped early (`maxSpanMs`, `window`) counts the bad lines up to the last line it replayed, on both paths
// alike (reviewer finding, catalog review 3): the catalog had said its whole files' count, and the text those its
// read-ahead had read, so 200 bad lines near the end of a recording warned of a 60 s run over its clean start.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { feedSkipped, runBacktest, type BacktestOptions } from '../../app/backtest.ts';
import { backtestReportHtml } from '../../app/report-html.ts';
import { createLogger } from '../../engine/log.ts';
import { readRecordingLinesSync } from '../../engine/venues/replay/recording.ts';
import { nsToMs } from '../../engine/types/time.ts';
import { RecordingMerge } from '../../engine/venues/sim/replay.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-feed-skipped-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BAD_LINES = 50;
const BAD_DEPTH = 3;
const ETH = readRecordingLinesSync(['data/recordings/spot_ethusdt_20240808.jsonl.gz']);
const BTC = readRecordingLinesSync(['data/recordings/spot_btcusdt_20240808.jsonl.gz']);
/** Receive time of the recordings' first line (BTC's): a run stopped by `maxSpanMs` replays up to SPAN_MS after it. */
const FIRST_MS = Math.min(nsToMs(ETH[0]!.tsLocalNs), nsToMs(BTC[0]!.tsLocalNs));
const SPAN_MS = 60_000;
const WINDOW = { fromMs: FIRST_MS + 120_000, toMs: FIRST_MS + 180_000 };

/** A recording of ETH and BTC, `bad[k]` lines that are not `<ts> <json>` written before ETH line k (k = ETH.length: after its last). */
function write(name: string, eth: string[], bad: ReadonlyMap<number, number>): string[] {
  const out: string[] = [];
  for (let k = 0; k <= eth.length; k++) {
    for (let i = 0; i < (bad.get(k) ?? 0); i++) out.push('not a recorded line');
    if (k < eth.length) out.push(eth[k]!);
  }
  const files = [[`${name}-eth`, out], [`${name}-btc`, BTC.map((l) => `${l.tsLocalNs} ${l.text}`)]] as const;
  return files.map(([n, lines]) => {
    const file = join(dir, `${n}.jsonl`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  });
}

/** Bad lines of `bad` before ETH lines received while `replayed` says so (a whole run: all, those after the last line too). */
function badBefore(bad: ReadonlyMap<number, number>, replayed: (ms: number) => boolean): number {
  let n = 0;
  for (const [k, c] of bad) if (k < ETH.length && replayed(nsToMs(ETH[k]!.tsLocalNs))) n += c;
  return n;
}

/**
 * The bundled recordings of 2024-08-08 with every fifth ETH trade's price made unreadable, the first `BAD_DEPTH` ETH
 * depth diffs after 23:58 given a level that does not parse, and `BAD_LINES` lines that are not `<ts> <json>`: two
 * before ETH's first line, 40 spread over it, one before the last ETH line a 60 s run replays and two before the first
 * it does not, and five after its last line.
 */
function damaged(): { files: string[]; badTrades: number; bad: ReadonlyMap<number, number> } {
  let trades = 0;
  let badDepth = 0;
  const from = BigInt(Date.UTC(2024, 7, 8, 23, 58)) * 1_000_000n;
  const eth = ETH.map(({ tsLocalNs, text }) => {
    if (text.includes('@trade') && trades++ % 5 === 0) text = text.replace(/"p":"[0-9.]+"/, '"p":"?"');
    else if (text.includes('@depth') && tsLocalNs >= from && badDepth < BAD_DEPTH && text.includes('"b":[["')) {
      badDepth++;
      text = text.replace('"b":[["', '"b":[["x');
    }
    return `${tsLocalNs} ${text}`;
  });
  expect(badDepth).toBe(BAD_DEPTH);
  const stop = ETH.findIndex((l) => nsToMs(l.tsLocalNs) > FIRST_MS + SPAN_MS);
  const bad = new Map<number, number>([[0, 2], [stop - 1, 1], [stop, 2], [ETH.length, 5]]);
  for (let i = 0; i < 40; i++) bad.set(1000 + i * 800, 1);
  expect([...bad.values()].reduce((a, b) => a + b)).toBe(BAD_LINES);
  return { files: write('damaged', eth, bad), badTrades: Math.ceil(trades / 5), bad };
}

/** Runs a backtest of `files` (undefined: the bundled ones, for 60 s); returns its summary and the warnings it logged. */
async function run(catalog: boolean, files?: string[], stop: Pick<BacktestOptions, 'maxSpanMs' | 'window'> = files ? {} : { maxSpanMs: SPAN_MS }) {
  const logged: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) } });
  const config = testConfig({ data: { ...(files ? { replayFiles: files } : {}), catalogDir: join(dir, 'catalog') } });
  const r = await runBacktest(config, { seed: 1, catalog, logger, ...stop });
  return { feed: r.summary.feed, warned: logged.filter((l) => l['code'] === 'BACKTEST_FEED_SKIPPED'), html: backtestReportHtml(r) };
}

describe("a backtest's summary of what its recording lacked", () => {
  const { files, badTrades, bad } = damaged();

  it.each([['catalog', true], ['text', false]] as const)('from the %s: counts the bad lines, malformed frames and depth diffs, and warns', async (_, catalog) => {
    const { feed, warned, html } = await run(catalog, files);
    expect(feed).toEqual({ badLines: BAD_LINES, malformed: badTrades, malformedDepth: BAD_DEPTH });
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ badLines: BAD_LINES, malformed: badTrades, malformedDepth: BAD_DEPTH });
    expect(warned[0]!['msg']).toBe(feedSkipped(feed));
    // The report says it too, beside the book's downtime.
    expect(html).toContain(`${BAD_LINES} line(s) not &lt;ts&gt; &lt;json&gt;, ${badTrades} malformed frame(s)`);
  }, 60_000);

  it('over the bundled recording: nothing skipped, no warning', async () => {
    const { feed, warned, html } = await run(true);
    expect(feed).toEqual({ badLines: 0, malformed: 0, malformedDepth: 0 });
    expect(feedSkipped(feed)).toBeUndefined();
    expect(warned).toEqual([]);
    expect(html).not.toContain('skipped, so the figures');
  }, 60_000);

  // Up to the last line replayed, warm-up included: the bad lines just past the end (read ahead by the text, counted
  // in the catalog's whole files) are not the run's.
  it.each([
    ['maxSpanMs', { maxSpanMs: SPAN_MS }, (ms: number) => ms <= FIRST_MS + SPAN_MS],
    ['window', { window: WINDOW }, (ms: number) => ms < WINDOW.toMs],
  ] as const)('stopped early (%s): both count the bad lines before the last line replayed', async (_, stop, replayed) => {
    const want = badBefore(bad, replayed);
    expect(want).toBeGreaterThan(2);
    expect(want).toBeLessThan(BAD_LINES - 5);
    const [text, cat] = [await run(false, files, stop), await run(true, files, stop)];
    expect(text.feed.badLines).toBe(want);
    expect(cat.feed).toEqual(text.feed);
    expect(cat.warned[0]).toMatchObject({ badLines: want });
  }, 60_000);

  // What both paths count from: each line tells the bad lines before it in its file, and a file's last line those after it too.
  it('the merge tells each bad line once, with the line after it in its file (the last line: those after it too)', async () => {
    /** The lines of `ls`, with n bad lines before line k for each [k, n] of `bad` (k in descending order). */
    const at = (ls: typeof ETH, bad: readonly (readonly [number, number])[]): string[] => {
      const out = ls.map((l) => `${l.tsLocalNs} ${l.text}`);
      for (const [k, n] of bad) out.splice(k, 0, ...Array<string>(n).fill('not a recorded line'));
      return out;
    };
    // ETH in two files that follow each other: bad lines at the start of each, inside the first and after its last line.
    const parts = [
      ['chain-a', at(ETH.slice(0, 1000), [[1000, 3], [500, 1], [0, 2]])],
      ['chain-b', at(ETH.slice(1000, 2000), [[0, 4]])],
      ['chain-btc', BTC.slice(0, 2000).map((l) => `${l.tsLocalNs} ${l.text}`)],
    ] as const;
    const files = parts.map(([n, lines]) => {
      const file = join(dir, `${n}.jsonl`);
      writeFileSync(file, `${lines.join('\n')}\n`);
      return file;
    });
    // Small pieces: many lines come through `next` after a fill, others through `nextSync`.
    const merge = await RecordingMerge.open(files, { pieceBytes: 4096 });
    const told = new Map<number, number>();
    let eth = 0;
    for (let l = merge.nextSync() ?? (await merge.next()); l !== undefined; l = merge.nextSync() ?? (await merge.next())) {
      if (l.symbol === 'ETHUSDT') {
        if (merge.skipped > 0) told.set(eth, merge.skipped);
        eth++;
      } else {
        expect(merge.skipped).toBe(0);
      }
    }
    await merge.close();
    expect(eth).toBe(2000);
    expect([...told]).toEqual([[0, 2], [500, 1], [999, 3], [1000, 4]]);
    expect(merge.stats.badLines).toBe(10);
  });

  it('bad lines near the end only: a 60 s run over the clean start counts none and warns of nothing', async () => {
    const late = new Map<number, number>([[ETH.length, 3]]);
    for (let i = 0; i < 200; i++) late.set(ETH.length - 5000 + i * 20, 1);
    const lateFiles = write('late', ETH.map((l) => `${l.tsLocalNs} ${l.text}`), late);
    for (const catalog of [false, true]) {
      const { feed, warned } = await run(catalog, lateFiles, { maxSpanMs: SPAN_MS });
      expect(feed).toEqual({ badLines: 0, malformed: 0, malformedDepth: 0 });
      expect(warned).toEqual([]);
    }
    // A whole run counts them all, those after ETH's last line too.
    for (const catalog of [false, true]) expect((await run(catalog, lateFiles)).feed.badLines).toBe(203);
  }, 120_000);
});
