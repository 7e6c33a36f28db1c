// `cobalt sweep`'s grid: each --param parsed as the config schema expects, refusals naming the key and value before
// any run, the grid cap, the split of the recorded span and the in-sample ranking (app/sweep.ts).
import { describe, expect, it } from 'vitest';
import {
  MAX_SWEEP_RUNS, MIN_SIDE_MS, rankOrder, splitWindows, sweepGrid, sweepParams, SweepRefusedError, type SweepFigures,
} from '../../app/sweep.ts';
import type { EnvOverride } from '../../engine/config/env.ts';
import { RECORDINGS } from '../e2e/helpers.ts';

const raw = {
  mode: 'backtest', seed: 42,
  data: { replayFiles: RECORDINGS, klinesDirs: ['data/klines'], speed: 0 },
  models: { cnn: { enabled: false }, dqn: { enabled: false } },
  dashboard: { enabled: false },
};

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(SweepRefusedError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('sweep params', () => {
  it('parses each value as the schema expects: decimals stay text, numbers and switches are read', () => {
    const params = sweepParams(raw, ['orchestrator.buyThreshold=0.2,0.35', 'risk.maxOrderNotional=500,1000.50', 'risk.breaker.maxMovePct=false,5']);
    expect(params).toEqual([
      { key: 'orchestrator.buyThreshold', values: [0.2, 0.35] },
      { key: 'risk.maxOrderNotional', values: ['500', '1000.50'] },
      { key: 'risk.breaker.maxMovePct', values: [false, 5] },
    ]);
  });

  it.each([
    ['orchestrator.buyThresold=0.2', "--param orchestrator.buyThresold: the config has no key 'buyThresold' under orchestrator (it has buyThreshold, sellThreshold, minConfidence"],
    ['nope.x=1', "--param nope.x: the config has no key 'nope' under (root)"],
    ['risk=1', '--param risk: is a section, not a single value'],
    ['data.replayFiles=a.gz', '--param data.replayFiles: is a list, not a single value'],
    ['orchestrator.buyThreshold', "--param 'orchestrator.buyThreshold': expected <dotted.key>=<v1,v2,…>"],
    ['orchestrator.buyThreshold=0.2,,0.3', "--param orchestrator.buyThreshold: value 2 of '0.2,,0.3' is empty"],
    ['orchestrator.buyThreshold=0.2,0.2', "--param orchestrator.buyThreshold: value '0.2' is listed twice"],
    ['orchestrator.buyThreshold=0.3,2', '--param orchestrator.buyThreshold=2: refused by the config schema: orchestrator.buyThreshold: expected <= 1, received 2'],
    ['orchestrator.buyThreshold=high', '--param orchestrator.buyThreshold=high: refused by the config schema: orchestrator.buyThreshold: expected number, received string'],
    ['risk.maxOrderNotional=6000', '--param risk.maxOrderNotional=6000: refused by the config schema: risk.maxOrderNotional: expected at most risk.maxPositionNotional (5000), received 6000'],
  ])('refuses %s before any run, naming it', (spec, message) => {
    expect(refusal(() => sweepParams(raw, [spec]))).toContain(message);
  });

  it('refuses no param, a key given twice, and a key an environment override would set over the sweep', () => {
    expect(refusal(() => sweepParams(raw, []))).toContain('no --param given');
    expect(refusal(() => sweepParams(raw, ['seed=1', 'seed=2']))).toContain('--param seed: given twice');
    const env: EnvOverride[] = [{ path: ['orchestrator', 'buyThreshold'], value: 0.4, variable: 'COBALT_ORCHESTRATOR__BUY_THRESHOLD' }];
    expect(refusal(() => sweepParams(raw, ['orchestrator.buyThreshold=0.2'], env))).toContain('COBALT_ORCHESTRATOR__BUY_THRESHOLD also sets it');
  });

  // Review s21 finding 2: a section override replaced the swept value after it was set; every row ran one config.
  it.each([
    [['orchestrator'], { buyThreshold: 0.9 }, 'COBALT_ORCHESTRATOR', 'orchestrator.buyThreshold=0.2,0.4', '--param orchestrator.buyThreshold: COBALT_ORCHESTRATOR also sets it (its section orchestrator)'],
    [['execution', 'fees'], { maker: '0.002', taker: '0.002' }, 'COBALT_EXECUTION__FEES', 'execution.fees.maker=0.001,0.0005', '--param execution.fees.maker: COBALT_EXECUTION__FEES also sets it (its section execution.fees)'],
    [['Orchestrator'], { buyThreshold: 0.9 }, 'COBALT_Orchestrator', 'orchestrator.buyThreshold=0.2,0.4', 'COBALT_Orchestrator also sets it'],
  ])('refuses an override of a section above the swept key (%j)', (path, value, variable, spec, message) => {
    expect(refusal(() => sweepParams(raw, [spec], [{ path, value, variable }]))).toContain(message);
  });

  it('refuses a configuration whose validated config does not hold the swept value', () => {
    const env: EnvOverride[] = [{ path: ['orchestrator'], value: { buyThreshold: 0.9 }, variable: 'COBALT_ORCHESTRATOR' }];
    expect(refusal(() => sweepGrid(raw, [{ key: 'orchestrator.buyThreshold', values: [0.2] }], env))).toBe(
      '--param orchestrator.buyThreshold=0.2: the validated config holds 0.9 there instead (overrides set: COBALT_ORCHESTRATOR); the run would not be the one its row names');
  });

  // Review s21 finding 4: values that differ only in text ran as two configurations.
  it.each([
    ['orchestrator.buyThreshold=0.2,0.20', "--param orchestrator.buyThreshold: values '0.2' and '0.20' are the same value; list it once"],
    ['execution.fees.maker=0.001,0.0010,0.002', "--param execution.fees.maker: values '0.001' and '0.0010' are the same value; list it once"],
    ['risk.breaker.maxMovePct=5,false,5.0', "--param risk.breaker.maxMovePct: values '5' and '5.0' are the same value; list it once"],
  ])('refuses %s: two texts of one value', (spec, message) => {
    expect(refusal(() => sweepParams(raw, [spec]))).toBe(message);
  });

  it('keeps decimals that differ in value though close in text', () => {
    expect(sweepParams(raw, ['execution.fees.maker=0.001,0.010,0.0001'])[0]!.values).toEqual(['0.001', '0.010', '0.0001']);
  });
});

describe('sweep grid', () => {
  it('holds every combination, the first key varying slowest, each a validated config', () => {
    const grid = sweepGrid(raw, sweepParams(raw, ['orchestrator.buyThreshold=0.2,0.4', 'risk.stopLossPct=1,2,3']));
    expect(grid.map((g) => g.params)).toEqual([
      { 'orchestrator.buyThreshold': 0.2, 'risk.stopLossPct': 1 }, { 'orchestrator.buyThreshold': 0.2, 'risk.stopLossPct': 2 },
      { 'orchestrator.buyThreshold': 0.2, 'risk.stopLossPct': 3 }, { 'orchestrator.buyThreshold': 0.4, 'risk.stopLossPct': 1 },
      { 'orchestrator.buyThreshold': 0.4, 'risk.stopLossPct': 2 }, { 'orchestrator.buyThreshold': 0.4, 'risk.stopLossPct': 3 },
    ]);
    expect(grid.map((g) => [g.config.orchestrator.buyThreshold, g.config.risk.stopLossPct])).toEqual([[0.2, 1], [0.2, 2], [0.2, 3], [0.4, 1], [0.4, 2], [0.4, 3]]);
  });

  it(`refuses a grid over ${MAX_SWEEP_RUNS} configurations`, () => {
    const values = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(',');
    const params = sweepParams(raw, [`risk.stopLossPct=${values(7, (i) => String(i + 1))}`, `risk.takeProfitPct=${values(6, (i) => String(i + 1))}`, `seed=${values(5, String)}`]);
    expect(refusal(() => sweepGrid(raw, params))).toContain('the grid has 210 configurations (7 risk.stopLossPct × 6 risk.takeProfitPct × 5 seed); a sweep runs at most 200');
  });

  it('refuses a combination the schema refuses although each value passes alone', () => {
    const params = sweepParams(raw, ['risk.maxOrderNotional=1000,3000', 'risk.maxPositionNotional=2000,5000']);
    expect(refusal(() => sweepGrid(raw, params))).toContain('configuration risk.maxOrderNotional=3000 risk.maxPositionNotional=2000: refused by the config schema: risk.maxOrderNotional: expected at most risk.maxPositionNotional (2000)');
  });
});

describe('sweep split', () => {
  const t0 = Date.UTC(2024, 7, 8, 23, 54);
  const inside = (w: { fromMs: number; toMs: number }, t: number): boolean => t >= w.fromMs && t < w.toMs;

  it('cuts the span at the fraction into two windows that do not overlap', () => {
    const w = splitWindows(t0, t0 + 600_000, 0.6);
    expect([w.inSample, w.outOfSample.fromMs]).toEqual([{ fromMs: t0, toMs: t0 + 360_000 }, t0 + 360_000]);
    expect([inside(w.outOfSample, t0 + 600_000), w.outOfSample.toMs - (t0 + 600_000)]).toEqual([true, 2 ** -12]);
  });

  // Review s21 finding 3: lines in (split - 1 ms, split) fell in neither window.
  it('puts every line of the span, fractions of a ms included, in exactly one window', () => {
    const first = t0 + 0.085;
    const last = first + 650_606.194;
    const w = splitWindows(first, last, 0.55);
    const at = w.outOfSample.fromMs;
    const lines = [first, at - 1, at - 0.5, at - 0.001, at, at + 0.25, last];
    expect(lines.map((t) => [inside(w.inSample, t), inside(w.outOfSample, t)].filter(Boolean).length)).toEqual(lines.map(() => 1));
  });

  it('says so when a side would be too short, and refuses a split outside (0, 1)', () => {
    expect(refusal(() => splitWindows(t0, t0 + 100_000, 0.6))).toBe(
      `the recording is too short for --split 0.6: it spans 100.0 s, which leaves 60.0 s in-sample and 40.0 s out-of-sample; each side needs at least ${MIN_SIDE_MS / 1000}.0 s`);
    expect(refusal(() => splitWindows(t0, t0 + 600_000, 1))).toContain('--split 1: expected a fraction');
  });
});

describe('sweep ranking', () => {
  const f = (sharpe: number, maxDrawdown: number): SweepFigures => ({ from: '', to: '', trades: 1, pnl: 0, sharpe, maxDrawdown, hitRate: 0 });
  it('orders by the in-sample figure (drawdown lowest first), ties in grid order', () => {
    const figs = [f(0.5, 0.02), f(1.5, 0.01), f(0.5, 0.03), f(-1, 0)];
    expect(rankOrder(figs, 'sharpe')).toEqual([1, 0, 2, 3]);
    expect(rankOrder(figs, 'maxDrawdown')).toEqual([3, 1, 0, 2]);
  });
});
