// Proof that the DQN learns: trains models/dqn on CartPole-v1 (models/envs/cartpole.ts) and checks the
// "solved" bar of issue 5, mean reward ≥ 195 over 100 consecutive greedy episodes on fresh seeds.
// Prints ONE JSON line on stdout; progress goes to stderr on a TTY. Exits 1 when not solved in budget.
// Usage: npx tsx scripts/check-dqn.ts [--seed N] [--max-episodes N] [--max-seconds S]
import { parseArgs } from 'node:util';
import { DqnAgent, dqnConfig } from '../models/dqn/agent.ts';
import { evaluateGreedy, runEpisode } from '../models/dqn/loop.ts';
import { CartPole } from '../models/envs/cartpole.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    'max-episodes': { type: 'string', default: '1000' },
    'max-seconds': { type: 'string', default: '900' },
  },
});
const seed = Number(values.seed);
const maxEpisodes = Number(values['max-episodes']);
const maxSeconds = Number(values['max-seconds']);
for (const [k, v] of Object.entries({ seed, maxEpisodes, maxSeconds })) {
  if (!Number.isFinite(v) || v < 0) { process.stderr.write(`check-dqn: --${k} must be a non-negative number\n`); process.exit(2); }
}

const SOLVED = 195;
// A candidate is kept when a quick greedy check scores this well; the final 100-episode evaluation decides.
const CANDIDATE = 475;
const tty = process.stderr.isTTY;
const t0 = performance.now();
const seconds = (): number => (performance.now() - t0) / 1000;

const agent = new DqnAgent(dqnConfig({
  stateSize: 4, actions: 2, hidden: [64, 64], lr: 1e-3, gamma: 0.99, batchSize: 64, replayCapacity: 50_000,
  learningStarts: 1000, trainEvery: 1, target: { kind: 'hard', every: 500 }, doubleDqn: true,
  epsilon: { kind: 'linear', start: 1, end: 0.02, steps: 15_000 },
  per: { alpha: 0.6, eps: 1e-3, pnlBonus: 0, beta0: 0.4, betaSteps: 60_000 }, seed,
}));
const trainEnv = new CartPole(seed * 7919 + 1);
const probeEnv = new CartPole(seed * 7919 + 2);

let best: { params: Float32Array; score: number; episode: number } | undefined;
const recent: number[] = [];
let episodes = 0;
while (episodes < maxEpisodes && seconds() < maxSeconds) {
  const r = runEpisode(agent, trainEnv, true);
  episodes++;
  recent.push(r.reward);
  if (recent.length > 20) recent.shift();
  const trainMean = recent.reduce((a, b) => a + b, 0) / recent.length;
  if (episodes % 10 === 0 && agent.updates > 0) {
    const probe = evaluateGreedy(agent, probeEnv, 10).mean;
    if (!best || probe > best.score) best = { params: agent.online.params.slice(), score: probe, episode: episodes };
    if (tty) process.stderr.write(`\repisode ${episodes} steps ${agent.steps} ε ${agent.epsilon().toFixed(3)} train-mean20 ${trainMean.toFixed(1)} greedy10 ${probe.toFixed(1)} best ${best.score.toFixed(1)}@${best.episode} ${seconds().toFixed(0)}s   `);
    if (best.score >= CANDIDATE) break;
  }
}
if (tty) process.stderr.write('\n');

// Final, honest evaluation: 100 greedy episodes on an environment seed never used above.
let mean100 = 0;
if (best) {
  agent.online.setParams(best.params);
  mean100 = evaluateGreedy(agent, new CartPole(seed * 7919 + 3), 100).mean;
}
const solved = mean100 >= SOLVED;
process.stdout.write(`${JSON.stringify({ check: 'dqn-cartpole', episodes, steps: agent.steps, solved, mean100, seconds: Number(seconds().toFixed(1)), seed })}\n`);
process.exit(solved ? 0 : 1);
