// What a backtest skipped of its recording (reviewer finding, catalog review 2): lines that are not `<ts> <json>`,
// frames that did not decode and depth diffs of the traded symbol that did not parse were counted somewhere and
// reported nowhere, so a run over a damaged recording looked like one over a whole one. The summary's `feed` says how
// many, from the text and from the catalog alike, and a warning with a stable code says so when any is not zero.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { feedSkipped, runBacktest } from '../../app/backtest.ts';
import { backtestReportHtml } from '../../app/report-html.ts';
import { createLogger } from '../../engine/log.ts';
import { readRecordingLinesSync } from '../../engine/venues/replay/recording.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-feed-skipped-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BAD_LINES = 50;
const BAD_DEPTH = 3;

/**
 * The bundled recordings of 2024-08-08 with every fifth ETH trade's price made unreadable, the first `BAD_DEPTH` ETH
 * depth diffs after 23:58 given a level that does not parse, and `BAD_LINES` lines that are not `<ts> <json>`.
 */
function damaged(): { files: string[]; badTrades: number } {
  let trades = 0;
  let badDepth = 0;
  const from = BigInt(Date.UTC(2024, 7, 8, 23, 58)) * 1_000_000n;
  const eth = readRecordingLinesSync(['data/recordings/spot_ethusdt_20240808.jsonl.gz']).map(({ tsLocalNs, text }) => {
    if (text.includes('@trade') && trades++ % 5 === 0) text = text.replace(/"p":"[0-9.]+"/, '"p":"?"');
    else if (text.includes('@depth') && tsLocalNs >= from && badDepth < BAD_DEPTH && text.includes('"b":[["')) {
      badDepth++;
      text = text.replace('"b":[["', '"b":[["x');
    }
    return `${tsLocalNs} ${text}`;
  });
  expect(badDepth).toBe(BAD_DEPTH);
  for (let i = 0; i < BAD_LINES; i++) eth.splice(1000 + i * 50, 0, 'not a recorded line');
  const btc = readRecordingLinesSync(['data/recordings/spot_btcusdt_20240808.jsonl.gz']).map((l) => `${l.tsLocalNs} ${l.text}`);
  const files = [['eth', eth], ['btc', btc]] as const;
  return {
    files: files.map(([name, lines]) => {
      const file = join(dir, `${name}.jsonl`);
      writeFileSync(file, `${lines.join('\n')}\n`);
      return file;
    }),
    badTrades: Math.ceil(trades / 5),
  };
}

/** Runs a backtest of `files` (undefined: the bundled ones, for 60 s); returns its summary and the warnings it logged. */
async function run(catalog: boolean, files?: string[]) {
  const logged: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) } });
  const config = testConfig({ data: { ...(files ? { replayFiles: files } : {}), catalogDir: join(dir, 'catalog') } });
  const r = await runBacktest(config, { seed: 1, catalog, logger, ...(files ? {} : { maxSpanMs: 60_000 }) });
  return { feed: r.summary.feed, warned: logged.filter((l) => l['code'] === 'BACKTEST_FEED_SKIPPED'), html: backtestReportHtml(r) };
}

describe("a backtest's summary of what its recording lacked", () => {
  const { files, badTrades } = damaged();

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
});
