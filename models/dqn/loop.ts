import type { DqnAgent } from './agent.ts';
import type { Env } from './env.ts';

/** Totals of one episode. */
export type EpisodeResult = { reward: number; steps: number; realisedPnl: number };

/**
 * Runs one episode. With `train`, the agent acts ε-greedily and learns from every transition;
 * without, it acts greedily and learns nothing (evaluation).
 */
export function runEpisode(agent: DqnAgent, env: Env, train: boolean): EpisodeResult {
  let state = env.reset();
  let reward = 0, steps = 0, realisedPnl = 0;
  for (;;) {
    const action = agent.act(state, !train);
    const r = env.step(action);
    reward += r.reward;
    realisedPnl += r.realisedPnl ?? 0;
    steps++;
    if (train) agent.observe({ state, action, reward: r.reward, nextState: r.state, done: r.terminated, realisedPnl: r.realisedPnl });
    state = r.state;
    if (r.terminated || r.truncated) return { reward, steps, realisedPnl };
  }
}

/** Returns the mean episode reward of `episodes` greedy episodes. */
export function evaluateGreedy(agent: DqnAgent, env: Env, episodes: number): { mean: number; rewards: number[] } {
  const rewards: number[] = [];
  for (let i = 0; i < episodes; i++) rewards.push(runEpisode(agent, env, false).reward);
  return { mean: rewards.reduce((a, b) => a + b, 0) / episodes, rewards };
}
