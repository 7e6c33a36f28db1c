import { InputValidationError } from '../../engine/types/errors.ts';
import type { Rng } from './rng.ts';
import { SumTree } from './sum-tree.ts';

/** One environment step as the replay stores it. */
export type Transition = {
  readonly state: ArrayLike<number>;
  readonly action: number;
  readonly reward: number;
  readonly nextState: ArrayLike<number>;
  /** True when the episode ended by failure/terminal state (no bootstrap); a time-limit cut is not done. */
  readonly done: boolean;
  /** Profit realised at this step (closed trades), 0 if none; raises the transition's priority. */
  readonly realisedPnl?: number;
};

export type PrioritisedReplayOptions = {
  capacity: number;
  stateSize: number;
  /** Priority exponent: 0 = uniform sampling, 1 = fully proportional. */
  alpha: number;
  /** Added to |δ| so a transition with zero error is still sampled. */
  priorityEps: number;
  /** Priority bonus per unit of |realised pnl|: p = (|δ| + ε)^α + pnlBonus·|pnl|. */
  pnlBonus: number;
};

/** A sampled batch: flat row-major states, plus slots and importance-sampling weights (max weight 1). */
export type ReplayBatch = {
  readonly size: number;
  readonly slots: Int32Array;
  readonly states: Float32Array;
  readonly actions: Int32Array;
  readonly rewards: Float32Array;
  readonly nextStates: Float32Array;
  readonly dones: Uint8Array;
  readonly weights: Float32Array;
};

/**
 * Ring-buffer experience replay prioritised by TD error and realised profit (Schaul et al. 2016,
 * proportional variant). A new transition enters at the largest TD priority seen so far, so it is
 * replayed at least once soon; its realised-pnl bonus stays with it for life.
 */
export class PrioritisedReplay {
  readonly opts: PrioritisedReplayOptions;
  private readonly tree: SumTree;
  private readonly states: Float32Array;
  private readonly nextStates: Float32Array;
  private readonly actions: Int32Array;
  private readonly rewards: Float32Array;
  private readonly dones: Uint8Array;
  private readonly pnl: Float32Array;
  private maxTdPriority = 1;
  private next = 0;
  private count = 0;

  constructor(opts: PrioritisedReplayOptions) {
    if (!(opts.alpha >= 0) || !(opts.priorityEps > 0) || !(opts.pnlBonus >= 0)) {
      throw new InputValidationError(`replay needs alpha ≥ 0, priorityEps > 0, pnlBonus ≥ 0; got ${JSON.stringify(opts)}`);
    }
    this.opts = opts;
    this.tree = new SumTree(opts.capacity);
    this.states = new Float32Array(opts.capacity * opts.stateSize);
    this.nextStates = new Float32Array(opts.capacity * opts.stateSize);
    this.actions = new Int32Array(opts.capacity);
    this.rewards = new Float32Array(opts.capacity);
    this.dones = new Uint8Array(opts.capacity);
    this.pnl = new Float32Array(opts.capacity);
  }

  /** Number of stored transitions. */
  get size(): number {
    return this.count;
  }

  /** Stores a transition, overwriting the oldest when full; returns its slot. */
  add(t: Transition): number {
    const d = this.opts.stateSize;
    if (t.state.length !== d || t.nextState.length !== d) {
      throw new InputValidationError(`transition states have length ${t.state.length}/${t.nextState.length}, replay expects ${d}`);
    }
    const i = this.next;
    for (let k = 0; k < d; k++) { this.states[i * d + k] = t.state[k]; this.nextStates[i * d + k] = t.nextState[k]; }
    this.actions[i] = t.action;
    this.rewards[i] = t.reward;
    this.dones[i] = t.done ? 1 : 0;
    this.pnl[i] = t.realisedPnl ?? 0;
    this.tree.set(i, this.maxTdPriority + this.opts.pnlBonus * Math.abs(this.pnl[i]));
    this.next = (i + 1) % this.opts.capacity;
    this.count = Math.min(this.count + 1, this.opts.capacity);
    return i;
  }

  /** Returns the current sampling priority of a slot. */
  priority(slot: number): number {
    return this.tree.get(slot);
  }

  /**
   * Samples `n` transitions proportionally to priority (stratified: one draw per equal slice of the
   * total mass) and returns importance weights w_i = (N·P(i))^−β normalised by the largest possible w.
   */
  sample(n: number, beta: number, rng: Rng): ReplayBatch {
    if (this.count === 0) throw new InputValidationError('cannot sample an empty replay buffer');
    const d = this.opts.stateSize;
    const total = this.tree.total();
    const seg = total / n;
    const maxW = Math.pow(this.count * (this.tree.min() / total), -beta);
    const b: ReplayBatch = {
      size: n, slots: new Int32Array(n), states: new Float32Array(n * d), actions: new Int32Array(n),
      rewards: new Float32Array(n), nextStates: new Float32Array(n * d), dones: new Uint8Array(n), weights: new Float32Array(n),
    };
    for (let k = 0; k < n; k++) {
      const i = this.tree.find(Math.min(seg * (k + rng.next()), total * (1 - 1e-12)));
      b.slots[k] = i;
      b.states.set(this.states.subarray(i * d, (i + 1) * d), k * d);
      b.nextStates.set(this.nextStates.subarray(i * d, (i + 1) * d), k * d);
      b.actions[k] = this.actions[i];
      b.rewards[k] = this.rewards[i];
      b.dones[k] = this.dones[i];
      b.weights[k] = Math.pow(this.count * (this.tree.get(i) / total), -beta) / maxW;
    }
    return b;
  }

  /** Sets new priorities from the TD errors of a trained batch: p = (|δ| + ε)^α + pnlBonus·|pnl|. */
  updatePriorities(slots: ArrayLike<number>, tdErrors: ArrayLike<number>): void {
    const { alpha, priorityEps, pnlBonus } = this.opts;
    for (let k = 0; k < slots.length; k++) {
      const i = slots[k];
      const td = Math.pow(Math.abs(tdErrors[k]) + priorityEps, alpha);
      if (td > this.maxTdPriority) this.maxTdPriority = td;
      this.tree.set(i, td + pnlBonus * Math.abs(this.pnl[i]));
    }
  }
}
