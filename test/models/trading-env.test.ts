import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TradingEnv, buyAndHoldReturn, type TradingStep } from '../../models/envs/trading-env.ts';
import { BUY, HOLD, SELL } from '../../models/labels/triple-barrier.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import { DqnAgent, dqnConfig } from '../../models/dqn/agent.ts';
import { realCandles } from './helpers.ts';

const btc = realCandles('BTC', 0, 3000).close;
const eth = realCandles('ETH', 5000, 8000).close;
const base = { window: 16, volWindow: 30, feeRate: 0.001, mode: 'long-flat' as const };

function runAll(env: TradingEnv, actions: (i: number) => number): TradingStep[] {
  env.reset();
  const out: TradingStep[] = [];
  for (let i = 0; ; i++) {
    const r = env.step(actions(i));
    out.push(r);
    if (r.terminated || r.truncated) return out;
  }
}

describe('trading env', () => {
  it.each([['BTC', btc], ['ETH', eth]] as const)('buy-and-hold equity equals the direct computation from %s candles', (_s, close) => {
    const from = 100, to = 2900;
    const env = new TradingEnv({ ...base, close, from, to });
    const steps = runAll(env, () => BUY);
    expect(steps.length).toBe(to - 1 - from);
    const direct = (1 - 0.001) * (close[to - 1] / close[from]) * (1 - 0.001) - 1;
    expect(env.equity - 1).toBeCloseTo(direct, 10);
    expect(buyAndHoldReturn(close, from, to - 1, 0.001)).toBeCloseTo(direct, 14);
    expect(env.trades).toBe(2); // in at the start, out at the end
    expect(steps.at(-1)!.realisedPnl).toBeCloseTo(direct, 10);
  });

  it('charges the fee on every position change and only then (independent reference)', () => {
    fc.assert(fc.property(
      fc.array(fc.constantFrom(BUY, SELL, HOLD), { minLength: 50, maxLength: 50 }), fc.constantFrom('long-flat' as const, 'long-short' as const),
      fc.integer({ min: 50, max: 2800 }),
      (acts, mode, from) => {
        const fee = 0.001;
        const env = new TradingEnv({ ...base, mode, close: btc, from, to: from + 51 });
        const steps = runAll(env, (i) => acts[i]);
        // Reference: a flip is an exit then an entry. An entry pays the fee on the equity and trades the rest as a
        // fixed quantity at that close; an exit pays the fee on quantity × exit close. Equity = cash + quantity × close.
        let eq = 1, cash = 1, qty = 0, pos = 0, changes = 0, fees = 0;
        const charged: boolean[] = [];
        const move = (target: number, px: number): void => {
          if (target === pos) return;
          changes++;
          charged[charged.length - 1] = true;
          if (pos !== 0) { const f = fee * Math.abs(qty) * px; fees += f; cash += qty * px - f; qty = 0; eq = cash; }
          if (target !== 0) { fees += fee * eq; eq *= 1 - fee; qty = target * eq / px; cash = eq - qty * px; }
          pos = target;
        };
        for (let i = 0; i < 50; i++) {
          const t = from + i;
          charged.push(false);
          move(acts[i] === BUY ? 1 : acts[i] === SELL ? (mode === 'long-short' ? -1 : 0) : pos, btc[t]);
          eq = cash + qty * btc[t + 1];
        }
        move(0, btc[from + 50]);
        const stepFees = steps.reduce((a, s) => a + s.fee, 0);
        const realised = steps.reduce((a, s) => a + (s.realisedPnl ?? 0), 0);
        return Math.abs(env.equity - eq) < 1e-12 && env.trades === changes && Math.abs(env.feesPaid - fees) < 1e-15
          && Math.abs(stepFees - fees) < 1e-15 && steps.every((s, i) => (s.fee > 0) === charged[i])
          // Flat between trades, so all PnL is realised PnL.
          && Math.abs(realised - (eq - 1)) < 1e-12;
      },
    ), { numRuns: 150 });
  });

  it('holding flat earns and pays nothing; a short gains when the price falls', () => {
    const env = new TradingEnv({ ...base, close: btc, from: 100, to: 400 });
    const steps = runAll(env, () => HOLD);
    expect(env.equity).toBe(1);
    expect(steps.every((s) => s.reward === 0 && s.fee === 0)).toBe(true);
    // Find a falling bar and short into it with no fee.
    let t = 100;
    while (!(btc[t + 1] < btc[t])) t++;
    const short = new TradingEnv({ ...base, feeRate: 0, mode: 'long-short', close: btc, from: t, to: t + 3 });
    short.reset();
    const r = short.step(SELL);
    expect(r.position).toBe(-1);
    expect(r.reward).toBeCloseTo(-(btc[t + 1] / btc[t] - 1), 12);
    expect(r.reward).toBeGreaterThan(0);
  });

  // Review finding 3 (RL side): long-short rebalanced a short to −1× equity every bar, so 100 → 110 → 99 lost 1 %.
  it('holds a short as a fixed quantity: sold at 100 and bought back at 99 after a rise to 110, it gains', () => {
    const close = [100, 100, 100, 100, 110, 99, 99];
    const play = (feeRate: number): TradingStep[] => {
      const env = new TradingEnv({ close, from: 3, to: 7, window: 1, volWindow: 2, feeRate, mode: 'long-short' });
      return runAll(env, (i) => (i === 0 ? SELL : HOLD));
    };
    const free = play(0);
    expect(free.map((s) => s.equity)).toEqual([expect.closeTo(0.9, 12), expect.closeTo(1.01, 12), expect.closeTo(1.01, 12)]);
    expect(free.reduce((a, s) => a + (s.realisedPnl ?? 0), 0)).toBeCloseTo(0.01, 12);
    // With fees: 0.1 % of the equity to enter, 0.1 % of quantity × 99 to buy back.
    const qty = 0.999 / 100;
    const paid = play(0.001);
    expect(paid.at(-1)!.equity).toBeCloseTo(0.999 + qty * (100 - 99) - 0.001 * qty * 99, 12);
    expect(paid.at(-1)!.fee).toBeCloseTo(0.001 * qty * 99, 15);
  });

  it('builds the state from data up to the decision bar only', () => {
    const opts = { ...base, close: btc, from: 200, to: 260, rewardScale: 100, extra: { size: 2, at: (b: number) => [b, -b] } };
    const env = new TradingEnv(opts);
    const s0 = env.reset();
    expect(s0.length).toBe(16 + 2 + 2);
    expect(s0[17]).toBe(0); // flat
    expect(Array.from(s0.slice(18))).toEqual([200, -200]);
    const mutated = Float64Array.from(btc);
    for (let i = 201; i < mutated.length; i++) mutated[i] *= 1.3;
    expect(new TradingEnv({ ...opts, close: mutated }).reset()).toEqual(s0);
    const r = env.step(BUY);
    expect(r.state[17]).toBe(1);
    expect(r.reward).toBeCloseTo(100 * (r.equity - 1), 12);
  });

  it('draws seeded random training episodes inside its span', () => {
    const env = new TradingEnv({ ...base, close: eth, from: 100, to: 1000, episodeLength: 50, seed: 3 });
    for (let e = 0; e < 20; e++) {
      const steps = runAll(env, () => HOLD);
      expect(steps.length).toBe(50);
      expect(steps[0].bar).toBeGreaterThanOrEqual(100);
      expect(steps.at(-1)!.bar + 1).toBeLessThan(1000);
    }
  });

  it('rejects bad spans, fees and actions', () => {
    expect(() => new TradingEnv({ ...base, close: btc, from: 5, to: 100 })).toThrow(InputValidationError);
    expect(() => new TradingEnv({ ...base, close: btc, from: 100, to: 5000 })).toThrow(InputValidationError);
    expect(() => new TradingEnv({ ...base, feeRate: -0.1, close: btc, from: 100, to: 200 })).toThrow(InputValidationError);
    const env = new TradingEnv({ ...base, close: btc, from: 100, to: 200 });
    env.reset();
    expect(() => env.step(3)).toThrow(InputValidationError);
  });

  it('feeds the DQN: realised profit raises a transition’s replay priority', () => {
    const env = new TradingEnv({ ...base, close: eth, from: 100, to: 2000, episodeLength: 200, rewardScale: 100, seed: 1 });
    const agent = new DqnAgent(dqnConfig({
      stateSize: env.stateSize, actions: 3, hidden: [16], batchSize: 16, replayCapacity: 1000, learningStarts: 10 ** 9,
      per: { alpha: 0.6, eps: 1e-3, pnlBonus: 100, beta0: 0.4, betaSteps: 1000 }, seed: 2,
    }));
    let s = env.reset();
    let slotWithPnl = -1, pnl = 0;
    for (let i = 0; i < 200; i++) {
      const a = agent.act(s);
      const r = env.step(a);
      agent.observe({ state: s, action: a, reward: r.reward, nextState: r.state, done: r.terminated, realisedPnl: r.realisedPnl });
      if (r.realisedPnl !== 0 && slotWithPnl < 0) { slotWithPnl = i; pnl = r.realisedPnl ?? 0; }
      s = r.state;
      if (r.terminated || r.truncated) break;
    }
    expect(slotWithPnl).toBeGreaterThanOrEqual(0);
    expect(agent.replay.priority(slotWithPnl)).toBeCloseTo(1 + 100 * Math.abs(pnl), 4);
    expect(agent.replay.priority(slotWithPnl === 0 ? 1 : 0)).toBeLessThan(agent.replay.priority(slotWithPnl));
  });
});
