// Config risk.breaker -> RiskLimits (app/risk-limits.ts) -> the RiskManager's market circuit breaker.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskLimitsFromConfig } from '../../app/risk-limits.ts';
import { loadConfig, validateConfig } from '../../engine/config/load.ts';
import { configSchema } from '../../engine/config/schema.ts';
import type { OrderDenied, RiskAlert } from '../../engine/messages/risk.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';
import type { Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { riskManager } from '../../actors/risk-manager/machine.ts';
import { createRiskState, onSetLimits } from '../../actors/risk-manager/logic.ts';
import { controlMessages } from '../../engine/dashboard/controls.ts';
import { intent } from '../actors/risk-manager/helpers.ts';

const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const limitsOf = (breaker: unknown) => riskLimitsFromConfig(configSchema.parse({ risk: { breaker } }), money('10000'), ETH);
const breakerOf = (l: ReturnType<typeof limitsOf>) => ({
  maxMoveBps: l.maxMoveBps, moveWindowMs: l.moveWindowMs, moveCooldownMs: l.moveCooldownMs, markStaleMs: l.markStaleMs, maxSpreadBps: l.maxSpreadBps, spreadMs: l.spreadMs,
});
const SPREAD_DEFAULTS = { maxSpreadBps: 50, spreadMs: 2_000 };

describe('risk.breaker in the config', () => {
  it.each([
    ['the defaults', undefined, { maxMoveBps: 500, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: 60_000, ...SPREAD_DEFAULTS }],
    ['set values', { maxMovePct: 2.5, moveWindowMs: 60_000, cooldownMs: 120_000, staleMs: 15_000, maxSpreadBps: 20, spreadMs: 0 },
      { maxMoveBps: 250, moveWindowMs: 60_000, moveCooldownMs: 120_000, markStaleMs: 15_000, maxSpreadBps: 20, spreadMs: 0 }],
    // A guard off keeps its window, cooldown and duration: the dashboard switches it on with its limit alone.
    ['the move guard off', { maxMovePct: false }, { maxMoveBps: undefined, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: 60_000, ...SPREAD_DEFAULTS }],
    ['the stale guard off', { staleMs: false }, { maxMoveBps: 500, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: undefined, ...SPREAD_DEFAULTS }],
    ['the spread guard off', { maxSpreadBps: false }, { maxMoveBps: 500, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: 60_000, maxSpreadBps: undefined, spreadMs: 2_000 }],
  ])('maps %s to the RiskManager limits', (_name, breaker, want) => {
    expect(breakerOf(limitsOf(breaker))).toEqual(want);
  });

  // Review of 5b8d4e4 (finding 5): the form answered 200 and the RiskManager then refused the set (spreadMs undefined).
  it.each([
    ['the spread guard', { maxSpreadBps: false }, { maxSpreadBps: 40 }, { maxSpreadBps: 40, spreadMs: 2_000 }],
    ['the move guard', { maxMovePct: false }, { maxMoveBps: 300 }, { maxMoveBps: 300, moveWindowMs: 300_000, moveCooldownMs: 300_000 }],
  ])('switches %s off in the config on from the dashboard with its limit alone', (_name, breaker, body, want) => {
    const limits = limitsOf(breaker);
    const sent = controlMessages('limits', body, 0 as TsMs);
    const msg = sent.ok ? sent.messages[0] : undefined;
    const step = onSetLimits(createRiskState({ limits, instruments: [ETH], cash: money('10000') }), msg?.type === 'risk.setLimits' ? msg.limits : {}, 0 as TsMs);
    expect(step.out.map((o) => o.type)).toEqual(['risk.limitsChanged']);
    expect(step.state.limits).toMatchObject(want);
  });

  it.each([
    ['a move of 0 %', { maxMovePct: 0 }, 'risk.breaker.maxMovePct'],
    ['a window under a second', { moveWindowMs: 500 }, 'risk.breaker.moveWindowMs'],
    ['a cooldown of 0', { cooldownMs: 0 }, 'risk.breaker.cooldownMs'],
    ['a stale limit under two seconds', { staleMs: 1_000 }, 'risk.breaker.staleMs'],
    ['a spread limit of 0 bps', { maxSpreadBps: 0 }, 'risk.breaker.maxSpreadBps'],
    ['a fractional spread limit', { maxSpreadBps: 2.5 }, 'risk.breaker.maxSpreadBps'],
    ['a negative spread duration', { spreadMs: -1 }, 'risk.breaker.spreadMs'],
    ['an unknown key', { maxSpreadPct: 0.5 }, 'risk.breaker'],
  ])('refuses %s', (_name, breaker, path) => {
    const res = validateConfig({ risk: { breaker } });
    expect(res.ok).toBe(false);
    expect(res.ok ? '' : res.problems.join('\n')).toContain(path);
  });

  // The spread guard's keys are not written in them: its defaults apply.
  it.each(['configs/paper.yaml', 'configs/live.example.yaml'])('%s states the breaker at the defaults', (file) => {
    expect(loadConfig(file, {}).config.risk.breaker).toEqual({ maxMovePct: 5, moveWindowMs: 300_000, cooldownMs: 300_000, staleMs: 60_000, ...SPREAD_DEFAULTS });
  });

  it('denies buys while a 6 % fall is in the window, and from cooldownMs after it left, approves them again', () => {
    const clock = new SimulatedClock(0);
    const limits = riskLimitsFromConfig(configSchema.parse({}), money('10000'), ETH);
    const actor = createActor(riskManager, { input: { limits, instruments: [ETH], cash: money('10000') }, clock }).start();
    const denied: OrderDenied[] = [];
    const alerts: RiskAlert[] = [];
    actor.on('risk.orderDenied', (e) => denied.push(e));
    actor.on('risk.alert', (e) => alerts.push(e));
    const mark = (ts: number, price: number): void => {
      clock.set(ts);
      actor.send({ type: 'risk.mark', symbol: 'ETH/USDT', price: price as Ticks, ts: ts as TsMs });
    };
    const buy = (): void => void actor.send({ type: 'risk.intent', intent: intent({ price: 252270 as Ticks }) });
    // 2683.80 (the recording's first ETH/USDT trade), then 6 % under it a minute later; a mark every 50 s after it
    // keeps the feed fresh. The pre-fall price stays in the older 300 s bucket until 600 s, so the marks up to 561 s
    // still measure the fall; the cooldown runs from there and ends at 861 s.
    mark(0, 268380);
    mark(60_000, 252277);
    for (let ts = 111_000; ts <= 911_000; ts += 50_000) {
      mark(ts, 252270 + ts / 1000);
      if (ts === 561_000 || ts === 811_000 || ts === 911_000) buy();
    }
    expect([denied.map((d) => d.reason.code), alerts.map((a) => [a.code, a.ts])]).toEqual([
      ['MARKET_MOVE', 'MARKET_MOVE'], [['MARKET_MOVE', 60_000], ['MARKET_CLEARED', 861_000]],
    ]);
  });
});
