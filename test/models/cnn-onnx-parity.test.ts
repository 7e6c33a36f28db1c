import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTfBackend } from '../../models/tf-backend.ts';
import { loadCandlesCsv, sliceCandles, type Candles } from '../../models/data.ts';
import { CnnModel } from '../../models/cnn/model.ts';
import { cnnInputSize } from '../../models/cnn/config.ts';
import { CNN_ONNX_IO, cnnToOnnx } from '../../models/cnn/onnx-export.ts';
import { closeReturns, klineWindow } from '../../models/cnn/kline-features.ts';

// Real 1m klines (data/README.md), gap-free; cut to a common first minute so bar i of both is the same minute.
let eth: Candles;
let btc: Candles;

beforeAll(async () => {
  await initTfBackend();
  const e = loadCandlesCsv('data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz');
  const b = loadCandlesCsv('data/klines/mintanam-ftrade_BTC_USDT-1m.csv.gz');
  const start = Math.max(e.openTimeMs[0], b.openTimeMs[0]);
  eth = sliceCandles(e, e.openTimeMs.indexOf(start), e.openTimeMs.length);
  btc = sliceCandles(b, b.openTimeMs.indexOf(start), b.openTimeMs.length);
  expect(eth.openTimeMs[30_000]).toBe(btc.openTimeMs[30_000]);
});

// One sample per window end: [seqLen, features] series from both symbols, cut or tiled to `features`
// columns, then the last `tailLen` BTC close returns as the tail.
function samples(ends: number[], seqLen: number, features: number, tailLen: number): Float32Array {
  const size = seqLen * features + tailLen;
  const out = new Float32Array(ends.length * size);
  ends.forEach((end, s) => {
    const win = klineWindow([eth, btc], end, seqLen);
    const cols = win.length / seqLen;
    for (let t = 0; t < seqLen; t++) for (let f = 0; f < features; f++) out[s * size + t * features + f] = win[t * cols + (f % cols)];
    out.set(closeReturns(btc, end, tailLen), s * size + seqLen * features);
  });
  return out;
}

// Labels from the next 30 minutes of ETH: up > 0.1 % BUY, down < -0.1 % SELL, else HOLD. Only for training a few steps.
function labels(ends: number[]): number[] {
  return ends.map((e) => {
    const r = Math.log(eth.close[e + 29] / eth.close[e - 1]);
    return r > 0.001 ? 0 : r < -0.001 ? 1 : 2;
  });
}

async function parity(shape: { seqLen: number; features: number; tailLen: number; dilations?: number[] }, steps: number): Promise<number> {
  const m = new CnnModel({ ...shape, learningRate: 0.01 });
  const size = cnnInputSize(m.config);
  for (let s = 0; s < steps; s++) {
    const ends = Array.from({ length: 8 }, (_, i) => 400 + s * 997 + i * 113);
    m.trainStep(samples(ends, shape.seqLen, shape.features, shape.tailLen), labels(ends));
  }
  const ends = Array.from({ length: 16 }, (_, i) => 20_000 + i * 701);
  const x = samples(ends, shape.seqLen, shape.features, shape.tailLen);
  const tfOut = m.predict(x, ends.length);
  const session = await ort.InferenceSession.create(cnnToOnnx(m.config, m.weights(), 'test'));
  const out = await session.run({ [CNN_ONNX_IO.input]: new ort.Tensor('float32', x, [ends.length, size]) });
  const probs = out[CNN_ONNX_IO.probs].data as Float32Array;
  const hidden = out[CNN_ONNX_IO.hidden].data as Float32Array;
  expect(out[CNN_ONNX_IO.probs].dims).toEqual([16, 3]);
  expect(out[CNN_ONNX_IO.hidden].dims).toEqual([16, m.config.hidden]);
  let maxDiff = 0;
  for (let i = 0; i < probs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(probs[i] - tfOut.probs[i]));
  for (let i = 0; i < hidden.length; i++) maxDiff = Math.max(maxDiff, Math.abs(hidden[i] - tfOut.hidden[i]));
  // The trained model must not be degenerate: the hidden layer carries signal.
  expect(Math.max(...tfOut.hidden)).toBeGreaterThan(0);
  m.dispose();
  return maxDiff;
}

describe('CNN ONNX export', () => {
  it('matches tfjs within 1e-5 on 1m BTC/ETH kline windows after a few training steps', async () => {
    expect(await parity({ seqLen: 300, features: 10, tailLen: 8 }, 4)).toBeLessThan(1e-5);
  });

  it('matches tfjs within 1e-5 at the full [300, 64] + 64 input size', async () => {
    expect(await parity({ seqLen: 300, features: 64, tailLen: 64 }, 2)).toBeLessThan(1e-5);
  });

  it('matches tfjs without a tail and with a single convolution', async () => {
    expect(await parity({ seqLen: 40, features: 10, tailLen: 0, dilations: [1] }, 2)).toBeLessThan(1e-5);
  });
});
