// The DQN's online fine-tune, run in the trainer's worker thread (models/train/worker-task.ts, task kind 'dqn'): a copy
// of the live Q-network trained on the long/flat environment of `cobalt train dqn --state bdi` (dqn-bdi-env.ts: fills
// at the decision bar's close, after-fee equity change as reward) over the training segments of the DQN's own recent
// decisions, then the live and the candidate networks each played greedily once over the held-out segments.
// A segment is a run of consecutive decisions (dqn-pipeline.ts says where a sequence splits): an episode never spans two
// segments, since the price step between them is not one the agent traded through. Episodes start at a seeded random
// decision of a segment picked in proportion to its transitions, as the offline trainer's do over its one span.
// What the fine-tune changes from the live network's own training settings: it starts with exploration at
// `epsilonStart` (not 1: the weights already trade), learns from `learningStarts` transitions (capped at a quarter of
// the step budget), anneals ε and the replay's β over the budget, and copies the target network at least four times in
// it (the offline trainers copy it every 1000 gradient steps, which a short fine-tune would never reach).
import { InputValidationError } from '../../engine/types/errors.ts';
import { DqnAgent, type DqnConfig } from '../dqn/agent.ts';
import { runEpisode } from '../dqn/loop.ts';
import { Rng } from '../dqn/rng.ts';
import { BdiTradingEnv } from '../train/dqn-bdi-env.ts';

/** Consecutive decisions: states row-major [n, stateSize] and the fill price of each. */
export interface DqnSegment {
  readonly states: Float32Array;
  readonly price: Float64Array;
}

/** A greedy run over the held-out segments, equity compounded across them (each starts flat and ends flat). */
export interface DqnScore {
  /** Equity − 1 after fees. */
  readonly return: number;
  readonly fees: number;
  readonly trades: number;
  /** Share of the steps that ended long. */
  readonly exposure: number;
  /** Decisions stepped (transitions). */
  readonly steps: number;
}

/** What to fine-tune and how; the live network is `config` + `params` (models/dqn/io.ts layout). */
export interface DqnFineTuneSpec {
  readonly config: DqnConfig;
  readonly params: Float32Array;
  readonly train: readonly DqnSegment[];
  readonly heldOut: readonly DqnSegment[];
  readonly feeRate: number;
  readonly rewardScale: number;
  /** Training episodes, at most, and the environment-step budget (whichever ends first). */
  readonly episodes: number;
  readonly maxSteps: number;
  /** Decisions per episode (a shorter segment is played whole). */
  readonly episodeLength: number;
  readonly learningRate: number;
  readonly epsilonStart: number;
  readonly seed: number;
}

/** What a fine-tune returns: the candidate's weights and both figures on the held-out segments. */
export interface DqnFineTuneResult {
  readonly params: Float32Array;
  readonly live: DqnScore;
  readonly candidate: DqnScore;
  readonly episodes: number;
  readonly envSteps: number;
  readonly gradSteps: number;
  /** Each held-out step's after-fee return (equity after / before − 1), live and candidate on the same steps. */
  readonly liveSteps: Float64Array;
  readonly candidateSteps: Float64Array;
}

/** Returns the training-only settings of a fine-tune of `live` (see the header); the saved network keeps `live`'s. */
export function fineTuneConfig(live: DqnConfig, s: Pick<DqnFineTuneSpec, 'maxSteps' | 'learningRate' | 'epsilonStart' | 'seed'>): DqnConfig {
  const gradSteps = Math.max(1, Math.floor(s.maxSteps / live.trainEvery));
  const every = live.target.kind === 'hard' ? Math.max(1, Math.min(live.target.every, Math.floor(gradSteps / 4))) : 0;
  return {
    ...live, lr: s.learningRate, seed: s.seed,
    learningStarts: Math.min(live.learningStarts, Math.max(live.batchSize, Math.floor(s.maxSteps / 4))),
    epsilon: { kind: 'linear', start: s.epsilonStart, end: Math.min(s.epsilonStart, 0.02), steps: Math.max(1, Math.floor(s.maxSteps / 2)) },
    per: { ...live.per, betaSteps: s.maxSteps },
    ...(live.target.kind === 'hard' ? { target: { kind: 'hard', every } } : {}),
  };
}

/**
 * Returns why `s` can never train a fine-tune of `live` (no more environment steps than learningStarts + batch: fewer
 * than a batch of gradient steps), or undefined when it can. Segments shorter than `episodeLength` make episodes
 * shorter still, so a run can take fewer steps than this allows; the pipeline refuses a run that took none.
 */
export function dqnBudgetProblem(live: DqnConfig, s: Pick<DqnFineTuneSpec, 'episodes' | 'maxSteps' | 'episodeLength' | 'learningRate' | 'epsilonStart' | 'seed'>): string | undefined {
  const c = fineTuneConfig(live, s);
  const budget = Math.min(s.maxSteps, s.episodes * s.episodeLength);
  const need = c.learningStarts + c.batchSize;
  if (budget > need) return undefined;
  return `the fine-tune can take at most min(maxSteps ${s.maxSteps}, episodes ${s.episodes} × episodeLength ${s.episodeLength}) = ${budget} environment steps, `
    + `not more than learningStarts ${c.learningStarts} + batch ${c.batchSize} = ${need}: it would take fewer than a batch of gradient steps`;
}

/** Fine-tunes a copy of the live network on the training segments and scores both on the held-out ones. */
export function fineTuneDqn(spec: DqnFineTuneSpec): DqnFineTuneResult {
  const trainable = spec.train.filter((s) => s.price.length >= 2);
  if (trainable.length === 0) throw new InputValidationError('DQN fine-tune: no training segment holds 2 decisions');
  if (!spec.heldOut.some((s) => s.price.length >= 2)) throw new InputValidationError('DQN fine-tune: no held-out segment holds 2 decisions');
  const live = playGreedy(agentWith(spec.config, spec.params), spec.heldOut, spec);
  const agent = agentWith(fineTuneConfig(spec.config, spec), spec.params);
  const envs = trainable.map((s, i) => {
    const n = s.price.length;
    return new BdiTradingEnv({
      states: s.states, stateSize: spec.config.stateSize, price: s.price, from: 0, to: n, feeRate: spec.feeRate, rewardScale: spec.rewardScale,
      seed: spec.seed + i, ...(spec.episodeLength < n - 1 ? { episodeLength: spec.episodeLength } : {}),
    });
  });
  // Segments weighted by their transitions, so each decision is about as likely to be trained on.
  const weights = trainable.map((s) => s.price.length - 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const rng = new Rng(spec.seed);
  let episodes = 0;
  while (episodes < spec.episodes && agent.steps < spec.maxSteps) {
    let r = rng.int(total), k = 0;
    while (r >= weights[k]!) r -= weights[k++]!;
    runEpisode(agent, envs[k]!, true);
    episodes++;
  }
  const params = agent.online.params.slice();
  const candidate = playGreedy(agentWith(spec.config, params), spec.heldOut, spec);
  return {
    params, live: live.score, candidate: candidate.score, episodes, envSteps: agent.steps, gradSteps: agent.updates,
    liveSteps: live.stepReturns, candidateSteps: candidate.stepReturns,
  };
}

/** Returns the greedy after-fee result of `agent` over `segments`, equity compounded across them. */
export function scoreGreedy(agent: DqnAgent, segments: readonly DqnSegment[], costs: Pick<DqnFineTuneSpec, 'feeRate'>): DqnScore {
  return playGreedy(agent, segments, costs).score;
}

/** Returns `scoreGreedy`'s figures and each step's after-fee return, in the order played. */
export function playGreedy(agent: DqnAgent, segments: readonly DqnSegment[], costs: Pick<DqnFineTuneSpec, 'feeRate'>): { score: DqnScore; stepReturns: Float64Array } {
  let equity = 1, fees = 0, trades = 0, steps = 0, long = 0;
  const stepReturns: number[] = [];
  for (const s of segments) {
    if (s.price.length < 2) continue;
    const env = new BdiTradingEnv({ states: s.states, stateSize: agent.config.stateSize, price: s.price, from: 0, to: s.price.length, feeRate: costs.feeRate });
    let state = env.reset();
    for (;;) {
      const before = env.equity;
      const r = env.step(agent.act(state, true));
      stepReturns.push(r.equity / before - 1);
      steps++;
      if (r.position !== 0) long++;
      state = r.state;
      if (r.terminated || r.truncated) break;
    }
    // Fees in units of the equity at the start, as the return is.
    fees += env.feesPaid * equity;
    equity *= env.equity;
    trades += env.trades;
  }
  return { score: { return: equity - 1, fees, trades, exposure: steps === 0 ? 0 : long / steps, steps }, stepReturns: Float64Array.from(stepReturns) };
}

/** Returns an agent with `params` in both networks (a fresh replay and optimiser). */
export function agentWith(config: DqnConfig, params: Float32Array): DqnAgent {
  const agent = new DqnAgent(config);
  if (agent.online.params.length !== params.length) {
    throw new InputValidationError(`DQN weights hold ${params.length} values, a [${agent.online.sizes.join(', ')}] network has ${agent.online.params.length}`);
  }
  agent.online.setParams(params);
  agent.target.setParams(params);
  return agent;
}
