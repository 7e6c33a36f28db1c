import { InputValidationError } from '../../engine/types/errors.ts';
import { Adam, Mlp } from './mlp.ts';
import { PrioritisedReplay, type Transition } from './replay.ts';
import { Rng } from './rng.ts';
import { betaAt, epsilonAt, type EpsilonSchedule } from './schedule.ts';

/** DQN hyper-parameters; generic over state size and action count. */
export type DqnConfig = {
  stateSize: number;
  actions: number;
  /** Hidden layer widths of the Q-network. */
  hidden: number[];
  lr: number;
  gamma: number;
  batchSize: number;
  replayCapacity: number;
  /** Environment steps before the first gradient step. */
  learningStarts: number;
  /** One gradient step every `trainEvery` environment steps. */
  trainEvery: number;
  /** hard: copy online → target every `every` gradient steps; soft: Polyak averaging each gradient step. */
  target: { kind: 'hard'; every: number } | { kind: 'soft'; tau: number };
  /** Double DQN: the online net picks the next action, the target net values it. */
  doubleDqn: boolean;
  /** Huber loss threshold on the TD error. */
  huberDelta: number;
  /** Global gradient-norm clip. */
  gradClipNorm: number;
  epsilon: EpsilonSchedule;
  /** Prioritised replay: α, ε added to |δ|, bonus per |realised pnl|, β annealed from beta0 to 1 over betaSteps. */
  per: { alpha: number; eps: number; pnlBonus: number; beta0: number; betaSteps: number };
  seed: number;
};

/** Returns a config with sensible defaults for small control/trading problems, overridden by `c`. */
export function dqnConfig(c: Pick<DqnConfig, 'stateSize' | 'actions'> & Partial<DqnConfig>): DqnConfig {
  return {
    hidden: [64, 64], lr: 1e-3, gamma: 0.99, batchSize: 64, replayCapacity: 50_000, learningStarts: 1000, trainEvery: 1,
    target: { kind: 'hard', every: 500 }, doubleDqn: true, huberDelta: 1, gradClipNorm: 10,
    epsilon: { kind: 'linear', start: 1, end: 0.05, steps: 10_000 },
    per: { alpha: 0.6, eps: 1e-3, pnlBonus: 0, beta0: 0.4, betaSteps: 50_000 }, seed: 1, ...c,
  };
}

/** What one gradient step did. */
export type TrainStats = { loss: number; meanAbsTd: number; gradNorm: number };

/**
 * Deep Q-network agent: online and target MLPs (state → one Q-value per action), prioritised replay,
 * ε-greedy acting, Huber loss weighted by importance-sampling weights, gradient clipping, Adam.
 * The state value reported is V(s) = max_a Q(s, a) (no separate value head: for a greedy policy
 * that is exactly the value the Q-network implies).
 */
export class DqnAgent {
  readonly config: DqnConfig;
  readonly online: Mlp;
  readonly target: Mlp;
  readonly replay: PrioritisedReplay;
  private readonly opt: Adam;
  private readonly rng: Rng;
  private envSteps = 0;
  private gradSteps = 0;
  private readonly dOut: Float32Array;
  private readonly targets: Float32Array;
  private readonly tdErr: Float32Array;

  constructor(config: DqnConfig) {
    if (!Number.isInteger(config.stateSize) || config.stateSize < 1) throw new InputValidationError(`stateSize must be a positive integer, got ${config.stateSize}`);
    if (!Number.isInteger(config.actions) || config.actions < 2) throw new InputValidationError(`a DQN needs at least 2 actions, got ${config.actions}`);
    if (config.target.kind === 'soft' && !(config.target.tau > 0 && config.target.tau <= 1)) throw new InputValidationError(`soft target tau must be in (0, 1], got ${config.target.tau}`);
    this.config = config;
    this.rng = new Rng(config.seed);
    const sizes = [config.stateSize, ...config.hidden, config.actions];
    this.online = new Mlp(sizes, this.rng);
    this.target = new Mlp(sizes, this.rng);
    this.target.copyFrom(this.online);
    this.opt = new Adam(this.online, config.lr);
    this.replay = new PrioritisedReplay({
      capacity: config.replayCapacity, stateSize: config.stateSize,
      alpha: config.per.alpha, priorityEps: config.per.eps, pnlBonus: config.per.pnlBonus,
    });
    this.dOut = new Float32Array(config.batchSize * config.actions);
    this.targets = new Float32Array(config.batchSize);
    this.tdErr = new Float32Array(config.batchSize);
  }

  /** Environment steps observed so far. */
  get steps(): number { return this.envSteps; }
  /** Gradient steps taken so far. */
  get updates(): number { return this.gradSteps; }
  /** Returns the exploration rate at the current step. */
  epsilon(): number { return epsilonAt(this.config.epsilon, this.envSteps); }

  /** Returns Q(s, ·) from the online network (a fresh array). */
  qValues(state: ArrayLike<number>): Float32Array {
    this.checkState(state);
    return this.online.forward(state, 1).slice();
  }

  /** Returns V(s) = max_a Q(s, a). */
  value(state: ArrayLike<number>): number {
    return Math.max(...this.qValues(state));
  }

  /** Returns an action: the greedy one, or with probability ε (unless greedy) a uniformly random one. */
  act(state: ArrayLike<number>, greedy = false): number {
    this.checkState(state);
    if (!greedy && this.rng.next() < this.epsilon()) return this.rng.int(this.config.actions);
    const q = this.online.forward(state, 1);
    let best = 0;
    for (let a = 1; a < this.config.actions; a++) if (q[a] > q[best]) best = a;
    return best;
  }

  /** Stores a transition, counts the step, and trains when due; returns the stats of a gradient step taken, if any. */
  observe(t: Transition): TrainStats | undefined {
    if (!Number.isInteger(t.action) || t.action < 0 || t.action >= this.config.actions) throw new InputValidationError(`action ${t.action} outside 0..${this.config.actions - 1}`);
    this.replay.add(t);
    this.envSteps++;
    const c = this.config;
    if (this.envSteps >= c.learningStarts && this.replay.size >= c.batchSize && this.envSteps % c.trainEvery === 0) return this.trainStep();
    return undefined;
  }

  /** Samples a prioritised batch, takes one gradient step, refreshes priorities and the target network. */
  trainStep(): TrainStats {
    const c = this.config;
    const B = c.batchSize, A = c.actions;
    const batch = this.replay.sample(B, betaAt(c.per.beta0, c.per.betaSteps, this.envSteps), this.rng);
    // Bootstrapped targets y = r + γ·Q_target(s', a*) for non-terminal s'.
    const qNextT = this.target.forward(batch.nextStates, B);
    const bestNext = new Int32Array(B);
    if (c.doubleDqn) {
      const qNextO = this.online.forward(batch.nextStates, B);
      for (let b = 0; b < B; b++) bestNext[b] = argmax(qNextO, b * A, A);
    } else {
      for (let b = 0; b < B; b++) bestNext[b] = argmax(qNextT, b * A, A);
    }
    for (let b = 0; b < B; b++) {
      this.targets[b] = batch.rewards[b] + (batch.dones[b] ? 0 : c.gamma * qNextT[b * A + bestNext[b]]);
    }
    const q = this.online.forward(batch.states, B);
    this.dOut.fill(0);
    let loss = 0, absTd = 0;
    const d = c.huberDelta;
    for (let b = 0; b < B; b++) {
      const a = batch.actions[b];
      const delta = q[b * A + a] - this.targets[b];
      const ad = Math.abs(delta);
      const w = batch.weights[b];
      loss += w * (ad <= d ? 0.5 * delta * delta : d * (ad - 0.5 * d));
      this.dOut[b * A + a] = (w * Math.max(-d, Math.min(d, delta))) / B;
      this.tdErr[b] = delta;
      absTd += ad;
    }
    this.online.backward(this.dOut);
    const gradNorm = this.online.clipGradNorm(c.gradClipNorm);
    this.opt.step();
    this.replay.updatePriorities(batch.slots, this.tdErr);
    this.gradSteps++;
    if (c.target.kind === 'soft') this.target.softUpdateFrom(this.online, c.target.tau);
    else if (this.gradSteps % c.target.every === 0) this.target.copyFrom(this.online);
    return { loss: loss / B, meanAbsTd: absTd / B, gradNorm };
  }

  private checkState(state: ArrayLike<number>): void {
    if (state.length !== this.config.stateSize) throw new InputValidationError(`state has ${state.length} values, the DQN expects ${this.config.stateSize}`);
  }
}

function argmax(v: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let a = 1; a < n; a++) if (v[off + a] > v[off + best]) best = a;
  return best;
}
