import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointStore, inputSymbolMismatch, SELECTION_METRICS, type CheckpointMetric } from '../../models/checkpoints.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { initTfBackend } from '../../models/tf-backend.ts';
import { CnnModel } from '../../models/cnn/model.ts';
import { cnnConfigHash, cnnInputSize } from '../../models/cnn/config.ts';
import { loadCnn, saveCnn } from '../../models/cnn/weights-io.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cobalt-ckpt-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const span = { fromMs: 1722003300000, toMs: 1724595780000 };
const metric = (value: number, higherIsBetter = true): CheckpointMetric => ({ name: 'valAccuracy', value, higherIsBetter });
const save = (store: CheckpointStore, value: number, higherIsBetter = true, model = 'cnn') =>
  store.save({ model, metric: metric(value, higherIsBetter), dataSpan: span, configHash: 'abc', backend: 'wasm', write: (dir) => writeFile(path.join(dir, 'weights.bin'), String(value)) });

describe('CheckpointStore', () => {
  it('keeps the best K by a higher-is-better metric and deletes the rest from disk', async () => {
    const clock = new SimulatedClock(1_000);
    const store = new CheckpointStore({ root, keep: 3, clock });
    const results = [];
    for (const v of [0.5, 0.7, 0.6, 0.9, 0.4]) {
      results.push(await save(store, v));
      clock.advance(60_000);
    }
    const ranked = await store.list('cnn');
    expect(ranked.map((c) => c.meta.metric.value)).toEqual([0.9, 0.7, 0.6]);
    expect(ranked.map((c) => c.meta.version)).toEqual(['v000004', 'v000002', 'v000003']);
    expect((await readdir(path.join(root, 'cnn'))).sort()).toEqual(['v000002', 'v000003', 'v000004']);
    expect(results.map((r) => r.kept)).toEqual([true, true, true, true, false]);
    expect(existsSync(results[0].dir)).toBe(false);
    const best = await store.best('cnn');
    expect(best?.meta).toEqual({ model: 'cnn', version: 'v000004', metric: metric(0.9), dataSpan: span, configHash: 'abc', backend: 'wasm', createdAt: 181_000 });
  });

  it('ranks a lower-is-better metric ascending and keeps models apart', async () => {
    const store = new CheckpointStore({ root, keep: 2, clock: new SimulatedClock() });
    for (const v of [0.3, 0.1, 0.2]) await save(store, v, false);
    await save(store, 5, true, 'dqn');
    expect((await store.list('cnn')).map((c) => c.meta.metric.value)).toEqual([0.1, 0.2]);
    expect((await store.best('dqn'))?.meta.metric.value).toBe(5);
    expect(await store.best('lstm')).toBeUndefined();
  });

  it('never numbers a new checkpoint below a deleted one', async () => {
    const store = new CheckpointStore({ root, keep: 1, clock: new SimulatedClock() });
    await save(store, 0.9);
    await save(store, 0.1);
    expect((await save(store, 0.95)).meta.version).toBe('v000002');
  });

  it('refuses a metric whose direction differs from the model’s checkpoints of the same name, or a non-finite value', async () => {
    const store = new CheckpointStore({ root, keep: 2, clock: new SimulatedClock() });
    await save(store, 0.5);
    await expect(save(store, 0.4, false)).rejects.toThrow(/ranks by valAccuracy \(lower is better\) but v000001 ranks by valAccuracy \(higher is better\)/);
    await expect(save(store, Number.NaN)).rejects.toThrow(/not a finite number/);
    await expect(store.save({ model: '../x', metric: metric(1), dataSpan: span, configHash: 'a', backend: 'wasm', write: async () => {} })).rejects.toThrow(/model name/);
  });

  // Review finding 1: trainers moved from test-span metrics (oosLogLoss, heldOutPnl) to validation ones.
  it('never compares checkpoints ranked by different metrics: the asked one ranks first, the others follow newest first', async () => {
    const store = new CheckpointStore({ root, keep: 5, clock: new SimulatedClock() });
    const saveBy = (name: string, value: number) => store.save({ model: 'cnn', metric: { name, value, higherIsBetter: false }, dataSpan: span, configHash: 'abc', backend: 'wasm', write: async () => {} });
    await saveBy('oosLogLoss', 0.1);
    await saveBy('oosLogLoss', 0.9);
    // Only checkpoints ranked by their test figure: the newest loads, not the best test figure.
    expect((await store.best('cnn', SELECTION_METRICS.cnn))?.meta.version).toBe('v000002');
    await saveBy('valLogLoss', 0.8);
    await saveBy('valLogLoss', 0.7);
    expect((await store.list('cnn', SELECTION_METRICS.cnn)).map((c) => c.meta.version)).toEqual(['v000004', 'v000003', 'v000002', 'v000001']);
    // Without a metric named: the newest checkpoint's.
    expect((await store.best('cnn'))?.meta.version).toBe('v000004');
    expect((await store.list('cnn', { name: 'oosLogLoss', higherIsBetter: false })).map((c) => c.meta.version)).toEqual(['v000001', 'v000002', 'v000004', 'v000003']);
  });

  it('prunes only checkpoints ranked by the saved metric', async () => {
    const store = new CheckpointStore({ root, keep: 1, clock: new SimulatedClock() });
    await store.save({ model: 'dqn', metric: { name: 'heldOutPnl', value: 0.5, higherIsBetter: true }, dataSpan: span, configHash: 'abc', backend: 'js-mlp', write: async () => {} });
    for (const v of [0.1, 0.3, 0.2]) await store.save({ model: 'dqn', metric: { ...SELECTION_METRICS.dqn, value: v }, dataSpan: span, configHash: 'abc', backend: 'js-mlp', write: async () => {} });
    expect((await readdir(path.join(root, 'dqn'))).sort()).toEqual(['v000001', 'v000003']);
    expect((await store.best('dqn', SELECTION_METRICS.dqn))?.meta.metric).toEqual({ name: 'valPnl', value: 0.3, higherIsBetter: true });
  });

  it('removes an interrupted save (no checkpoint.json) at the next save', async () => {
    const store = new CheckpointStore({ root, keep: 5, clock: new SimulatedClock() });
    await mkdir(path.join(root, 'cnn', 'v000009'), { recursive: true });
    const r = await save(store, 0.5);
    expect(r.meta.version).toBe('v000010');
    expect(await readdir(path.join(root, 'cnn'))).toEqual(['v000010']);
  });

  it('stores a CNN whose best checkpoint loads back with identical predictions', async () => {
    const info = await initTfBackend();
    const store = new CheckpointStore({ root, keep: 5, clock: new SimulatedClock() });
    const shape = { seqLen: 12, features: 2, tailLen: 1, channels: 3, hidden: 4, dilations: [1] };
    const models = [new CnnModel({ ...shape, seed: 1 }), new CnnModel({ ...shape, seed: 2 })];
    for (const [i, m] of models.entries()) {
      await store.save({ model: 'cnn', metric: metric(i), dataSpan: span, configHash: cnnConfigHash(m.config), backend: info.backend, write: (dir) => saveCnn(m, dir, `seed${i}`).then(() => undefined) });
    }
    const best = await store.best('cnn');
    const { model, meta } = await loadCnn(best!.dir);
    const x = Float32Array.from({ length: cnnInputSize(model.config) }, (_, i) => Math.sin(i));
    expect(meta.version).toBe('seed1');
    expect(Array.from(model.predict(x).probs)).toEqual(Array.from(models[1].predict(x).probs));
    for (const m of [...models, model]) m.dispose();
  });
});

// Review: a checkpoint did not record the symbol it was trained on (45745c5); the loader now judges `input.symbol`.
describe('inputSymbolMismatch', () => {
  const run = { primary: 'SOL/USDT', reference: 'BTC/USDT' };
  it.each([
    ['the traded symbol', { kind: 'k', size: 1, symbol: 'SOL/USDT' }, undefined],
    ['the traded symbol and the run\'s reference', { kind: 'k', size: 1, symbol: 'SOL/USDT', reference: 'BTC/USDT' }, undefined],
    ['no symbol (written before it was recorded)', { kind: 'k', size: 1 }, undefined],
    ['no input at all', undefined, undefined],
    ['another symbol', { kind: 'k', size: 1, symbol: 'ETH/USDT' }, 'trained on ETH/USDT, this run trades SOL/USDT (symbols.primary)'],
    ['another reference', { kind: 'k', size: 1, symbol: 'SOL/USDT', reference: 'ETH/USDT' }, 'trained with ETH/USDT as reference symbol, this run\'s reference is BTC/USDT (symbols.reference)'],
    ['a symbol that is not a string', { kind: 'k', size: 1, symbol: 42 }, 'its input.symbol is 42, not a symbol name'],
    ['a null reference', { kind: 'k', size: 1, reference: null }, 'its input.reference is null, not a symbol name'],
  ])('%s', (_case, input, why) => {
    expect(inputSymbolMismatch(input, run)).toBe(why);
  });
});
