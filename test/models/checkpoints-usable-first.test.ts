// Review finding (training F1): research runs (`train cnn --input klines`, `train dqn --state env`) and runs on another
// symbol save under the same model name and metric as the engine's own checkpoints; ranked and pruned together, a few
// of them with better figures deleted every checkpoint the engine can load. The store now keeps `keep` per input.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { CheckpointStore, SELECTION_METRICS, type CheckpointInput } from '../../models/checkpoints.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cobalt-ckpt-usable-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const bdi: CheckpointInput = { kind: 'bdi-klines-v1', size: 5450, symbol: 'ETH/USDT' };
const klines: CheckpointInput = { kind: 'klines-v1', size: 600, symbol: 'ETH/USDT' };
const sol: CheckpointInput = { kind: 'bdi-klines-v1', size: 5450, symbol: 'SOL/USDT' };

function saver(keep: number) {
  const store = new CheckpointStore({ root, keep, clock: new SimulatedClock() });
  // `value` below reads as a log loss (lower is better); stored as the skill the CNN is ranked by (higher is better).
  const save = (value: number, input?: CheckpointInput) => store.save({
    model: 'cnn', metric: { ...SELECTION_METRICS.cnn, value: 1 - value }, dataSpan: { fromMs: 0, toMs: 1 }, configHash: 'x', backend: 'wasm',
    ...(input ? { input } : {}), write: (dir) => writeFile(path.join(dir, 'cnn.onnx'), String(value)),
  });
  return { store, save };
}
const onDisk = async (): Promise<string[]> => (await readdir(path.join(root, 'cnn'))).sort();

describe('CheckpointStore keeps `keep` checkpoints per input kind and symbol', () => {
  it('never prunes the engine\'s checkpoints for research runs with better figures', async () => {
    const { save } = saver(2);
    await save(1.0, bdi);
    await save(1.1, bdi);
    for (const v of [0.5, 0.4, 0.3, 0.2, 0.1]) await save(v, klines);
    // Two bdi (v1, v2) and the best two klines (v6, v7).
    expect(await onDisk()).toEqual(['v000001', 'v000002', 'v000006', 'v000007']);
  });

  it('keeps another symbol\'s checkpoints and those without a recorded input apart too', async () => {
    const { save } = saver(1);
    await save(1.0, bdi);
    const lost = await save(0.5, sol);
    await save(0.4, undefined);
    const worse = await save(0.9, sol);
    expect(lost.kept).toBe(true);
    expect(worse.kept).toBe(false); // ranked within its own group only: v000002 (0.5) beats it
    expect(await onDisk()).toEqual(['v000001', 'v000002', 'v000003']);
  });

  it('still prunes within one group by the metric, best first', async () => {
    const { store, save } = saver(2);
    for (const v of [0.9, 0.8, 0.7]) await save(v, bdi);
    expect(await onDisk()).toEqual(['v000002', 'v000003']);
    expect((await store.list('cnn', SELECTION_METRICS.cnn)).map((c) => c.meta.version)).toEqual(['v000003', 'v000002']);
  });
});
