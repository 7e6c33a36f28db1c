// CNN inference benchmark: one JSON line per backend on stdout.
//  - onnxruntime-cpu: batch 1 end to end through the piscina pool (sequential requests), and samples/s
//    for 64 single-row requests issued together (microbatched into one session.run).
//  - tfjs-wasm: the same model called directly in this thread (training runtime, for comparison).
// Input size: a packed BaseDataInput row (engine/market/base-data-input.ts); BENCH_SHAPE=300x64+64 for the
// size STACK.md measured.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInferencePool } from '../engine/infer/pool.ts';
import { LatencyHistogram } from '../engine/infer/latency.ts';
import { initTfBackend } from '../models/tf-backend.ts';
import { CnnModel } from '../models/cnn/model.ts';
import { cnnConfig, cnnInputSize } from '../models/cnn/config.ts';
import { cnnConfigForBaseDataInput } from '../models/cnn/bdi.ts';
import { cnnToOnnx } from '../models/cnn/onnx-export.ts';

const m = /^(\d+)x(\d+)\+(\d+)$/.exec(process.env.BENCH_SHAPE ?? '');
const CONFIG = m ? cnnConfig({ seqLen: Number(m[1]), features: Number(m[2]), tailLen: Number(m[3]) }) : cnnConfigForBaseDataInput();
const INPUT = m ? 'custom' : 'BaseDataInput';
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const N1 = Number(process.env.BENCH_N ?? 2000);

const tf = await initTfBackend();
const model = new CnnModel(CONFIG);
const size = cnnInputSize(model.config);
const sample = (i: number): Float32Array => Float32Array.from({ length: size }, (_, k) => Math.sin(k * 0.37 + i));
const dir = await mkdtemp(path.join(tmpdir(), 'cobalt-bench-infer-'));
const file = path.join(dir, 'cnn.onnx');
await writeFile(file, cnnToOnnx(model.config, model.weights()));
const c = model.config;
const arch = { input: INPUT, seqLen: c.seqLen, features: c.features, tailLen: c.tailLen, channels: c.channels, hidden: c.hidden };

const pool = await createInferencePool({ models: { cnn: file }, threads: THREADS, timeoutMs: 10_000 });
try {
  const inputs = Array.from({ length: 64 }, (_, i) => sample(i));
  for (let i = 0; i < 200; i++) await pool.infer('cnn', inputs[i % 64], [1, size]);
  const h1 = new LatencyHistogram(N1);
  for (let i = 0; i < N1; i++) h1.record((await pool.infer('cnn', inputs[i % 64], [1, size])).ms);
  const rounds = 30;
  const before = pool.stats().models.cnn;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) await Promise.all(inputs.map((x) => pool.infer('cnn', x, [1, size])));
  const perSec = (rounds * 64) / ((performance.now() - t0) / 1000);
  const s = pool.stats();
  const burstRows = (s.models.cnn.meanBatchRows * s.models.cnn.batches - before.meanBatchRows * before.batches) / (s.models.cnn.batches - before.batches);
  console.log(JSON.stringify({
    bench: 'infer', backend: `onnxruntime-${s.executionProviders.join('+')}`, via: `piscina ${THREADS} workers, 1 intra-op thread each`, model: 'cnn', ...arch,
    batch1: { p50Ms: round(h1.percentile(50)), p99Ms: round(h1.percentile(99)), n: N1 },
    batch64PerSec: Math.round(perSec), batch64RowsPerRun: round(burstRows),
  }));
} finally {
  await pool.close();
}

// tfjs-wasm, direct: the runtime we train on.
const x1 = sample(0);
for (let i = 0; i < 20; i++) model.predict(x1);
const hw = new LatencyHistogram(300);
for (let i = 0; i < 300; i++) {
  const t = performance.now();
  model.predict(x1);
  hw.record(performance.now() - t);
}
const x64 = new Float32Array(64 * size);
for (let i = 0; i < 64; i++) x64.set(sample(i), i * size);
model.predict(x64, 64);
const tb = performance.now();
for (let i = 0; i < 5; i++) model.predict(x64, 64);
const wasmPerSec = (5 * 64) / ((performance.now() - tb) / 1000);
console.log(JSON.stringify({
  bench: 'infer', backend: `tfjs-${tf.backend}`, via: 'direct, main thread', model: 'cnn', ...arch,
  batch1: { p50Ms: round(hw.percentile(50)), p99Ms: round(hw.percentile(99)), n: 300 }, batch64PerSec: Math.round(wasmPerSec),
}));
model.dispose();
await rm(dir, { recursive: true, force: true });

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
