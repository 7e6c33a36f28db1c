import { InputValidationError } from '../../engine/types/errors.ts';
import type { Env } from '../dqn/env.ts';
import { Rng } from '../dqn/rng.ts';
import type { TradingStep } from './trading-env.ts';

/** The span, costs and episode settings every trading environment shares. */
export interface PositionEnvSpan {
  /** Steps [from, to) the env may use: the train or held-out split. */
  readonly from: number;
  readonly to: number;
  /** Fee per unit of notional traded (0.001 = 0.1% taker), charged on every position change. */
  readonly feeRate: number;
  /** Steps per training episode from a seeded random start; omitted = one episode over the whole span. */
  readonly episodeLength?: number;
  /** Multiplies rewards (equity changes are ~1e-3 per step; the DQN trains better on larger numbers). */
  readonly rewardScale?: number;
  readonly seed?: number;
}

/**
 * The book-keeping of a trading environment over a price series: at step t the action's target position fills at
 * price_t paying feeRate on the equity per unit of position changed (a flip = exit + entry). A position is a fixed
 * quantity, as the policy and a venue trade it: the equity left after the entry fee bought (long) or sold (short) at
 * price_t, held unchanged until the exit, which pays feeRate on quantity·exit price. Equity = cash + quantity·price:
 * a long moves by price_{t+1}/price_t − 1 of its value, a short gains what the price falls (it is not rebalanced to
 * −1× equity every step). Reward = rewardScale·(equity change, fees included). Realised PnL is reported when a
 * position is closed or flipped (equity after the exit minus equity before the entry, fees included), and the last
 * step of an episode closes any open position so the episode's PnL is fully realised. Subclasses say what the agent
 * sees (`state`) and which position an action asks for (`targetPosition`).
 */
export abstract class PositionEnv implements Env {
  readonly actionCount = 3;
  abstract readonly stateSize: number;
  protected t = 0;
  protected pos = 0;
  private end = 0;
  private eq = 1;
  /** Cash and the open position's signed value (quantity·price); eq = cash + value while a position is open. */
  private cash = 1;
  private value = 0;
  private entryEq = 1;
  private over = true;
  private readonly rng: Rng;
  /** Fees paid in the current episode (equity units). */
  feesPaid = 0;
  /** Position changes in the current episode. */
  trades = 0;

  constructor(private readonly span: PositionEnvSpan, private readonly price: ArrayLike<number>) {
    if (!(span.feeRate >= 0 && span.feeRate < 1)) throw new InputValidationError(`feeRate must be in [0, 1), got ${span.feeRate}`);
    const { from, to, episodeLength } = span;
    if (episodeLength !== undefined && !(Number.isInteger(episodeLength) && episodeLength >= 1 && episodeLength < to - from)) {
      throw new InputValidationError(`episodeLength must be an integer in [1, ${to - from - 1}], got ${episodeLength}`);
    }
    this.rng = new Rng(span.seed ?? 1);
  }

  /** Returns what the agent sees at the current step. */
  protected abstract state(): Float32Array;
  /** Returns the position (−1, 0 or 1) `action` asks for; throws for an unknown action. */
  protected abstract targetPosition(action: number): number;

  /** Current equity (starts at 1). */
  get equity(): number { return this.eq; }
  /** Current position: −1, 0 or 1. */
  get position(): number { return this.pos; }

  reset(): Float32Array {
    const { from, to, episodeLength } = this.span;
    const start = episodeLength === undefined ? from : from + this.rng.int(to - from - episodeLength);
    this.t = start;
    this.end = episodeLength === undefined ? to - 1 : start + episodeLength;
    this.pos = 0;
    this.eq = 1;
    this.cash = 1;
    this.value = 0;
    this.entryEq = 1;
    this.feesPaid = 0;
    this.trades = 0;
    this.over = false;
    return this.state();
  }

  step(action: number): TradingStep {
    if (this.over) throw new InputValidationError(`${this.constructor.name}.step after the episode ended: call reset()`);
    const target = this.targetPosition(action);
    const p = this.price;
    const before = this.eq;
    const bar = this.t;
    let { fee, realised } = this.trade(target);
    if (this.pos !== 0) {
      // quantity·price_{t+1}, written as a factor on the value so that a long's figures stay what they were (to the bit).
      this.value *= 1 + (p[bar + 1]! / p[bar]! - 1);
      this.eq = this.cash + this.value;
    }
    this.t++;
    const last = this.t >= this.end;
    if (last && this.pos !== 0) {
      const exit = this.trade(0);
      fee += exit.fee;
      realised += exit.realised;
    }
    const terminated = this.eq <= 0;
    this.over = last || terminated;
    return {
      state: this.state(), reward: (this.span.rewardScale ?? 1) * (this.eq - before), terminated, truncated: last && !terminated,
      realisedPnl: realised, bar, position: this.pos, equity: this.eq, fee,
    };
  }

  private trade(target: number): { fee: number; realised: number } {
    if (target === this.pos) return { fee: 0, realised: 0 };
    let fee = 0, realised = 0;
    if (this.pos !== 0) {
      const exitFee = this.span.feeRate * Math.abs(this.value);
      this.eq = this.cash + this.value - exitFee;
      this.cash = this.eq;
      this.value = 0;
      fee += exitFee;
      realised = this.eq - this.entryEq;
    }
    if (target !== 0) {
      this.entryEq = this.eq;
      const entryFee = this.span.feeRate * Math.abs(target) * this.eq;
      this.eq -= entryFee;
      fee += entryFee;
      // Buy (or sell short) |target|·equity worth; a short's proceeds join the cash.
      this.value = target * this.eq;
      this.cash = this.eq - this.value;
    }
    this.feesPaid += fee;
    this.trades++;
    this.pos = target;
    return { fee, realised };
  }
}
