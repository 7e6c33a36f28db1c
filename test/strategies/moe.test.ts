import { describe, expect, it } from 'vitest';
import { capsFor, fixedFractionLots, volatilityScaledLots } from '../../actors/risk-manager/sizing.ts';
import { DEFAULT_LIMITS } from '../../actors/risk-manager/limits.ts';
import { blend, decisionOf, intentFor, marketableLimit, mergeThresholds, type PolicyConfig, type PolicyState } from '../../strategies/moe.ts';
import type { Decision, ModelOutput } from '../../engine/messages/signals.ts';
import { intentId } from '../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, priceToTicks, qtyToLots } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';

const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const out = (model: string, p: [number, number, number], confidence = Math.max(...p)): ModelOutput => ({
  model, version: 'v1', symbol: 'ETH/USDT', ts: 1_000, action: p[0] >= p[1] && p[0] >= p[2] ? 'BUY' : p[1] >= p[2] ? 'SELL' : 'HOLD', probabilities: p, confidence,
});
const T = { buy: 0.5, sell: 0.5, minConfidence: 0.4 };

describe('mixture-of-experts blend', () => {
  it('averages probabilities with the gating weights and decides against the thresholds', () => {
    const b = blend([out('cnn', [0.7, 0.1, 0.2]), out('dqn', [0.4, 0.2, 0.4])], { cnn: 0.75, dqn: 0.25 }, T);
    expect(b.probabilities.map((x) => +x.toFixed(6))).toEqual([0.625, 0.125, 0.25]);
    expect(b).toMatchObject({ action: 'BUY', weights: { cnn: 0.75, dqn: 0.25 }, ignored: [] });
    expect(b.confidence).toBeCloseTo(0.625, 9);
    // The same blend under a higher buy threshold is a HOLD.
    expect(blend([out('cnn', [0.7, 0.1, 0.2]), out('dqn', [0.4, 0.2, 0.4])], { cnn: 0.75, dqn: 0.25 }, { ...T, buy: 0.65 })).toMatchObject({ action: 'HOLD' });
    expect(blend([out('cnn', [0.1, 0.7, 0.2])], { cnn: 1 }, T).action).toBe('SELL');
  });

  it('leaves out low-confidence, ungated and malformed outputs and renormalises the rest', () => {
    const b = blend([out('cnn', [0.1, 0.6, 0.3]), out('dqn', [0.36, 0.34, 0.3]), out('old', [0.9, 0.05, 0.05]), out('bad', [0.9, 0.9, 0.9])],
      { cnn: 0.2, dqn: 0.6, bad: 0.2 }, T);
    expect(b.weights).toEqual({ cnn: 1 });
    expect(b.ignored).toEqual([{ model: 'dqn', reason: 'lowConfidence' }, { model: 'old', reason: 'notGated' }, { model: 'bad', reason: 'badProbabilities' }]);
    expect(b.action).toBe('SELL');
    expect(blend([out('dqn', [0.36, 0.34, 0.3])], { dqn: 1 }, T)).toEqual({ action: 'HOLD', confidence: 0, probabilities: [0, 0, 0], weights: {}, ignored: [{ model: 'dqn', reason: 'lowConfidence' }] });
  });

  it('picks the larger side when both pass low thresholds', () => {
    expect(blend([out('a', [0.45, 0.5, 0.05])], { a: 1 }, { buy: 0.4, sell: 0.4, minConfidence: 0 }).action).toBe('SELL');
  });

  it('checks thresholds set at run time', () => {
    expect(mergeThresholds(T, { buy: 0.7 })).toEqual({ ...T, buy: 0.7 });
    expect(() => mergeThresholds(T, { sell: 1.5 })).toThrow(/threshold sell must be a number in \[0, 1\], got 1.5/);
    expect(() => mergeThresholds(T, { minConfidence: Number.NaN })).toThrow(/minConfidence/);
  });
});

describe('decision policy', () => {
  const mark = priceToTicks(ETH, '2600.00');
  const state = (over: Partial<PolicyState> = {}): PolicyState => ({
    inst: ETH, positionLots: 0, equity: money('10000'), mark, bid: priceToTicks(ETH, '2599.99'), ask: priceToTicks(ETH, '2600.01'),
    caps: capsFor(DEFAULT_LIMITS, 'ETH/USDT', 0 as Lots), pending: false, ...over,
  });
  const cfg: PolicyConfig = { mode: 'long-flat', orderType: 'limit', slippageBps: 10, sizing: { kind: 'fixed-fraction', fractionBps: 500 } };
  const dec = (action: Decision['action']): Decision => decisionOf('ETH/USDT', 5_000, { action, confidence: 0.7, probabilities: [0.7, 0.1, 0.2], weights: {}, ignored: [] });
  const id = intentId('moe-1');

  it('buys when flat: sized by the risk sizing, marketable limit through the ask, IOC, in ticks and lots', () => {
    const r = intentFor(dec('BUY'), state(), cfg, id);
    const lots = fixedFractionLots(ETH, money('10000'), 500, priceToTicks(ETH, '2600.01'), capsFor(DEFAULT_LIMITS, 'ETH/USDT', 0 as Lots));
    expect(lots).toBe(qtyToLots(ETH, '0.1923')); // 500 USDT at 2600.01
    expect(r).toEqual({ intent: {
      id, symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots, price: priceToTicks(ETH, '2602.62') /* 2600.01 × 1.001 = 2602.610001, up a tick */, timeInForce: 'IOC', reduceOnly: false, reason: 'moe BUY p=0.700', ts: 5_000,
    } });
    const m = intentFor(dec('BUY'), state(), { ...cfg, orderType: 'market' }, id);
    expect('intent' in m && m.intent).toMatchObject({ orderType: 'market', lots, side: 'buy' });
    expect('intent' in m && 'price' in m.intent).toBe(false);
  });

  it('sells the sellable position reduce-only when long, through the bid', () => {
    const r = intentFor(dec('SELL'), state({ positionLots: 2000, sellableLots: 1998 as Lots }), cfg, id);
    expect(r).toMatchObject({ intent: { side: 'sell', lots: 1998, reduceOnly: true, price: priceToTicks(ETH, '2597.39') } });
  });

  it.each([
    ['HOLD', {}, 'hold'],
    ['BUY', { pending: true }, 'pending'],
    ['BUY', { positionLots: 10 }, 'alreadyLong'],
    ['SELL', {}, 'flatNoShort'],
    ['SELL', { positionLots: -10 }, 'alreadyShort'],
    ['BUY', { equity: money('1') }, 'sizeZero'],
    ['BUY', { mark: 0 as Ticks }, 'noPrice'],
  ] as const)('%s with %o gives no intent (%s)', (action, over, why) => {
    expect(intentFor(dec(action), state(over as Partial<PolicyState>), cfg, id)).toEqual({ none: why });
  });

  it('opens a short only in long-short mode, and sizes by volatility when asked', () => {
    const ls: PolicyConfig = { ...cfg, mode: 'long-short', sizing: { kind: 'volatility', riskBps: 50 } };
    expect(intentFor(dec('SELL'), state(), ls, id)).toEqual({ none: 'noVolatility' });
    const r = intentFor(dec('SELL'), state({ volatility: 0.01 }), ls, id);
    // Risk 50 USDT on a 1% move: 5000 USDT notional, capped by the 1000 USDT max order.
    const lots = volatilityScaledLots(ETH, money('50'), priceToTicks(ETH, '2599.99'), 0.01, capsFor(DEFAULT_LIMITS, 'ETH/USDT', 0 as Lots));
    expect(lots).toBe(qtyToLots(ETH, '0.3846'));
    expect(r).toMatchObject({ intent: { side: 'sell', lots, reduceOnly: false } });
    expect(intentFor(dec('BUY'), state({ positionLots: -25 }), ls, id)).toMatchObject({ intent: { side: 'buy', lots: 25, reduceOnly: true } });
  });

  it('rounds marketable limits away from the touch', () => {
    expect(marketableLimit('buy', { mark: 1000 as Ticks, ask: 1001 as Ticks }, 10)).toBe(1003); // 1002.001 → 1003
    expect(marketableLimit('sell', { mark: 1000 as Ticks }, 10)).toBe(999);
    expect(marketableLimit('sell', { mark: 1 as Ticks }, 10_000)).toBe(1);
  });
});
