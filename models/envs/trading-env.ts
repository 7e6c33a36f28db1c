import { InputValidationError } from '../../engine/types/errors.ts';
import type { StepResult } from '../dqn/env.ts';
import { BUY, HOLD, SELL } from '../labels/triple-barrier.ts';
import { PositionEnv } from './position-env.ts';

/** Which positions the agent may hold: long or flat, or also short. */
export type PositionMode = 'long-flat' | 'long-short';

/** Extra per-bar features appended to the state (e.g. a CNN hidden vector); `at(t)` must read no data after bar t. */
export type ExtraFeatures = { readonly size: number; at(bar: number): ArrayLike<number> };

export type TradingEnvOptions = {
  /** Bar closes, in time order (only closes are traded: decisions and fills at the bar's close). */
  close: ArrayLike<number>;
  /** First and last bar of the data this env may use (inclusive from, exclusive to): the train or held-out split. */
  from: number;
  to: number;
  /** Log returns in the state. */
  window: number;
  /** Bars in the rolling volatility that normalises the returns. */
  volWindow: number;
  /** Fee per unit of notional traded (0.001 = 0.1% taker), charged on every position change. */
  feeRate: number;
  mode: PositionMode;
  /** Bars per training episode from a seeded random start; omitted = one episode over the whole span. */
  episodeLength?: number;
  /** Multiplies rewards (equity changes are ~1e-3 per bar; the DQN trains better on larger numbers). */
  rewardScale?: number;
  extra?: ExtraFeatures;
  seed?: number;
};

/** A trading step: the DQN's fields plus the book-keeping behind them. */
export type TradingStep = StepResult & {
  /** Bar whose close the action traded at. */
  readonly bar: number;
  readonly position: number;
  /** Equity after this step, starting from 1. */
  readonly equity: number;
  /** Fee charged by this step, in equity units. */
  readonly fee: number;
};

/**
 * Deterministic trading environment over real candles. At bar t the agent sees
 * [window log returns ending at t, each divided by σ_t and clipped to ±5; σ_t·1000; position; extra…]
 * and picks BUY (go long), SELL (go flat in long-flat mode, short in long-short) or HOLD (keep).
 * The trade fills at close_t paying feeRate per unit of position changed (a flip = exit + entry). A position is a fixed
 * quantity (the equity after the entry fee, bought or sold short at close_t), so equity = cash + quantity·close: a
 * short from 100 through 110 to 99 gains 1 %, as a venue short does (see PositionEnv). Reward = rewardScale·(equity
 * change, fees included).
 * Realised PnL is reported when a position is closed or flipped: equity after the exit minus equity
 * before the entry, both fees included. The last step of an episode closes any open position (paying
 * the exit fee), so the episode's PnL is fully realised and comparable with buy-and-hold.
 */
export class TradingEnv extends PositionEnv {
  readonly stateSize: number;
  private readonly o: TradingEnvOptions;
  private readonly logRet: Float64Array;
  private readonly sigma: Float64Array;

  constructor(opts: TradingEnvOptions) {
    super(opts, opts.close);
    const { close, from, to, window, volWindow } = opts;
    const first = Math.max(window, volWindow);
    if (!Number.isInteger(window) || window < 1 || !Number.isInteger(volWindow) || volWindow < 2) throw new InputValidationError(`window must be ≥ 1 and volWindow ≥ 2, got ${window}, ${volWindow}`);
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= first && to <= close.length && to - from >= 2)) {
      throw new InputValidationError(`trading span [${from}, ${to}) must lie in [${first}, ${close.length}] (first ${first} bars feed the state) and hold ≥ 2 bars`);
    }
    for (let i = 0; i < close.length; i++) if (!(close[i] > 0)) throw new InputValidationError(`close[${i}] = ${close[i]} is not a positive price`);
    this.o = opts;
    this.stateSize = window + 2 + (opts.extra?.size ?? 0);
    const n = close.length;
    this.logRet = new Float64Array(n);
    for (let i = 1; i < n; i++) this.logRet[i] = Math.log(close[i] / close[i - 1]);
    // σ_t from the returns ending at t only (sample std), as in models/labels.
    this.sigma = new Float64Array(n);
    for (let t = volWindow; t < n; t++) {
      let m = 0;
      for (let i = t - volWindow + 1; i <= t; i++) m += this.logRet[i];
      m /= volWindow;
      let ss = 0;
      for (let i = t - volWindow + 1; i <= t; i++) ss += (this.logRet[i] - m) ** 2;
      this.sigma[t] = Math.sqrt(ss / (volWindow - 1));
    }
  }

  protected targetPosition(action: number): number {
    switch (action) {
      case BUY: return 1;
      case SELL: return this.o.mode === 'long-short' ? -1 : 0;
      case HOLD: return this.pos;
      default: throw new InputValidationError(`trading action must be BUY (${BUY}), SELL (${SELL}) or HOLD (${HOLD}), got ${action}`);
    }
  }

  protected state(): Float32Array {
    const { window, extra } = this.o;
    const s = new Float32Array(this.stateSize);
    const t = this.t;
    const sig = this.sigma[t];
    for (let k = 0; k < window; k++) {
      const r = this.logRet[t - window + 1 + k];
      s[k] = sig > 0 ? Math.max(-5, Math.min(5, r / sig)) : 0;
    }
    s[window] = sig * 1000;
    s[window + 1] = this.pos;
    if (extra) {
      const v = extra.at(t);
      if (v.length !== extra.size) throw new InputValidationError(`extra features at bar ${t} have ${v.length} values, expected ${extra.size}`);
      for (let k = 0; k < extra.size; k++) s[window + 2 + k] = v[k];
    }
    return s;
  }
}

/** Returns buy-and-hold's after-fee return over bars [from, to]: buy at close[from], sell at close[to], one fee each way. */
export function buyAndHoldReturn(close: ArrayLike<number>, from: number, to: number, feeRate: number): number {
  return (1 - feeRate) * (close[to] / close[from]) * (1 - feeRate) - 1;
}
