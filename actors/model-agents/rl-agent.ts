// RLAgent runner: a packed BaseDataInput row (with the CNN's same-tick hidden state fed in by the coordinator) →
// a state vector → Q-values of a DQN → ModelOutput. The action is argmax Q. `probabilities` = softmax(Q / T) is a
// pseudo-probability: Q-values are expected returns, not likelihoods, so it only ranks the actions and says how far
// apart they are (T sets the scale); the gating weighs the agent by its realised accuracy, not by this number. It is
// still the output's confidence, which the MoE's minConfidence filter reads first: at T = 1 the bundled DQN's Q-values
// are so close that its confidence has median 0.34 and reaches the default 0.5 on about 1 decision in 100, so it is
// rarely blended (figures in models/bundled/README.md).
// The value estimate V(s) = max Q and the raw Q-values go in `extra`.
// A DQN trained with a model's same-tick output in its state (`requires`) does not answer without it: the coordinator
// runs a dependent whose dependency gave nothing this tick on the input the DataProvider packed, whose model slots
// hold the last stored output whatever its age, a state the DQN never saw in training.
import {
  bdiSection, bdiSeriesFeature, BDI_FRAMES,
} from '../../engine/market/base-data-input.ts';
import { ACTIONS, type Action, type ModelOutput } from '../../engine/messages/signals.ts';
import { EngineError, InputValidationError } from '../../engine/types/errors.ts';
import type { ModelRunner, RunContext } from '../orchestrator/registry.ts';
import { ModelOutputError } from '../orchestrator/coordinator.ts';

/** What the runner needs of a Q-network; models/dqn's DqnAgent satisfies it (`qValues`, `config.stateSize`). */
export interface QFunction {
  qValues(state: Float32Array): ArrayLike<number> | Promise<ArrayLike<number>>;
}

/** Turns a packed BaseDataInput row into the agent's state vector. */
export type StateBuilder = (bdi: Float32Array) => Float32Array;

/** Options of the RL runner. */
export interface RlAgentOptions {
  readonly q: QFunction;
  readonly state: StateBuilder;
  /** State length the Q-network takes; checked on every run when given. */
  readonly stateSize?: number;
  /** Softmax temperature of the pseudo-probabilities (default 1). */
  readonly temperature?: number;
  /** Action of each Q index (default ACTIONS: BUY, SELL, HOLD, the trading env's order). */
  readonly actionOrder?: readonly Action[];
  /**
   * Models whose same-tick output the state was trained with (a CNN-bound DQN: ['cnn']). A run whose context has no
   * output of one of them (it failed, timed out, was busy or is dropped) throws ModelDependencyError.
   */
  readonly requires?: readonly string[];
}

/** A model run refused because a model whose same-tick output it needs gave none this tick. */
export class ModelDependencyError extends EngineError {
  readonly code = 'MODEL_DEPENDENCY';
}

/** Returns softmax(x / t), computed stably. */
export function softmax(x: ArrayLike<number>, t = 1): number[] {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]! / t);
  const e = Array.from({ length: x.length }, (_, i) => Math.exp(x[i]! / t - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * Returns a default state builder from the packed input: the newest `window` primary 1m closes (relative to the
 * newest close, as packed), the COB scalars, both model slots and the CNN hidden slot (present flag + 32 values).
 * Length: window + 10 + 12 + 33. A DQN trained for live use must be trained on the same builder.
 */
export function bdiRlState(window = 30): StateBuilder {
  if (!Number.isInteger(window) || window < 1 || window > BDI_FRAMES) throw new InputValidationError(`RL state window must be 1..${BDI_FRAMES}, got ${window}`);
  return (bdi) => {
    const closes = bdiSeriesFeature(bdi, 'primary1m', 'close').subarray(BDI_FRAMES - window);
    const parts = [closes, bdiSection(bdi, 'cobStats'), bdiSection(bdi, 'models'), bdiSection(bdi, 'cnnHidden')];
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
}

/** Returns the registry runner of the RL agent. */
export function rlRunner(opts: RlAgentOptions): ModelRunner {
  const order = opts.actionOrder ?? ACTIONS;
  const t = opts.temperature ?? 1;
  if (!(t > 0)) throw new InputValidationError(`RL agent temperature must be > 0, got ${t}`);
  if (order.length !== ACTIONS.length || ACTIONS.some((a) => !order.includes(a))) {
    throw new InputValidationError(`RL agent actionOrder must hold each of ${ACTIONS.join(', ')} once, got [${order.join(', ')}]`);
  }
  const requires = opts.requires ?? [];
  return async (input: Float32Array, ctx: RunContext): Promise<ModelOutput> => {
    const missing = requires.filter((d) => !ctx.deps.has(d));
    if (missing.length > 0) {
      throw new ModelDependencyError(`RL agent ${ctx.model} ${ctx.version}: no same-tick output of ${missing.join(', ')} (failed, timed out, busy or dropped); the state would hold its last stored output, which it was not trained on`);
    }
    const state = opts.state(input);
    if (opts.stateSize !== undefined && state.length !== opts.stateSize) {
      throw new InputValidationError(`RL agent: state has ${state.length} values, the Q-network takes ${opts.stateSize}`);
    }
    const q = await opts.q.qValues(state);
    if (q.length !== order.length || Array.from(q).some((v) => !Number.isFinite(v))) {
      throw new ModelOutputError(`RL agent: Q-network returned [${Array.from(q).join(', ')}], expected ${order.length} finite values`);
    }
    const pseudo = softmax(q, t);
    // Reorder from the network's action indices to ACTIONS order.
    const probabilities = ACTIONS.map((a) => pseudo[order.indexOf(a)]!) as [number, number, number];
    let best = 0;
    for (let k = 1; k < q.length; k++) if (q[k]! > q[best]!) best = k;
    const action = order[best]!;
    return {
      model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts,
      action,
      probabilities,
      confidence: probabilities[ACTIONS.indexOf(action)]!,
      extra: { qValues: ACTIONS.map((a) => q[order.indexOf(a)]!), value: q[best]!, pseudoProbabilities: true, temperature: t },
    };
  };
}
