// The training loop both `cobalt train dqn` modes share: one agent configuration, episodes on the training span with a
// greedy validation run every `evalEvery` episodes, the best validation weights restored, and greedy evaluation.
import { log } from '../../engine/log.ts';
import { DqnAgent, dqnConfig } from '../dqn/agent.ts';
import { runEpisode } from '../dqn/loop.ts';
import type { PositionEnv } from '../envs/position-env.ts';
import { Progress, type DataSpan } from './report.ts';

/** A greedy run over one span. */
export interface SpanResult {
  /** Equity − 1 after fees (equity starts at 1; the last bar closes any position). */
  readonly pnl: number;
  readonly fees: number;
  readonly trades: number;
  /** Bars spent long (or short) / bars stepped. */
  readonly exposure: number;
  readonly span: DataSpan;
}

/** The loop settings both trainers take. */
export interface DqnLoopOptions {
  readonly episodeLength: number;
  /** Training episodes, at most. */
  readonly episodes: number;
  /** Environment-step budget, checked after each episode (whichever of the two limits comes first). */
  readonly maxSteps: number;
  /** Greedy validation run every this many training episodes. */
  readonly evalEvery: number;
  readonly hidden: readonly number[];
  readonly seed: number;
  readonly progress?: boolean;
}

/** What the loop did; the agent holds the best validation weights afterwards. */
export interface DqnLoopResult {
  readonly best: { readonly result: SpanResult; readonly episode: number };
  readonly episodes: number;
  readonly rewardSum: number;
}

/** Returns the trading DQN both trainers use, for `stateSize` inputs and BUY/SELL/HOLD. */
export function tradingAgent(stateSize: number, opts: DqnLoopOptions): DqnAgent {
  return new DqnAgent(dqnConfig({
    stateSize, actions: 3, hidden: [...opts.hidden], seed: opts.seed,
    learningStarts: Math.min(1000, opts.episodeLength), trainEvery: 4, target: { kind: 'hard', every: 1000 },
    epsilon: { kind: 'linear', start: 1, end: 0.05, steps: Math.max(1, Math.floor(opts.maxSteps * 0.5)) },
    per: { alpha: 0.6, eps: 1e-3, pnlBonus: 0, beta0: 0.4, betaSteps: opts.maxSteps },
  }));
}

/** Trains on `trainEnv`, validates greedily on `valEnv`, and leaves the agent with the best validation weights. */
export function trainWithValidation(agent: DqnAgent, trainEnv: PositionEnv, valEnv: PositionEnv, valSpan: DataSpan, opts: DqnLoopOptions): DqnLoopResult {
  const progress = new Progress(opts.maxSteps, { enabled: opts.progress });
  let best: { params: Float32Array; result: SpanResult; episode: number } | undefined;
  let episodes = 0, rewardSum = 0;
  while (episodes < opts.episodes && agent.steps < opts.maxSteps) {
    rewardSum += runEpisode(agent, trainEnv, true).reward;
    episodes++;
    progress.update(Math.min(agent.steps, opts.maxSteps), `episode ${episodes}`, rewardSum / episodes);
    if (episodes % opts.evalEvery === 0 || episodes >= opts.episodes || agent.steps >= opts.maxSteps) {
      const r = greedyRun(agent, valEnv, valSpan);
      log().info({ episode: episodes, steps: agent.steps, valPnl: r.pnl, trades: r.trades }, 'dqn validation');
      if (!best || r.pnl > best.result.pnl) best = { params: agent.online.params.slice(), result: r, episode: episodes };
    }
  }
  progress.done();
  agent.online.setParams(best!.params);
  agent.target.setParams(best!.params);
  return { best: { result: best!.result, episode: best!.episode }, episodes, rewardSum };
}

/**
 * Returns why a CNN whose training labels reach `cnnTrainedToMs` (checkpoint `dataSpan.toMs`, the open time of the last
 * bar a training label reads) may not feed the DQN's state, or undefined when its training data ends before the DQN's
 * validation span starts. On bars the CNN was fitted on its outputs are in-sample (they carry those bars' outcomes), and
 * the validation span picks the DQN's weights, so that span, and the test span after it, must lie after the CNN's data.
 * Spans are the open times of their first and last decision bars.
 */
export function cnnSpanConflict(cnnTrainedToMs: number, validation: DataSpanMs, test: DataSpanMs): string | undefined {
  if (cnnTrainedToMs < validation.fromMs) return undefined;
  const iso = (ms: number): string => new Date(ms).toISOString();
  const inside = cnnTrainedToMs >= test.fromMs ? 'the test span' : 'the validation span, which picks the DQN\'s weights';
  return `the CNN's training data reaches ${iso(cnnTrainedToMs)}, inside ${inside} (DQN validation span ${iso(validation.fromMs)} → ${iso(validation.toMs)}, test span ${iso(test.fromMs)} → ${iso(test.toMs)}); the CNN's training data must end before the DQN's validation span starts`;
}

/** A span by the open times of its first and last bars. */
export interface DataSpanMs {
  readonly fromMs: number;
  readonly toMs: number;
}

/** Returns the greedy agent's after-fee result over one episode of `env`, reported against `span`. */
export function greedyRun(agent: DqnAgent, env: PositionEnv, span: DataSpan): SpanResult {
  let state = env.reset();
  let steps = 0, exposed = 0;
  for (;;) {
    const r = env.step(agent.act(state, true));
    steps++;
    // Position after the step (the last step's forced exit hides its bar: off by at most one bar).
    if (r.position !== 0) exposed++;
    state = r.state;
    if (r.terminated || r.truncated) break;
  }
  return { pnl: env.equity - 1, fees: env.feesPaid, trades: env.trades, exposure: exposed / steps, span };
}
