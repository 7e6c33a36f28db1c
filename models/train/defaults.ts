// The defaults of `cobalt train cnn|dqn`, apart from the trainers: the CLI shows them in its help without loading
// TensorFlow.js and the training code (~1.5 s of CPU at every start of `cobalt`).
import type { PositionMode } from '../envs/trading-env.ts';

/** CNN: defaults sized to finish in minutes on two shared cores. */
export const CNN_TRAIN_DEFAULTS = {
  window: 60, stride: 5, volWindow: 60, horizon: 30, ptMult: 2, slMult: 2, folds: 3, testFraction: 0.3,
  epochs: 1, maxSteps: 200, batch: 64, learningRate: 1e-3, channels: 16, hidden: 32, seed: 1, modelName: 'cnn',
} as const;

/** DQN on klines: defaults sized to finish in a few minutes on two shared cores. */
export const DQN_TRAIN_DEFAULTS = {
  window: 30, volWindow: 60, feeRate: 0.001, mode: 'long-flat' as PositionMode, episodeLength: 1440, episodes: 40, maxSteps: 60_000,
  testFraction: 0.2, valFraction: 0.1, evalEvery: 5, hidden: [64, 64], rewardScale: 100, seed: 1, modelName: 'dqn',
} as const;

/** Defaults: the newest 10 % of decisions are the test span (after the bundled CNN's training data on data/klines). */
export const DQN_BDI_DEFAULTS = {
  everyMinutes: 5, cnn: 'bundled', closesScale: 100, feeRate: 0.001, episodeLength: 288, episodes: 400, maxSteps: 60_000,
  testFraction: 0.1, valFraction: 0.15, evalEvery: 5, hidden: [64, 64], rewardScale: 100, seed: 1, modelName: 'dqn',
} as const;
