// Long/flat trading over precomputed decision states (one engine RL state per decision time), with the shared
// book-keeping of models/envs/position-env.ts: at decision t the agent picks BUY (go long), SELL (go flat) or HOLD (keep); the trade fills at
// price_t paying feeRate per unit of position changed; equity then moves by position·(price_{t+1}/price_t − 1).
// Reward = rewardScale·(equity change, fees included). The last step of an episode closes any open position.
// Unlike models/envs/trading-env.ts the state does not carry the position: the engine's RL state has no position,
// so the agent is trained on exactly what it will see (HOLD is then judged on the positions it has tended to hold).
import { InputValidationError } from '../../engine/types/errors.ts';
import { BUY, HOLD, SELL } from '../labels/triple-barrier.ts';
import { PositionEnv, type PositionEnvSpan } from '../envs/position-env.ts';

/** Options of the environment: the shared span and costs (steps are decisions), the states and the fill prices. */
export interface BdiTradingEnvOptions extends PositionEnvSpan {
  /** Row-major [decisions, stateSize] states. */
  readonly states: Float32Array;
  readonly stateSize: number;
  /** Fill price at each decision. */
  readonly price: ArrayLike<number>;
  /**
   * Decisions whose step to the next crosses a hole in the data: the position is closed there, whatever the action,
   * so no equity (and no reward) rides on a move nobody could have traded through. Default none.
   */
  readonly flatAtGaps?: ArrayLike<number>;
}

/** The long/flat environment over decision states; see the header. */
export class BdiTradingEnv extends PositionEnv {
  readonly stateSize: number;
  private readonly flat: ReadonlySet<number>;

  constructor(private readonly o: BdiTradingEnvOptions) {
    super(o, o.price);
    const n = o.price.length;
    if (!Number.isInteger(o.stateSize) || o.stateSize < 1 || o.states.length !== n * o.stateSize) {
      throw new InputValidationError(`states hold ${o.states.length} floats, expected ${n} decisions × ${o.stateSize}`);
    }
    if (!(Number.isInteger(o.from) && Number.isInteger(o.to) && o.from >= 0 && o.to <= n && o.to - o.from >= 2)) {
      throw new InputValidationError(`trading span [${o.from}, ${o.to}) must lie in [0, ${n}] and hold ≥ 2 decisions`);
    }
    for (let i = o.from; i < o.to; i++) if (!(o.price[i]! > 0)) throw new InputValidationError(`price at decision ${i} is ${o.price[i]}, not a positive price`);
    this.stateSize = o.stateSize;
    this.flat = new Set(Array.from(o.flatAtGaps ?? []));
  }

  protected targetPosition(action: number): number {
    const target = action === BUY ? 1 : action === SELL ? 0 : action === HOLD ? this.pos : NaN;
    if (Number.isNaN(target)) throw new InputValidationError(`trading action must be BUY (${BUY}), SELL (${SELL}) or HOLD (${HOLD}), got ${action}`);
    return this.flat.has(this.t) ? 0 : target;
  }

  protected state(): Float32Array {
    const s = this.o.stateSize;
    return this.o.states.slice(this.t * s, (this.t + 1) * s);
  }
}
