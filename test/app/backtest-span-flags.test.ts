// `cobalt backtest --from/--to` and `cobalt sweep --from/--to`: a sub-span of the recording, with either end left out
// meaning the recording's own. The data before --from still warms the engine up (runBacktest's window).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { BacktestWindowError, runBacktest } from '../../app/backtest.ts';
import { backtestCommand } from '../../app/cli-backtest.ts';
import { runSweep, splitWindows, sweepCommand, sweepGrid, sweepParams, SweepRefusedError } from '../../app/sweep.ts';
import { createLogger } from '../../engine/log.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { parseSpanArgs, parseTimeArg } from '../../engine/types/time-arg.ts';
import { RECORDINGS, testConfig } from '../e2e/helpers.ts';

const logger = createLogger({ level: 'silent' });
// The bundled recording's first line.
const FIRST = Date.parse('2024-08-08T23:54:13.937Z');
const dir = mkdtempSync(join(tmpdir(), 'cobalt-span-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('--from/--to values', () => {
  it('take epoch ms or an ISO time with a zone, and name the flag of a value that is not one', () => {
    expect(parseTimeArg('--from', '2024-08-09T00:05:00Z')).toBe(Date.parse('2024-08-09T00:05:00Z'));
    expect(parseTimeArg('--to', '2024-08-09T02:05:00+02:00')).toBe(Date.parse('2024-08-09T00:05:00Z'));
    expect(parseTimeArg('--to', '1723162176817')).toBe(1723162176817);
    expect(() => parseTimeArg('--from', '2024-02-30')).toThrow(/--from '2024-02-30' is not a date and time on the calendar/);
    // Without a zone it would be another instant on a machine in another time zone.
    expect(() => parseTimeArg('--to', '2024-08-09T00:05:00')).toThrow(/--to '2024-08-09T00:05:00' is neither epoch milliseconds nor an ISO time with a zone/);
    expect(() => parseSpanArgs('2024-08-09T00:05:00Z', '2024-08-09T00:05:00Z')).toThrow(ConfigError);
    expect(parseSpanArgs(undefined, '2024-08-09')).toEqual({ toMs: Date.parse('2024-08-09T00:00:00Z') });
    // Review s22: epoch seconds read as ms ran the whole recording from 1970; microseconds crashed on an invalid date.
    expect(() => parseTimeArg('--from', '1723161480')).toThrow("--from '1723161480' as epoch milliseconds is 1970-01-20T22:39:21.480Z, outside 2000-2100: epoch seconds need three more digits (×1000), microseconds three fewer");
    expect(() => parseTimeArg('--to', '9000000000000000')).toThrow(/--to '9000000000000000' as epoch milliseconds is no date, outside 2000-2100/);
  });

  it('cobalt backtest refuses a bad one before loading anything, exit 2, one line naming it', async () => {
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    expect(await backtestCommand({ config: 'no-such.yaml', from: 'yesterday' })).toBe(2);
    expect(err).toBe("cobalt backtest: --from 'yesterday' is neither epoch milliseconds nor an ISO time with a zone (2024-08-09, 2024-08-09T00:05:00Z, 2024-08-09T02:05:00+02:00)\n");
  });
});

describe('a backtest window with one end left out', () => {
  it('--to alone runs from the first line, as a run cut at that time', async () => {
    const toMs = FIRST + 60_000;
    const cut = await runBacktest(testConfig(), { seed: 42, maxSpanMs: 60_000, logger });
    const win = await runBacktest(testConfig(), { seed: 42, window: { toMs }, logger });
    expect(win.summary.from).toBe(new Date(FIRST).toISOString());
    expect(Date.parse(win.summary.to)).toBeLessThan(toMs);
    expect([win.summary.to, win.summary.lines, win.summary.trades, win.summary.pnlExact]).toEqual([cut.summary.to, cut.summary.lines, cut.summary.trades, cut.summary.pnlExact]);
  }, 120_000);

  it('--from alone trades from that time on, to the end of what is replayed', async () => {
    const fromMs = FIRST + 30_000;
    const r = await runBacktest(testConfig(), { seed: 42, window: { fromMs }, maxSpanMs: 90_000, logger });
    expect(Date.parse(r.summary.from)).toBeGreaterThanOrEqual(fromMs);
    expect(r.summary.simulatedMs).toBeLessThanOrEqual(60_000);
    expect(r.fills.filter((f) => f.ts < fromMs)).toEqual([]);
  }, 120_000);

  it('a window before the recording holds no line: BacktestWindowError naming both spans', async () => {
    const err = await runBacktest(testConfig(), { seed: 42, window: { toMs: FIRST - 1_000 }, logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BacktestWindowError);
    const esc = (ms: number): string => new Date(ms).toISOString().replace(/\./g, '\\.');
    expect((err as Error).message).toMatch(new RegExp(`^backtest window the start → ${esc(FIRST - 1_000)} holds no recorded line \\(the recording runs ${esc(FIRST)} → 2024-08-09T00:05:04\\.543Z\\)$`));
  }, 60_000);
});

describe('a sweep over a span', () => {
  const raw = {
    mode: 'backtest', seed: 42,
    data: { replayFiles: RECORDINGS, klinesDirs: ['data/klines'], speed: 0 },
    models: { cnn: { enabled: false }, dqn: { enabled: false }, checkpointDir: join(dir, 'checkpoints') },
    orchestrator: { buyThreshold: 0.2, sellThreshold: 0.5, minConfidence: 0 },
    store: { path: join(dir, 'store'), archiveDir: join(dir, 'archive') },
    dashboard: { enabled: false },
    log: { level: 'silent' },
  };
  const grid = () => sweepGrid(raw, sweepParams(raw, ['orchestrator.buyThreshold=0.2']));

  it('splits the span, not the recording: in-sample from --from, out-of-sample up to --to (left out)', async () => {
    const span = { fromMs: FIRST + 120_000, toMs: FIRST + 360_000 };
    const { result } = await runSweep(grid(), { split: 0.5, top: 1, span, logger });
    expect(result.inSampleWindow).toEqual({ from: new Date(span.fromMs).toISOString(), to: new Date(FIRST + 240_000).toISOString() });
    expect(result.outOfSampleWindow).toEqual({ from: new Date(FIRST + 240_000).toISOString(), to: new Date(span.toMs).toISOString() });
    const [run] = result.runs;
    expect(run!.inSample.from >= result.inSampleWindow.from && run!.inSample.to < result.inSampleWindow.to).toBe(true);
    expect(run!.outOfSample!.from >= result.outOfSampleWindow.from && run!.outOfSample!.to < result.outOfSampleWindow.to).toBe(true);
  }, 120_000);

  it('refuses a span outside the recording before any run', async () => {
    const err = await runSweep(grid(), { span: { fromMs: Date.parse('2030-01-01T00:00:00Z') }, logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SweepRefusedError);
    expect((err as Error).message).toMatch(/^--from\/--to 2030-01-01T00:00:00.000Z → the end lies outside the recording \(2024-08-08T23:54:13.937Z → /);
  }, 60_000);

  // Review s22: a window inside a hole of the recording (a recorder outage) threw BacktestWindowError out of the sweep
  // command as a stack trace, exit 1.
  it('refuses, exit 2 in one line, a span whose window falls in a hole of the recording', async () => {
    const rec = join(dir, 'holed');
    mkdirSync(rec, { recursive: true });
    // The bundled recording without its lines from 2 min to 9 min after its start.
    const holeFrom = FIRST + 120_000;
    const holeTo = FIRST + 540_000;
    const files = RECORDINGS.map((f) => {
      const kept = gunzipSync(readFileSync(f)).toString('utf8').split('\n')
        .filter((l) => { const ms = Number(l.slice(0, l.indexOf(' '))) / 1e6; return !(ms >= holeFrom && ms < holeTo); });
      const out = join(rec, basename(f));
      writeFileSync(out, gzipSync(kept.join('\n')));
      return out;
    });
    const config = join(dir, 'holed.yaml');
    writeFileSync(config, stringify({ ...raw, data: { ...raw.data, replayFiles: files, catalogDir: join(dir, 'holed-catalog') } }));
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((t) => ((err += String(t)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);

    const code = await sweepCommand({ config, param: ['orchestrator.buyThreshold=0.2'], top: '1', from: new Date(holeFrom + 60_000).toISOString() });

    expect(code).toBe(2);
    expect(err).toMatch(/^cobalt sweep: backtest window 2024-08-08T23:57:13\.937Z → \S+ holds no recorded line \(the recording runs 2024-08-08T23:54:13\.937Z → 2024-08-09T00:05:04\.543Z\)\n$/);
  }, 120_000);

  it('leaves a --to out of the out-of-sample window, and keeps the last line without one', () => {
    expect(splitWindows(0, 200_000, 0.5).outOfSample.toMs).toBeGreaterThan(200_000);
    expect(splitWindows(0, 200_000, 0.5, 200_000).outOfSample).toEqual({ fromMs: 100_000, toMs: 200_000 });
  });
});
