// Why models/dqn/mlp.ts is hand-written: one DQN gradient step (batch 64: target forward on s', online
// forward on s' for Double DQN, online forward + Huber backward + Adam) and one acting forward (batch 1),
// in the hand-written Float32Array MLP and in tfjs on the wasm backend, same shapes. CPU time per step
// (process.cpuUsage, less sensitive to a busy shared machine than wall time) and wall time.
// Usage: npx tsx bench/dqn-mlp.ts   (prints one JSON line)
import * as tf from '@tensorflow/tfjs';
import { initTfBackend } from '../models/tf-backend.ts';
import { Adam, Mlp } from '../models/dqn/mlp.ts';
import { Rng } from '../models/dqn/rng.ts';

const B = 64, S = 4, A = 2, H = Number(process.env.H ?? 64), N = Number(process.env.N ?? 400);
const rng = new Rng(1);
const states = new Float32Array(B * S).map(() => rng.normal());
const next = new Float32Array(B * S).map(() => rng.normal());
const actions = Int32Array.from({ length: B }, () => rng.int(A));
const rewards = new Float32Array(B).fill(1);

function measure(fn: () => void, n: number): { cpuMs: number; wallMs: number } {
  for (let i = 0; i < Math.min(50, n); i++) fn();
  const c0 = process.cpuUsage(), w0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000 / n, wallMs: (performance.now() - w0) / n };
}

// Hand-written: the same sequence DqnAgent.trainStep runs.
const online = new Mlp([S, H, H, A], rng), target = new Mlp([S, H, H, A], rng), opt = new Adam(online, 1e-3);
const dOut = new Float32Array(B * A), y = new Float32Array(B);
const handStep = (): void => {
  const qt = target.forward(next, B).slice();
  const qo = online.forward(next, B);
  for (let b = 0; b < B; b++) y[b] = rewards[b] + 0.99 * qt[b * A + (qo[b * A + 1] > qo[b * A] ? 1 : 0)];
  const q = online.forward(states, B);
  dOut.fill(0);
  for (let b = 0; b < B; b++) dOut[b * A + actions[b]] = Math.max(-1, Math.min(1, q[b * A + actions[b]] - y[b])) / B;
  online.backward(dOut);
  online.clipGradNorm(10);
  opt.step();
};
const hand = measure(handStep, N);
const handAct = measure(() => { online.forward(states.subarray(0, S), 1); }, N * 20);

// tfjs-wasm: same network and step.
const info = await initTfBackend({ prefer: 'wasm' });
const mk = (): tf.Sequential => tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [S], units: H, activation: 'relu' }), tf.layers.dense({ units: H, activation: 'relu' }), tf.layers.dense({ units: A }),
] });
const tOnline = mk(), tTarget = mk();
const tOpt = tf.train.adam(1e-3);
const xs = tf.tensor2d(states, [B, S]), xn = tf.tensor2d(next, [B, S]);
const mask = tf.oneHot(tf.tensor1d(actions, 'int32'), A);
const tfStep = (): void => {
  const yv = tf.tidy(() => {
    const qt = tTarget.predict(xn) as tf.Tensor2D;
    const best = (tOnline.predict(xn) as tf.Tensor2D).argMax(1);
    return tf.add(tf.tensor1d(rewards), tf.mul(0.99, tf.sum(tf.mul(qt, tf.oneHot(best, A)), 1)));
  });
  // tfjs has no global-norm clip op; the hand version clips, so this comparison slightly favours tfjs.
  tf.tidy(() => { tOpt.minimize(() => tf.losses.huberLoss(yv, tf.sum(tf.mul(tOnline.apply(xs) as tf.Tensor2D, mask), 1)) as tf.Scalar); });
  yv.dispose();
};
const tfjs = measure(tfStep, N);
const x1 = tf.tensor2d(states.subarray(0, S), [1, S]);
const tfAct = measure(() => { const o = tOnline.predict(x1) as tf.Tensor; o.dataSync(); o.dispose(); }, N * 5);

const r = (x: number): number => Number(x.toFixed(4));
console.log(JSON.stringify({
  bench: 'dqn-mlp', net: `${S}-${H}-${H}-${A}`, batch: B, backend: info.tfBackend,
  hand: { trainStepCpuMs: r(hand.cpuMs), trainStepWallMs: r(hand.wallMs), actCpuMs: r(handAct.cpuMs) },
  tfjsWasm: { trainStepCpuMs: r(tfjs.cpuMs), trainStepWallMs: r(tfjs.wallMs), actCpuMs: r(tfAct.cpuMs) },
  trainSpeedup: r(tfjs.cpuMs / hand.cpuMs), actSpeedup: r(tfAct.cpuMs / handAct.cpuMs),
}));
