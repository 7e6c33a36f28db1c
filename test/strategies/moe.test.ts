import { describe, expect, it } from 'vitest';
import { capsFor, fixedFractionLots, volatilityScaledLots } from '../../actors/risk-manager/sizing.ts';
import { DEFAULT_LIMITS } from '../../actors/risk-manager/limits.ts';
import { checkIntent, createRiskState, onFill, type RiskState } from '../../actors/risk-manager/logic.ts';
import { applyFill, emptyPortfolio, equity, exposure, sellableLots, type Portfolio } from '../../actors/risk-manager/positions.ts';
import {
  blend, closableLots, decisionOf, intentFor, marketableLimit, mergeThresholds, riskPrice, type PolicyConfig, type PolicyState,
} from '../../strategies/moe.ts';
import type { Fill, OrderIntent } from '../../engine/messages/orders.ts';
import type { RiskLimits } from '../../engine/messages/risk.ts';
import type { Decision, ModelOutput } from '../../engine/messages/signals.ts';
import { clientOrderId, intentId, venueOrderId } from '../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, notional, priceToTicks, qtyToLots } from '../../engine/types/instrument.ts';
import { money, type Money } from '../../engine/types/money.ts';
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

  it('buys when flat: sized by the risk sizing at the price risk checks, marketable limit through the ask, IOC, in ticks and lots', () => {
    const r = intentFor(dec('BUY'), state(), cfg, id);
    const limit = priceToTicks(ETH, '2602.62'); // 2600.01 × 1.001 = 2602.610001, up a tick
    const lots = fixedFractionLots(ETH, money('10000'), 500, limit, capsFor(DEFAULT_LIMITS, 'ETH/USDT', 0 as Lots));
    expect(lots).toBe(qtyToLots(ETH, '0.1921')); // 500 USDT at the limit 2602.62
    expect(r).toEqual({ intent: {
      id, symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots, price: limit, timeInForce: 'IOC', reduceOnly: false, reason: 'moe BUY p=0.700', ts: 5_000,
    } });
    // A market order is valued at the mark by risk, so it is sized there: 500 USDT at 2600.00.
    const m = intentFor(dec('BUY'), state(), { ...cfg, orderType: 'market' }, id);
    expect('intent' in m && m.intent).toMatchObject({ orderType: 'market', lots: qtyToLots(ETH, '0.1923'), side: 'buy' });
    expect('intent' in m && 'price' in m.intent).toBe(false);
  });

  it('sells the sellable position reduce-only when long, through the bid', () => {
    const r = intentFor(dec('SELL'), state({ positionLots: 2000, sellableLots: 1998 as Lots }), cfg, id);
    expect(r).toMatchObject({ intent: { side: 'sell', lots: 1998, reduceOnly: true, price: priceToTicks(ETH, '2597.39') } });
  });

  it.each([
    ['HOLD', {}, 'hold'],
    ['BUY', { pending: true }, 'pending'],
    ['BUY', { positionLots: 2000 }, 'alreadyLong'],
    ['BUY', { positionLots: 20 }, 'alreadyLong'], // 0.002 ETH ≈ 5.19 USDT at the sell limit: just above the 5 USDT minimum
    ['SELL', {}, 'flatNoShort'],
    ['SELL', { positionLots: 19 }, 'flatNoShort'], // 0.0019 ETH ≈ 4.93 USDT at the sell limit: dust, counts as flat
    ['SELL', { positionLots: 2000, sellableLots: 0 as Lots }, 'flatNoShort'],
    ['SELL', { positionLots: -2000 }, 'alreadyShort'],
    ['BUY', { equity: money('1') }, 'sizeZero'],
    ['BUY', { mark: 0 as Ticks }, 'noPrice'],
  ] as const)('%s with %o gives no intent (%s)', (action, over, why) => {
    expect(intentFor(dec(action), state(over as Partial<PolicyState>), cfg, id)).toEqual({ none: why });
  });

  it('opens a short only in long-short mode, and sizes by volatility when asked', () => {
    const ls: PolicyConfig = { ...cfg, mode: 'long-short', sizing: { kind: 'volatility', riskBps: 50 } };
    expect(intentFor(dec('SELL'), state(), ls, id)).toEqual({ none: 'noVolatility' });
    const r = intentFor(dec('SELL'), state({ volatility: 0.01 }), ls, id);
    // Risk 50 USDT on a 1% move: 5000 USDT notional, capped by the 1000 USDT max order at the sell limit 2597.39.
    const lots = volatilityScaledLots(ETH, money('50'), priceToTicks(ETH, '2597.39'), 0.01, capsFor(DEFAULT_LIMITS, 'ETH/USDT', 0 as Lots));
    expect(lots).toBe(qtyToLots(ETH, '0.3850'));
    expect(r).toMatchObject({ intent: { side: 'sell', lots, reduceOnly: false } });
    expect(intentFor(dec('BUY'), state({ positionLots: -25 }), ls, id)).toMatchObject({ intent: { side: 'buy', lots: 25, reduceOnly: true } });
  });

  it('rounds marketable limits away from the touch', () => {
    expect(marketableLimit('buy', { mark: 1000 as Ticks, ask: 1001 as Ticks }, 10)).toBe(1003); // 1002.001 → 1003
    expect(marketableLimit('sell', { mark: 1000 as Ticks }, 10)).toBe(999);
    expect(marketableLimit('sell', { mark: 1 as Ticks }, 10_000)).toBe(1);
  });
});

// Issue 6: the size must pass the RiskManager's own check, and a fee-eaten remainder must not block re-entry. Each
// intent is put to the real checkIntent of a RiskManager state holding the same position.
describe('decision policy against the risk check (issue 6)', () => {
  const SYM = 'ETH/USDT';
  const mark = priceToTicks(ETH, '2600.00');
  const book = { mark, bid: priceToTicks(ETH, '2599.99'), ask: priceToTicks(ETH, '2600.01') };
  const dec = (action: Decision['action']): Decision => decisionOf(SYM, 5_000, { action, confidence: 0.7, probabilities: [0.7, 0.1, 0.2], weights: {}, ignored: [] });
  const id = intentId('moe-6');
  const limitCfg: PolicyConfig = { mode: 'long-flat', orderType: 'limit', slippageBps: 10, sizing: { kind: 'fixed-fraction', fractionBps: 5_000 } };

  const riskOf = (limits: RiskLimits, fills: readonly Fill[] = [], dustLots = 0, cash = money('10000')): RiskState => {
    const positions: Record<string, { lots: Lots; cost: Money }> = dustLots > 0 ? { [SYM]: { lots: dustLots as Lots, cost: 0n as Money } } : {};
    let r = createRiskState({ limits, instruments: [ETH], cash, positions });
    for (const f of fills) r = onFill(r, f);
    return { ...r, marks: { [SYM]: mark } };
  };
  // Caps as the Orchestrator builds them: the limits, the lots held, and the account (cash, holdings at the mark).
  const stateOf = (pf: Portfolio, limits: RiskLimits, over: Partial<PolicyState> = {}): PolicyState => {
    const pos = pf.positions[SYM];
    const account = { cash: pf.cash, exposure: exposure(pf, { [SYM]: ETH }, { [SYM]: mark }) };
    return {
      inst: ETH, positionLots: pos?.lots ?? 0, ...(pos ? { sellableLots: sellableLots(ETH, pos) } : {}), equity: equity(pf, { [SYM]: ETH }, { [SYM]: mark }),
      ...book, caps: capsFor(limits, SYM, (pos?.lots ?? 0) as Lots, account), pending: false, ...over,
    };
  };
  const intentOf = (r: ReturnType<typeof intentFor>): OrderIntent => {
    if (!('intent' in r)) throw new Error(`expected an intent, got none: ${r.none}`);
    return r.intent;
  };

  const capped = { ...DEFAULT_LIMITS, maxOrderNotional: money('1000') };
  it.each([
    ['a limit buy 10 bps through the ask, 50% of equity against the 1000 USDT order cap', limitCfg, capped, {}, 'NOTIONAL_EXCEEDS_MAX'],
    ['a limit buy 100 bps through the ask', { ...limitCfg, slippageBps: 100 }, capped, {}, 'NOTIONAL_EXCEEDS_MAX'],
    ['a market buy, valued at the mark', { ...limitCfg, orderType: 'market' }, capped, {}, 'NOTIONAL_EXCEEDS_MAX'],
    ['a volatility-sized limit buy (50 bps risk on a 0.1% move)', { ...limitCfg, sizing: { kind: 'volatility', riskBps: 50 } }, capped, { volatility: 0.001 }, 'NOTIONAL_EXCEEDS_MAX'],
    ['a limit buy on top of 5 dust lots against a 1000 USDT position cap', limitCfg, { ...DEFAULT_LIMITS, maxOrderNotional: money('5000'), maxPositionNotional: money('1000') },
      { positionLots: 5, sellableLots: 0 as Lots }, 'POSITION_NOTIONAL_LIMIT'],
  ] as const)('sizes %s to the largest size risk approves', (_name, cfg, limits, over, nextCode) => {
    const dust = (over as Partial<PolicyState>).positionLots ?? 0;
    const s = stateOf(emptyPortfolio('USDT', money('10000')), limits, { ...(over as Partial<PolicyState>), caps: capsFor(limits, SYM, dust as Lots) });
    const risk = riskOf(limits, [], dust);
    const intent = intentOf(intentFor(dec('BUY'), s, cfg as PolicyConfig, id));
    const oneMore = { ...intent, lots: (intent.lots + 1) as Lots };

    expect(intent.orderType === 'limit' ? intent.price : mark).toBe(riskPrice('buy', s, cfg as PolicyConfig));
    expect(checkIntent(risk, intent, ETH, 5_000)).toEqual({ ok: true });
    expect(checkIntent(risk, oneMore, ETH, 5_000)).toMatchObject({ ok: false, reason: { code: nextCode } });
  });

  it('would have been denied sized at the touch, as before the fix', () => {
    const s = stateOf(emptyPortfolio('USDT', money('10000')), capped);
    const intent = intentOf(intentFor(dec('BUY'), s, limitCfg, id));
    const atTouch = fixedFractionLots(ETH, money('10000'), 5_000, book.ask, s.caps);

    expect(atTouch).toBeGreaterThan(intent.lots);
    expect(checkIntent(riskOf(capped), { ...intent, lots: atTouch }, ETH, 5_000)).toMatchObject({ ok: false, reason: { code: 'NOTIONAL_EXCEEDS_MAX' } });
  });

  // Real fee arithmetic: the paper venue charges 0.1% of what the order receives, so a buy pays in ETH (5000 lots =
  // 0.5 ETH bought → 0.0005 ETH fee → 0.4995 ETH held, lot 0.0001 ETH) and a sell pays in USDT.
  const LOT9 = 100_000n;
  let seq = 0;
  const fill = (side: 'buy' | 'sell', lots: number): Fill => {
    const price = side === 'buy' ? priceToTicks(ETH, '2600.00') : priceToTicks(ETH, '2599.00');
    const fee = side === 'buy' ? (BigInt(lots) * LOT9) / 1_000n : notional(ETH, price, lots as Lots) / 1_000n;
    seq++;
    return {
      clientOrderId: clientOrderId(`c-${seq}`), venueOrderId: venueOrderId(`v-${seq}`), tradeId: `t-${seq}`, venue: 'binance', symbol: SYM, side, price,
      lots: lots as Lots, fee: fee as Money, feeAsset: side === 'buy' ? 'ETH' : 'USDT', liquidity: 'taker', ts: seq,
    };
  };
  const policy: PolicyConfig = { ...limitCfg, sizing: { kind: 'fixed-fraction', fractionBps: 500 } };
  const wide = { ...DEFAULT_LIMITS, maxOrderNotional: money('5000') }; // one order may close the whole 0.5 ETH
  type Want = { none: string } | { side: 'buy' | 'sell'; reduceOnly: boolean; lots?: number };
  it.each<[string, () => Fill[], number, Want, Want]>([
    ['holding 0.4995 ETH after buying 0.5', () => [fill('buy', 5_000)], 4_995, { none: 'alreadyLong' }, { side: 'sell', reduceOnly: true, lots: 4_995 }],
    ['after that round trip: 5 lots traded, nothing held', () => [fill('buy', 5_000), fill('sell', 4_995)], 0, { side: 'buy', reduceOnly: false }, { none: 'flatNoShort' }],
    ['holding 0.4994001 ETH after buying 0.4999', () => [fill('buy', 4_999)], 4_994, { none: 'alreadyLong' }, { side: 'sell', reduceOnly: true, lots: 4_994 }],
    ['after that round trip: 5 lots traded, 1e-7 ETH held', () => [fill('buy', 4_999), fill('sell', 4_994)], 0, { side: 'buy', reduceOnly: false }, { none: 'flatNoShort' }],
    ['holding 19 sellable lots (≈4.93 USDT) after buying 20', () => [fill('buy', 20)], 19, { side: 'buy', reduceOnly: false }, { none: 'flatNoShort' }],
    ['holding 24 sellable lots (≈6.23 USDT) after buying 25', () => [fill('buy', 25)], 24, { none: 'alreadyLong' }, { side: 'sell', reduceOnly: true, lots: 24 }],
  ])('%s', (_name, fills, sellable, onBuy, onSell) => {
    const fs = fills();
    let pf = emptyPortfolio('USDT', money('10000'));
    for (const f of fs) pf = applyFill(pf, ETH, f);
    const s = stateOf(pf, wide);
    const risk = riskOf(wide, fs);
    const got = { buy: intentFor(dec('BUY'), s, policy, id), sell: intentFor(dec('SELL'), s, policy, id) };

    expect(s.sellableLots).toBe(sellable);
    for (const [side, want] of [['buy', onBuy], ['sell', onSell]] as const) {
      const r = got[side];
      if ('none' in want) {
        expect(r).toEqual(want);
        continue;
      }
      const intent = intentOf(r);
      expect(intent).toMatchObject(want);
      if (side === 'buy') expect(intent.lots).toBe(fixedFractionLots(ETH, s.equity, 500, riskPrice('buy', s, policy), s.caps));
      expect(checkIntent(risk, intent, ETH, 5_000)).toEqual({ ok: true });
    }
    // Dust is exactly what no closing order could carry past the risk check.
    if (closableLots(s, policy) === 0 && sellable > 0) {
      const sell = { id, symbol: SYM, side: 'sell', lots: sellable as Lots, orderType: 'limit', price: riskPrice('sell', s, policy), timeInForce: 'IOC', reduceOnly: true, reason: 'dust', ts: 5_000 } as const;
      expect(checkIntent(risk, sell, ETH, 5_000)).toMatchObject({ ok: false, reason: { code: 'NOTIONAL_BELOW_MIN' } });
    }
  });

  // Reviewer findings on sizing.ts: sizes within the order and position caps that the cash (with the fee reserve) or
  // the exposure of a base remainder could not carry were denied on every such decision.
  const tight = { ...DEFAULT_LIMITS, maxOrderNotional: money('5000'), maxPositionNotional: money('5000'), maxExposure: money('5000') };
  it.each<[string, PolicyConfig, RiskLimits, Money, () => Fill[], Partial<PolicyState>, number, string]>([
    // 600 · 10 000 / 10 010 = 599.40 USDT with the 0.1% reserve: 2303 lots at the limit 2602.62
    ['a volatility buy on a 600 USDT account (risk 12 USDT on a 2% move: 600 USDT)', { ...limitCfg, sizing: { kind: 'volatility', riskBps: 200 } },
      DEFAULT_LIMITS, money('600'), () => [], { volatility: 0.02 }, 2_303, 'INSUFFICIENT_BALANCE'],
    ['a market buy of the whole equity (fraction 1) on 800 USDT', { ...limitCfg, orderType: 'market', sizing: { kind: 'fixed-fraction', fractionBps: 10_000 } },
      DEFAULT_LIMITS, money('800'), () => [], {}, 3_073, 'INSUFFICIENT_BALANCE'],
    // Buying 1001 lots pays 0.0001001 ETH, selling the 999 sellable leaves 0.0000999 ETH (0.2597 USDT at the mark) and
    // no lots: 4999.74 USDT of exposure room at the limit 2602.62 is 19 210 lots, where the position cap alone allows 19 211.
    ['a buy of the whole position cap next to a base remainder', { ...limitCfg, sizing: { kind: 'fixed-fraction', fractionBps: 10_000 } },
      tight, money('10000'), () => [fill('buy', 1_001), fill('sell', 999)], {}, 19_210, 'EXPOSURE_LIMIT'],
  ])('sizes %s to what risk approves', (_name, cfg, limits, cash, fills, over, want, nextCode) => {
    const fs = fills();
    let pf = emptyPortfolio('USDT', cash);
    for (const f of fs) pf = applyFill(pf, ETH, f);
    const intent = intentOf(intentFor(dec('BUY'), stateOf(pf, limits, over), cfg, id));
    const risk = riskOf(limits, fs, 0, cash);

    expect(intent.lots).toBe(want);
    expect(checkIntent(risk, intent, ETH, 5_000)).toEqual({ ok: true });
    expect(checkIntent(risk, { ...intent, lots: (intent.lots + 1) as Lots }, ETH, 5_000)).toMatchObject({ ok: false, reason: { code: nextCode } });
  });

  it('closes a long larger than one order over several decisions, each within the order cap', () => {
    let pf = applyFill(emptyPortfolio('USDT', money('10000')), ETH, fill('buy', 5_000)); // 0.4995 ETH ≈ 1297 USDT > 1000 cap
    const fs = [fill('buy', 5_000)];
    const sold: number[] = [];
    for (let k = 0; k < 3; k++) {
      const s = stateOf(pf, DEFAULT_LIMITS);
      const r = intentFor(dec('SELL'), s, policy, id);
      if (!('intent' in r)) break;
      expect(checkIntent(riskOf(DEFAULT_LIMITS, fs), r.intent, ETH, 5_000)).toEqual({ ok: true });
      sold.push(r.intent.lots);
      const f = fill('sell', r.intent.lots);
      fs.push(f);
      pf = applyFill(pf, ETH, f);
    }
    // 1000 USDT / 2597.39 (the sell limit) = 0.3850 ETH, then the remaining 0.1145 ETH; 5 traded lots stay as dust.
    expect(sold).toEqual([3_850, 1_145]);
    expect(intentFor(dec('SELL'), stateOf(pf, DEFAULT_LIMITS), policy, id)).toEqual({ none: 'flatNoShort' });
  });
});
