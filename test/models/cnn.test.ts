import { seededRng } from '../../engine/runtime/rng.ts';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTfBackend } from '../../models/tf-backend.ts';
import { CnnModel, conv1dIm2col, decodeAction } from '../../models/cnn/model.ts';
import { cnnConfig, cnnConfigHash, cnnInputSize } from '../../models/cnn/config.ts';
import { CNN_FILES, loadCnn, saveCnn } from '../../models/cnn/weights-io.ts';
import { cnnConfigForBaseDataInput } from '../../models/cnn/bdi.ts';
import { BDI_LENGTH, BDI_SECTIONS, BDI_TAIL_OFFSET } from '../../engine/market/base-data-input.ts';
import { InputValidationError, ParseError } from '../../engine/types/errors.ts';

// A deterministic pseudo-random fill so failures reproduce.
function fill(n: number, seed: number): Float32Array {
  const next = seededRng(seed);
  return Float32Array.from({ length: n }, () => next() - 0.5);
}

const small = { seqLen: 16, features: 3, tailLen: 2, channels: 4, hidden: 5 } as const;
let dir: string;

beforeAll(async () => {
  const info = await initTfBackend();
  expect(info.tfBackend).not.toBe('cpu');
  dir = await mkdtemp(path.join(tmpdir(), 'cobalt-cnn-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('initTfBackend', () => {
  it('falls back past tfjs-node(-gpu) when they are not installed and never lands on cpu', async () => {
    const info = await initTfBackend();
    expect(await initTfBackend()).toBe(info);
    expect(tf.getBackend()).toBe(info.tfBackend);
    if (info.backend === 'wasm') expect(info.skipped.map((s) => s.pkg)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    else expect(info.tfBackend).toBe('tensorflow');
  });
});

describe('conv1dIm2col', () => {
  it('equals a direct loop convolution with dilation', () => {
    const [b, t, cin, cout, k, d] = [2, 11, 3, 4, 3, 2];
    const x = fill(b * t * cin, 1);
    const w = fill(k * cin * cout, 2);
    const bias = fill(cout, 3);
    const got = tf.tidy(() => conv1dIm2col(tf.tensor3d(x, [b, t, cin]), tf.tensor2d(w, [k * cin, cout]), tf.tensor1d(bias), k, d).dataSync());
    const tOut = t - (k - 1) * d;
    const want = new Float32Array(b * tOut * cout);
    for (let n = 0; n < b; n++)
      for (let o = 0; o < tOut; o++)
        for (let co = 0; co < cout; co++) {
          let s = bias[co];
          for (let i = 0; i < k; i++) for (let c = 0; c < cin; c++) s += x[(n * t + o + i * d) * cin + c] * w[(i * cin + c) * cout + co];
          want[(n * tOut + o) * cout + co] = s;
        }
    expect(got.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
  });
});

describe('CnnModel', () => {
  it('predicts a probability row per sample and a non-negative hidden vector', () => {
    const m = new CnnModel(small);
    const x = fill(3 * cnnInputSize(m.config), 4);
    const p = m.predict(x, 3);
    expect(p.probs.length).toBe(9);
    expect(p.hidden.length).toBe(15);
    for (let i = 0; i < 3; i++) expect(p.probs[i * 3] + p.probs[i * 3 + 1] + p.probs[i * 3 + 2]).toBeCloseTo(1, 5);
    expect(Math.min(...p.hidden)).toBeGreaterThanOrEqual(0);
    const d = decodeAction(p, 1);
    expect(d.confidence).toBe(Math.max(p.probs[3], p.probs[4], p.probs[5]));
    expect(d.action).toBe(['BUY', 'SELL', 'HOLD'][[p.probs[3], p.probs[4], p.probs[5]].indexOf(d.confidence)]);
    m.dispose();
  });

  it('fits a fixed batch: Adam steps on wasm drive the loss down', () => {
    const m = new CnnModel({ ...small, learningRate: 0.02 });
    const x = fill(6 * cnnInputSize(m.config), 5);
    const y = [0, 1, 2, 0, 1, 2];
    const first = m.trainStep(x, y);
    let last = first;
    for (let i = 0; i < 40; i++) last = m.trainStep(x, y);
    expect(m.trainedSteps).toBe(41);
    expect(last).toBeLessThan(first * 0.5);
    m.dispose();
  });

  it('takes a packed BaseDataInput row as its input: series block first, the rest as tail', () => {
    const cfg = cnnConfigForBaseDataInput();
    expect(cnnInputSize(cfg)).toBe(BDI_LENGTH);
    expect(cfg.seqLen * cfg.features).toBe(BDI_TAIL_OFFSET);
    expect([BDI_SECTIONS.series.offset, ...BDI_SECTIONS.series.shape]).toEqual([0, cfg.seqLen, cfg.features]);
    expect(cfg.hidden + 1).toBe(BDI_SECTIONS.cnnHidden.length);
  });

  it('rejects malformed input and labels with errors naming the problem', () => {
    const m = new CnnModel(small);
    const n = cnnInputSize(m.config);
    expect(() => m.predict(new Float32Array(n + 1))).toThrow(/expected 1 x 50 = 50 floats, got 51/);
    const bad = fill(n, 6);
    bad[7] = Number.NaN;
    expect(() => m.predict(bad)).toThrow(InputValidationError);
    expect(() => m.trainStep(fill(n, 7), [3])).toThrow(/label 3 at 0/);
    expect(() => cnnConfig({ seqLen: 12, features: 2, tailLen: 0 })).toThrow(/too short/);
    m.dispose();
  });

  it('round-trips weights through a directory and keeps the config hash', async () => {
    const m = new CnnModel({ ...small, seed: 9 });
    m.trainStep(fill(2 * cnnInputSize(m.config), 8), [1, 2]);
    const x = fill(2 * cnnInputSize(m.config), 10);
    const before = m.predict(x, 2);
    const meta = await saveCnn(m, path.join(dir, 'a'), 'v7');
    const { model, meta: read } = await loadCnn(path.join(dir, 'a'));
    const after = model.predict(x, 2);
    expect(read.version).toBe('v7');
    expect(read.trainedSteps).toBe(1);
    expect(read.tensors).toEqual(meta.tensors);
    expect(Array.from(after.probs)).toEqual(Array.from(before.probs));
    expect(Array.from(after.hidden)).toEqual(Array.from(before.hidden));
    expect(cnnConfigHash(model.config)).toBe(cnnConfigHash(m.config));
    expect(cnnConfigHash(cnnConfig({ ...small, hidden: 6 }))).not.toBe(cnnConfigHash(m.config));
    m.dispose();
    model.dispose();
  });

  it('refuses a weight file of another format version or size', async () => {
    const m = new CnnModel(small);
    await saveCnn(m, path.join(dir, 'b'), 'v1');
    const metaFile = path.join(dir, 'b', CNN_FILES.meta);
    const meta = JSON.parse(await readFile(metaFile, 'utf8'));
    await writeFile(metaFile, JSON.stringify({ ...meta, formatVersion: 99 }));
    await expect(loadCnn(path.join(dir, 'b'))).rejects.toThrow(/format version 99 is not supported/);
    await writeFile(metaFile, JSON.stringify(meta));
    await writeFile(path.join(dir, 'b', CNN_FILES.weights), new Uint8Array(12));
    await expect(loadCnn(path.join(dir, 'b'))).rejects.toThrow(ParseError);
    m.dispose();
  });
});
