// Long/flat trading over precomputed decision states (one engine RL state per decision time), with trading-env's
// book-keeping: at decision t the agent picks BUY (go long), SELL (go flat) or HOLD (keep); the trade fills at
// price_t paying feeRate per unit of position changed; equity then moves by position·(price_{t+1}/price_t − 1).
// Reward = rewardScale·(equity change, fees included). The last step of an episode closes any open position.
// Unlike models/envs/trading-env.ts the state does not carry the position: the engine's RL state has no position,
// so the agent is trained on exactly what it will see (HOLD is then judged on the positions it has tended to hold).
import { InputValidationError } from '../../engine/types/errors.ts';
import type { Env } from '../dqn/env.ts';
import { Rng } from '../dqn/rng.ts';
import { BUY, HOLD, SELL } from '../labels/triple-barrier.ts';
import type { TradingStep } from '../envs/trading-env.ts';

/** Options of the environment. */
export interface BdiTradingEnvOptions {
  /** Row-major [decisions, stateSize] states. */
  readonly states: Float32Array;
  readonly stateSize: number;
  /** Fill price at each decision. */
  readonly price: ArrayLike<number>;
  /** Decisions [from, to) this env may use. */
  readonly from: number;
  readonly to: number;
  readonly feeRate: number;
  /** Decisions per training episode from a seeded random start; omitted = one episode over the whole span. */
  readonly episodeLength?: number;
  readonly rewardScale?: number;
  readonly seed?: number;
}

/** The long/flat environment over decision states; see the header. */
export class BdiTradingEnv implements Env {
  readonly stateSize: number;
  readonly actionCount = 3;
  private readonly rng: Rng;
  private t = 0;
  private end = 0;
  private pos = 0;
  private eq = 1;
  private entryEq = 1;
  private over = true;
  /** Fees paid in the current episode (equity units). */
  feesPaid = 0;
  /** Position changes in the current episode. */
  trades = 0;

  constructor(private readonly o: BdiTradingEnvOptions) {
    const n = o.price.length;
    if (!Number.isInteger(o.stateSize) || o.stateSize < 1 || o.states.length !== n * o.stateSize) {
      throw new InputValidationError(`states hold ${o.states.length} floats, expected ${n} decisions × ${o.stateSize}`);
    }
    if (!(o.feeRate >= 0 && o.feeRate < 1)) throw new InputValidationError(`feeRate must be in [0, 1), got ${o.feeRate}`);
    if (!(Number.isInteger(o.from) && Number.isInteger(o.to) && o.from >= 0 && o.to <= n && o.to - o.from >= 2)) {
      throw new InputValidationError(`trading span [${o.from}, ${o.to}) must lie in [0, ${n}] and hold ≥ 2 decisions`);
    }
    if (o.episodeLength !== undefined && !(Number.isInteger(o.episodeLength) && o.episodeLength >= 1 && o.episodeLength < o.to - o.from)) {
      throw new InputValidationError(`episodeLength must be an integer in [1, ${o.to - o.from - 1}], got ${o.episodeLength}`);
    }
    for (let i = o.from; i < o.to; i++) if (!(o.price[i]! > 0)) throw new InputValidationError(`price at decision ${i} is ${o.price[i]}, not a positive price`);
    this.stateSize = o.stateSize;
    this.rng = new Rng(o.seed ?? 1);
  }

  /** Current equity (starts at 1). */
  get equity(): number { return this.eq; }

  reset(): Float32Array {
    const { from, to, episodeLength } = this.o;
    const start = episodeLength === undefined ? from : from + this.rng.int(to - from - episodeLength);
    this.t = start;
    this.end = episodeLength === undefined ? to - 1 : start + episodeLength;
    this.pos = 0;
    this.eq = 1;
    this.entryEq = 1;
    this.feesPaid = 0;
    this.trades = 0;
    this.over = false;
    return this.state();
  }

  step(action: number): TradingStep {
    if (this.over) throw new InputValidationError('BdiTradingEnv.step after the episode ended: call reset()');
    const target = action === BUY ? 1 : action === SELL ? 0 : action === HOLD ? this.pos : NaN;
    if (Number.isNaN(target)) throw new InputValidationError(`trading action must be BUY (${BUY}), SELL (${SELL}) or HOLD (${HOLD}), got ${action}`);
    const p = this.o.price;
    const before = this.eq;
    const bar = this.t;
    let { fee, realised } = this.trade(target);
    this.eq *= 1 + this.pos * (p[bar + 1]! / p[bar]! - 1);
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
      state: this.state(), reward: (this.o.rewardScale ?? 1) * (this.eq - before), terminated, truncated: last && !terminated,
      realisedPnl: realised, bar, position: this.pos, equity: this.eq, fee,
    };
  }

  // Same rule as TradingEnv.trade: exit and entry each pay feeRate on the equity at that moment.
  private trade(target: number): { fee: number; realised: number } {
    if (target === this.pos) return { fee: 0, realised: 0 };
    let fee = 0, realised = 0;
    if (this.pos !== 0) {
      const exitFee = this.o.feeRate * this.eq;
      this.eq -= exitFee;
      fee += exitFee;
      realised = this.eq - this.entryEq;
    }
    if (target !== 0) {
      this.entryEq = this.eq;
      const entryFee = this.o.feeRate * this.eq;
      this.eq -= entryFee;
      fee += entryFee;
    }
    this.feesPaid += fee;
    this.trades++;
    this.pos = target;
    return { fee, realised };
  }

  private state(): Float32Array {
    const s = this.o.stateSize;
    return this.o.states.slice(this.t * s, (this.t + 1) * s);
  }
}
