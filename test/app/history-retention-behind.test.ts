// Inference-history retention that falls behind (app/history-retention.ts, engine/store/inference-history.ts), task
// H6: with archiving on, a replay at --speed 200 recorded faster than passes archived (2,000 records a pass, minutes
// each), and the store grew to 1.3 GB for limits worth ~90 MB with nothing said. Now a pass reports the backlog, a
// large one is warned as RETENTION_BEHIND, and once passes stop gaining on it they delete beyond the limits unarchived.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HistoryRetention, type Retainable } from '../../app/history-retention.ts';
import type { ModelOutput } from '../../engine/messages/signals.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { InferenceHistoryStore, readArchive, type InferenceRecord, type RetentionResult } from '../../engine/store/inference-history.ts';
import type { RetainOptions } from '../../engine/store/inference-history.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import type { TsMs } from '../../engine/types/time.ts';

const T0 = 1_723_161_253_937;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A logger whose lines are kept as objects. */
function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

const behindWarnings = (lines: Record<string, unknown>[]) => lines.filter((l) => l['code'] === 'RETENTION_BEHIND');

function rec(ts: number): InferenceRecord {
  const output: ModelOutput = { model: 'cnn', version: 'v1', symbol: 'ETH/USDT', ts: ts as TsMs, action: 'HOLD', probabilities: [0.2, 0.2, 0.6], confidence: 0.6 };
  return { model: 'cnn', symbol: 'ETH/USDT', ts: ts as TsMs, input: { features: Float32Array.from([ts % 1000, 1, 2]), shape: [3], timeframe: '1s' }, output };
}

function history(maxRecords: number, logger = pino({ level: 'silent' })) {
  const root = mkdtempSync(join(tmpdir(), 'cobalt-retention-h6-'));
  dirs.push(root);
  const store = LmdbStore.open({ path: join(root, 'db'), noSync: true });
  const hist = new InferenceHistoryStore(store, { retention: { maxRecords, maxAgeMs: 365 * 86_400_000 }, archiveDir: join(root, 'archive'), logger });
  let next = 0;
  const add = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) void hist.record(rec(T0 + 1_000 * next++));
    await store.flush();
  };
  return { store, hist, add };
}

describe('retention behind its arrivals', () => {
  it('deletes beyond the limits without archiving once passes stop gaining, and archives the newest it selects', async () => {
    const { logger, lines } = capture();
    const { store, hist, add } = history(10, logger);
    const clock = new SimulatedClock(T0 + 100_000_000);
    const r = new HistoryRetention({ history: hist, clock, everyMs: 60_000, maxPerPass: 5, maxDropPerPass: 1_000, logger, wallNow: () => 0 });
    await add(50);
    await r.runOnce(); // backlog 40: 5 archived
    await add(10);
    await r.runOnce(); // backlog 45 >= 40: the passes do not gain
    await add(10);
    const before = hist.count();
    await r.runOnce();
    const after = hist.count();
    const archived = lines.filter((l) => l['msg'] === 'inference history retention').map((l) => l['archiveFile'] as string);
    const lastArchive = await readArchive(archived.at(-1)!);
    const oldestKept = hist.query('cnn', 'ETH/USDT')[0]!.ts;
    await store.close();

    expect(before).toBe(70 - 10);
    expect(after).toBe(10);
    expect(r.stats).toMatchObject({ removed: 60, dropped: 45 });
    // The dropping pass archived the 5 records just before the 10 it keeps.
    expect(lastArchive.map((x) => x.ts)).toEqual([5, 4, 3, 2, 1].map((k) => oldestKept - 1_000 * k));
    expect(behindWarnings(lines)).toHaveLength(1);
    expect(behindWarnings(lines)[0]).toMatchObject({ beyondLimits: 40, kept: 10, removed: 5, left: 35, dropping: false });
  });

  it('archives a backlog that shrinks pass by pass (a long stop) whole, without dropping', async () => {
    const { store, hist, add } = history(10);
    const clock = new SimulatedClock(T0 + 100_000_000);
    const r = new HistoryRetention({ history: hist, clock, everyMs: 60_000, maxPerPass: 5, logger: pino({ level: 'silent' }) });
    await add(30);
    for (let i = 0; i < 5; i++) {
      await r.runOnce();
      await add(1);
    }
    const count = hist.count();
    await store.close();

    // Backlogs 20, 16, 12, 8, 4: each pass gains on the one record that arrives after it.
    expect(r.stats.dropped).toBeUndefined();
    expect(r.stats.removed).toBe(24);
    expect(count).toBe(35 - 24);
  });
});

describe('RETENTION_BEHIND warning', () => {
  /** A history whose passes answer `answers` in turn, recording the options each was given. */
  function scripted(answers: RetentionResult[]): { history: Retainable; given: (RetainOptions | undefined)[] } {
    const given: (RetainOptions | undefined)[] = [];
    return { given, history: { retain: async (_now, _max, opts) => (given.push(opts), answers.shift() ?? { removed: 0 }) } };
  }

  it('warns with the figures when the records left beyond the limits exceed behindFactor times those kept, at most once per warnEveryMs of wall time', async () => {
    const pass = (backlog: number): RetentionResult => ({ removed: 100, more: true, backlog, kept: 1_000 });
    const { history } = scripted([pass(1_050), pass(5_000), pass(6_000), pass(900), pass(7_000)]);
    const { logger, lines } = capture();
    let wall = 0;
    const r = new HistoryRetention({ history, clock: new SimulatedClock(0), everyMs: 60_000, maxPerPass: 100, behindFactor: 2, warnEveryMs: 300_000, wallNow: () => wall, logger });
    const at: number[] = [];
    for (const w of [0, 10_000, 20_000, 30_000, 400_000]) {
      wall = w;
      const n = behindWarnings(lines).length;
      await r.runOnce();
      if (behindWarnings(lines).length > n) at.push(w);
    }
    await r.stop();

    // 950 and 800 left are below 2 x 1000; 4,900 warns; 5,900 comes 10 s later; 6,900 after 5 minutes warns again.
    expect(at).toEqual([10_000, 400_000]);
    expect(behindWarnings(lines)[0]).toMatchObject({ level: 40, beyondLimits: 5_000, kept: 1_000, removed: 100, left: 4_900, behindFactor: 2, maxPerPass: 100 });
  });

  it('asks for dropping from the pass after one that did not gain until a pass clears the backlog', async () => {
    const more = (backlog: number): RetentionResult => ({ removed: 10, more: true, backlog, kept: 10 });
    const { history, given } = scripted([more(100), more(95), more(95), more(50), { removed: 10 }, more(100)]);
    const r = new HistoryRetention({ history, clock: new SimulatedClock(0), everyMs: 60_000, maxPerPass: 10, maxDropPerPass: 40, logger: pino({ level: 'silent' }) });
    for (let i = 0; i < 6; i++) await r.runOnce();
    await r.stop();

    expect(given).toEqual([undefined, undefined, undefined, { dropMax: 40 }, { dropMax: 40 }, undefined]);
  });

  it('never drops with dropWhenBehind off', async () => {
    const more = (backlog: number): RetentionResult => ({ removed: 10, more: true, backlog, kept: 10 });
    const { history, given } = scripted([more(100), more(200), more(300)]);
    const r = new HistoryRetention({ history, clock: new SimulatedClock(0), everyMs: 60_000, maxPerPass: 10, dropWhenBehind: false, logger: pino({ level: 'silent' }) });
    for (let i = 0; i < 3; i++) await r.runOnce();
    await r.stop();

    expect(given).toEqual([undefined, undefined, undefined]);
  });
});
