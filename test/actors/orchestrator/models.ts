// Real tiny in-process models for the orchestrator tests (no mocks): a "CNN" that summarises the packed input into
// probabilities and a 32-value hidden vector, and a linear Q-function for the RL runner. Each can be gated so a
// test decides when a run finishes.
import { ACTIONS, type ModelOutput } from '../../../engine/messages/signals.ts';
import { bdiSection, bdiSeriesFeature, CNN_HIDDEN_SIZE } from '../../../engine/market/base-data-input.ts';
import type { ModelRunner } from '../../../actors/orchestrator/registry.ts';
import { softmax, type QFunction } from '../../../actors/model-agents/rl-agent.ts';

/** A promise with its resolver exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Events in the order they happened. */
export type Trace = string[];

/**
 * A small feature model: hidden[k] = tanh(10 · mean of primary 1s close over 300 frames · (k + 1) / 32), probabilities
 * = softmax of [last 1m return, −last 1m return, 0] × 1000. Calls `gate()` (if given) before answering.
 */
export function featureCnn(trace?: Trace, gate?: () => Promise<void>, inputs?: Float32Array[]): ModelRunner {
  return async (x, ctx): Promise<ModelOutput> => {
    trace?.push(`${ctx.model}:start`);
    inputs?.push(x);
    if (gate) await gate();
    const c1s = bdiSeriesFeature(x, 'primary1s', 'close');
    const mean = c1s.reduce((a, b) => a + b, 0) / c1s.length;
    const hidden = Float32Array.from({ length: CNN_HIDDEN_SIZE }, (_, k) => Math.tanh(10 * mean * (k + 1) / CNN_HIDDEN_SIZE) + k / 100);
    const c1m = bdiSeriesFeature(x, 'primary1m', 'close');
    const r = -c1m[298]!; // newest close is 0; the one before is c/ref − 1
    const p = softmax([r * 1000, -r * 1000, 0]) as [number, number, number];
    let best = 0;
    for (let k = 1; k < 3; k++) if (p[k]! > p[best]!) best = k;
    trace?.push(`${ctx.model}:end`);
    return { model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: ACTIONS[best]!, probabilities: p, confidence: p[best]!, hidden };
  };
}

/** A linear Q-function q_a = Σ_i w_a,i · s_i with fixed, distinct weights; records the states it saw. */
export function linearQ(stateSize: number, states?: Float32Array[]): QFunction & { stateSize: number } {
  const w = ACTIONS.map((_, a) => Float32Array.from({ length: stateSize }, (_, i) => Math.sin((a + 1) * (i + 1))));
  return {
    stateSize,
    qValues(s) {
      states?.push(s);
      return w.map((row) => row.reduce((acc, v, i) => acc + v * s[i]!, 0));
    },
  };
}

/** The CNN hidden slot of a packed input: [present, 32 values]. */
export const hiddenSlot = (x: Float32Array): number[] => Array.from(bdiSection(x, 'cnnHidden'));
