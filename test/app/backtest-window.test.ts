// A backtest over a window of the recording (runBacktest's `window`, which `cobalt sweep` runs its out-of-sample part
// on): the lines before the window warm the engine up with trading held, and the figures start at the window.
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import { createLogger } from '../../engine/log.ts';
import { testConfig } from '../e2e/helpers.ts';

const logger = createLogger({ level: 'silent' });
const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

describe('a backtest window', () => {
  it('trades and counts from its start only, on books and candles the lines before it built', async () => {
    // The bundled recording's first line; its first fill (momentum BUY, thresholds of testConfig) is at 00:00:00.3.
    const first = Date.parse('2024-08-08T23:54:13.937Z');
    const plain = await runBacktest(testConfig(), { seed: 42, maxSpanMs: 420_000, logger });
    // After that fill: the BUY the momentum rule makes there falls in the warm-up and must be held.
    const fromMs = first + 350_000;
    const win = await runBacktest(testConfig(), { seed: 42, window: { fromMs, toMs: first + 420_000 }, logger });
    const s = win.summary;
    expect(Date.parse(s.from)).toBeGreaterThanOrEqual(fromMs);
    expect(Date.parse(s.to)).toBeLessThanOrEqual(first + 420_000);
    expect(s.simulatedMs).toBeLessThan(75_000);
    expect(plain.fills.filter((f) => f.ts < fromMs).length).toBeGreaterThan(0);
    // Nothing filled before the window; in it the engine trades on the book and candles the warm-up built (a replay
    // that skipped those lines would have no depth snapshot, so no live book and no fill).
    expect(win.fills.length).toBeGreaterThan(0);
    expect(win.fills.filter((f) => f.ts < fromMs)).toEqual([]);
    expect(win.equity[0]!.t).toBeGreaterThanOrEqual(fromMs);
    expect(s.bookDownMs).toBe(0);
    // The held decisions count nowhere: no halt, no denial, and the decisions of the window alone, each accounted for
    // by a verdict or a reason for no intent.
    expect([s.haltedReason, s.denials]).toEqual([null, {}]);
    expect(sum(s.decisions)).toBeLessThan(sum(plain.summary.decisions));
    expect(sum(s.decisions)).toBe(s.approvals + sum(s.denials) + sum(s.noIntent));
  }, 120_000);

  it('refuses a window that ends before it starts', async () => {
    await expect(runBacktest(testConfig(), { window: { fromMs: 2, toMs: 1 }, logger })).rejects.toThrow('backtest window fromMs 2 must be a time before toMs 1');
  });
});
