// config execution.protectiveStop: off by default with its distances, and refused where no stop can rest at the venue
// (MEXC spot has no stop orders; paper, replay and backtest modes do not model them).
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../engine/config/index.ts';

const enabled = { protectiveStop: { enabled: true } };

describe('config execution.protectiveStop', () => {
  it('is off by default, 50 bps beyond the risk stop with its limit 100 bps below the trigger', () => {
    const r = validateConfig({});
    expect(r.ok && r.config.execution.protectiveStop).toEqual({ enabled: false, extraBps: 50, limitBps: 100 });
  });

  it('is accepted in live mode on Binance', () => {
    expect(validateConfig({ mode: 'live', execution: enabled })).toMatchObject({ ok: true });
  });

  it.each([
    ['live on MEXC', { mode: 'live', execution: { venue: 'mexc', ...enabled } }, 'execution.protectiveStop.enabled: MEXC spot has no stop orders'],
    ['paper mode', { mode: 'paper', execution: enabled }, 'execution.protectiveStop.enabled: protective stops rest at a live venue: mode paper has none'],
  ])('is refused %s, naming why', (_what, raw, problem) => {
    const r = validateConfig(raw);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems.some((p) => p.startsWith(problem))).toBe(true);
  });
});
