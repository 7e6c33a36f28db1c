import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInferencePool, InferenceStuckError, InferenceTimeoutError, InferenceWorkerError, type InferencePool } from '../../../engine/infer/pool.ts';
import { resolveExecutionProviders } from '../../../engine/infer/providers.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { createLogger, log, setLogger } from '../../../engine/log.ts';
import { initTfBackend } from '../../../models/tf-backend.ts';
import { CnnModel } from '../../../models/cnn/model.ts';
import { cnnInputSize } from '../../../models/cnn/config.ts';
import { CNN_ONNX_IO, cnnToOnnx } from '../../../models/cnn/onnx-export.ts';
import { loadCandlesCsv } from '../../../models/data.ts';
import { klineWindow } from '../../../models/cnn/kline-features.ts';

// A small CNN over real ETH 1m kline windows (5 features per bar), exported to ONNX once for every test.
const shape = { seqLen: 60, features: 5, tailLen: 3, channels: 8, hidden: 6 };
let dir: string;
let onnxFile: string;
let direct: ort.InferenceSession;
let size: number;
let samples: Float32Array[];

beforeAll(async () => {
  await initTfBackend();
  const m = new CnnModel(shape);
  size = cnnInputSize(m.config);
  dir = await mkdtemp(path.join(tmpdir(), 'cobalt-pool-'));
  onnxFile = path.join(dir, 'cnn.onnx');
  const bytes = cnnToOnnx(m.config, m.weights());
  await writeFile(onnxFile, bytes);
  m.dispose();
  direct = await ort.InferenceSession.create(bytes);
  const eth = loadCandlesCsv('data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz');
  samples = Array.from({ length: 10 }, (_, i) => {
    const x = new Float32Array(size);
    x.set(klineWindow([eth], 1000 + i * 977, shape.seqLen));
    x.set([eth.close[999 + i * 977] / 3000, i / 10, -1], shape.seqLen * shape.features);
    return x;
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function directRun(x: Float32Array): Promise<{ probs: Float32Array; hidden: Float32Array }> {
  const out = await direct.run({ [CNN_ONNX_IO.input]: new ort.Tensor('float32', x, [1, size]) });
  return { probs: out.probs.data as Float32Array, hidden: out.hidden.data as Float32Array };
}

function expectClose(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-6);
}

async function withPool(opts: Partial<Parameters<typeof createInferencePool>[0]>, fn: (p: InferencePool) => Promise<void>): Promise<void> {
  const pool = await createInferencePool({ models: { cnn: onnxFile }, threads: 1, timeoutMs: 60_000, ...opts });
  try {
    await fn(pool);
  } finally {
    await pool.close();
  }
}

describe('inference pool', () => {
  it('returns what an in-process session returns, and leaves the caller’s input intact', async () => {
    await withPool({ threads: 2 }, async (pool) => {
      const x = samples[0];
      const r = await pool.infer('cnn', x, [1, size]);
      const want = await directRun(x);
      expectClose(r.outputs.probs, want.probs);
      expectClose(r.outputs.hidden, want.hidden);
      expect(r.dims).toEqual({ probs: [1, 3], hidden: [1, shape.hidden] });
      expect(x.length).toBe(size);
      expect(pool.stats().executionProviders).toEqual(['cpu']);
    });
  });

  it('starts its workers without the parent\'s module-hook flags (the test runner preloads a module; tsx would register again)', async () => {
    expect(process.execArgv.some((a) => a === '--require' || a.startsWith('--require=') || a === '--import' || a.startsWith('--import='))).toBe(true);
    const lines: Record<string, unknown>[] = [];
    const before = log();
    setLogger(createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } }));
    try {
      await withPool({ threads: 1 }, async () => {});
    } finally {
      setLogger(before);
    }
    const started = lines.find((l) => l.msg === 'inference pool started');
    expect(started?.workerExecArgv).toEqual([]);
  });

  it('groups requests made in the same tick into one session.run and splits the outputs back', async () => {
    await withPool({ threads: 1 }, async (pool) => {
      const results = await Promise.all(samples.slice(0, 8).map((x) => pool.infer('cnn', x, [1, size])));
      for (const [i, r] of results.entries()) expectClose(r.outputs.probs, (await directRun(samples[i])).probs);
      const s = pool.stats().models.cnn;
      expect([s.requests, s.batches, s.maxBatchRows, s.count]).toEqual([8, 1, 8, 8]);
      expect(s.p99Ms).toBeGreaterThan(0);
    });
  });

  it('with no batch window, dispatches a request in a microtask, before the event loop turns', async () => {
    // With setImmediate the request would wait behind everything else queued on the main thread (a backtest tick's
    // other model outputs and their history writes); a microtask still batches a synchronous burst (test above).
    await withPool({ threads: 1 }, async (pool) => {
      const r = pool.infer('cnn', samples[3], [1, size]);
      r.catch(() => undefined); // a failed expectation closes the pool, which rejects r: not an unhandled rejection
      expect(pool.stats().queued).toBe(1);
      await Promise.resolve();
      expect([pool.stats().queued, pool.stats().inFlightBatches]).toEqual([0, 1]);
      expectClose((await r).outputs.probs, (await directRun(samples[3])).probs);
    });
  });

  it('holds requests for batchWindowMs so ones from later ticks join the batch', async () => {
    const clock = new SimulatedClock(0);
    await withPool({ clock, batchWindowMs: 5 }, async (pool) => {
      const a = pool.infer('cnn', samples[4], [1, size]);
      await new Promise((r) => setImmediate(r));
      const b = pool.infer('cnn', samples[5], [1, size]);
      await new Promise((r) => setImmediate(r));
      expect(pool.stats().queued).toBe(2);
      clock.advance(5);
      const [ra, rb] = await Promise.all([a, b]);
      expectClose(ra.outputs.probs, (await directRun(samples[4])).probs);
      expectClose(rb.outputs.probs, (await directRun(samples[5])).probs);
      expect(pool.stats().models.cnn.batches).toBe(1);
    });
  });

  it('spreads a burst over the idle workers', async () => {
    await withPool({ threads: 2 }, async (pool) => {
      const results = await Promise.all(samples.slice(0, 8).map((x) => pool.infer('cnn', x, [1, size])));
      expectClose(results[7].outputs.hidden, (await directRun(samples[7])).hidden);
      const s = pool.stats().models.cnn;
      expect([s.batches, s.maxBatchRows]).toEqual([2, 4]);
    });
  });

  it('caps a batch at maxBatch rows and keeps multi-row requests whole', async () => {
    await withPool({ maxBatch: 4 }, async (pool) => {
      const two = new Float32Array(2 * size);
      two.set(samples[1]);
      two.set(samples[2], size);
      const [a, b, c] = await Promise.all([pool.infer('cnn', two, [2, size]), pool.infer('cnn', samples[3], [1, size]), pool.infer('cnn', two, [2, size])]);
      expectClose(a.outputs.probs.subarray(3), (await directRun(samples[2])).probs);
      expectClose(b.outputs.probs, (await directRun(samples[3])).probs);
      expect(c.dims.probs).toEqual([2, 3]);
      expect(pool.stats().models.cnn.batches).toBe(2);
    });
  });

  // Realism review, finding 3: a timed-out batch was aborted, which terminated its worker, inside session.run as often
  // as not: SIGABRT ('terminate called after throwing an instance of Napi::Error'). Now only the request fails.
  it('rejects a request at its deadline and lets its batch run on; a hung worker goes only at the stuck guard', async () => {
    const clock = new SimulatedClock(0);
    await withPool({ clock, timeoutMs: 250, stuckMs: 1_500, testHooks: true }, async (pool) => {
      pool.injectFault('hang');
      const hung = pool.infer('cnn', samples[0], [1, size]);
      await new Promise((r) => setImmediate(r)); // let the batch reach the worker
      clock.advance(250);
      await expect(hung).rejects.toThrow(InferenceTimeoutError);
      await expect(hung).rejects.toThrow(/inference of cnn timed out after 250 ms \(attempt 1\)/);
      await new Promise((r) => setImmediate(r));
      const atDeadline = pool.stats().inFlightBatches;
      // Queued behind the hung worker until the stuck guard (1.5 s of wall time) replaces it: the pool answers again.
      const ok = await pool.infer('cnn', samples[1], [1, size]);
      expectClose(ok.outputs.probs, (await directRun(samples[1])).probs);
      const s = pool.stats();
      expect(atDeadline).toBe(1);
      expect([s.models.cnn.timeouts, s.models.cnn.stuck, s.workerDeaths, s.retiredWorkers]).toEqual([1, 0, 0, 0]);
    });
  });

  // CI of dc2d7aa (loaded): the request queued behind a hung worker was failed as stuck while piscina's replacement
  // worker still loaded its sessions; a batch no worker has begun while one loads is waiting, not hung.
  it('lets a request wait for the worker loading in place of a hung one, past stuckMs', async () => {
    const clock = new SimulatedClock(0);
    await withPool({ clock, stuckMs: 300, testHooks: true, testLoadMs: 1_200 }, async (pool) => {
      pool.injectFault('hang');
      const hung = pool.infer('cnn', samples[0], [1, size]);
      hung.catch(() => undefined);
      await new Promise((r) => setImmediate(r)); // its own batch, on the only worker
      // Queued until the stuck guard replaces that worker, then waits for the new one's 1.2 s load.
      const ok = await pool.infer('cnn', samples[1], [1, size]);
      expectClose(ok.outputs.probs, (await directRun(samples[1])).probs);
      await expect(hung).rejects.toThrow(InferenceStuckError);
      expect(pool.stats().models.cnn.stuck).toBe(1);
    });
  });

  it('drops the late answer of a batch whose requests timed out, and serves the next request from the same worker', async () => {
    const clock = new SimulatedClock(0);
    await withPool({ clock, timeoutMs: 100, testHooks: true }, async (pool) => {
      pool.injectFault('slow');
      const late = pool.infer('cnn', samples[2], [1, size]);
      late.catch(() => undefined);
      await new Promise((r) => setImmediate(r));
      clock.advance(100);
      await expect(late).rejects.toThrow(InferenceTimeoutError);
      await new Promise((r) => setImmediate(r));
      const atDeadline = pool.stats().inFlightBatches;
      const next = await pool.infer('cnn', samples[3], [1, size]);
      expectClose(next.outputs.probs, (await directRun(samples[3])).probs);
      const s = pool.stats();
      expect(atDeadline).toBe(1);
      expect([s.models.cnn.timeouts, s.models.cnn.batches, s.models.cnn.count, s.poolErrors, s.workerDeaths]).toEqual([1, 2, 1, 0, 0]);
    });
  });

  // Realism review, finding 1: the deadline of a backtest's pool ran on the wall clock, so a slow answer (a GC pause, a
  // busy host) became a timeout and changed the decision.
  it('without a deadline (timeoutMs Infinity), waits for a slow answer however far the clock moves', async () => {
    const clock = new SimulatedClock(0);
    await withPool({ clock, timeoutMs: Number.POSITIVE_INFINITY, testHooks: true }, async (pool) => {
      pool.injectFault('slow');
      const slow = pool.infer('cnn', samples[4], [1, size]);
      await new Promise((r) => setImmediate(r));
      clock.advance(3_600_000);
      expectClose((await slow).outputs.probs, (await directRun(samples[4])).probs);
      expect(pool.stats().models.cnn.timeouts).toBe(0);
    });
  });

  it('takes a per-request deadline over the pool\'s: Infinity waits (a backtest through a caller\'s pool)', async () => {
    const clock = new SimulatedClock(0);
    await withPool({ clock, timeoutMs: 100, testHooks: true }, async (pool) => {
      pool.injectFault('slow');
      const slow = pool.infer('cnn', samples[7], [1, size], { timeoutMs: Number.POSITIVE_INFINITY });
      await new Promise((r) => setImmediate(r));
      clock.advance(3_600_000);
      expectClose((await slow).outputs.probs, (await directRun(samples[7])).probs);
      await expect(pool.infer('cnn', samples[7], [1, size], { timeoutMs: 0 })).rejects.toThrow(/inference of cnn: timeoutMs must be >= 1 \(or Infinity: no deadline\), got 0/);
      expect(pool.stats().models.cnn.timeouts).toBe(0);
    });
  });

  it('fails a request whose worker hangs past stuckMs with an error naming the model, and replaces the worker', async () => {
    await withPool({ timeoutMs: Number.POSITIVE_INFINITY, stuckMs: 1_500, testHooks: true }, async (pool) => {
      pool.injectFault('hang');
      const hung = pool.infer('cnn', samples[0], [1, size]);
      await expect(hung).rejects.toThrow(InferenceStuckError);
      await expect(hung).rejects.toThrow(/inference of cnn: no answer from its worker after [\d.]+ s of wall time \(stuckMs 1500\)/);
      const ok = await pool.infer('cnn', samples[1], [1, size]);
      expectClose(ok.outputs.probs, (await directRun(samples[1])).probs);
      const stuck = pool.stuck();
      expect([stuck.requests, stuck.last?.code, pool.stats().models.cnn.stuck, pool.stats().retiredWorkers]).toEqual([1, 'INFER_STUCK', 1, 0]);
    });
  });

  it('retires, never terminates, a worker still inside session.run at the stuck guard, and uses it again once it is out', async () => {
    // stuckMs below the slow run's 1.5 s, and long enough for the next answer on a loaded host (the guard is wall time).
    await withPool({ timeoutMs: Number.POSITIVE_INFINITY, stuckMs: 750, testHooks: true }, async (pool) => {
      pool.injectFault('slow');
      await expect(pool.infer('cnn', samples[5], [1, size])).rejects.toThrow(InferenceStuckError);
      const retired = pool.stats();
      // The single worker finishes its slow run (its answer dropped) and serves this one. Asked only once it is out: a
      // request queued behind it for stuckMs would fail (pool-retired-queue.test.ts), and that run ends about then.
      while (pool.stats().inFlightBatches > 0) await new Promise((r) => setTimeout(r, 10));
      const ok = await pool.infer('cnn', samples[6], [1, size]);
      expectClose(ok.outputs.probs, (await directRun(samples[6])).probs);
      expect([retired.retiredWorkers, retired.inFlightBatches]).toEqual([1, 1]);
      expect([pool.stats().workerDeaths, pool.stats().poolErrors, pool.stats().models.cnn.count]).toEqual([0, 0, 1]);
    });
  });

  it('refuses a deadline or stuck bound that is not a positive number, naming it', async () => {
    await expect(createInferencePool({ models: { cnn: onnxFile }, timeoutMs: Number.NaN })).rejects.toThrow(/timeoutMs must be >= 1 \(or Infinity: no deadline\), got NaN/);
    await expect(createInferencePool({ models: { cnn: onnxFile }, timeoutMs: Number.POSITIVE_INFINITY, stuckMs: 0 })).rejects.toThrow(/stuckMs must be >= 1, got 0/);
  });

  it('replaces a worker that dies and retries its requests once', async () => {
    await withPool({ testHooks: true }, async (pool) => {
      pool.injectFault('exit');
      const results = await Promise.all(samples.slice(0, 3).map((x) => pool.infer('cnn', x, [1, size])));
      for (const [i, r] of results.entries()) expectClose(r.outputs.probs, (await directRun(samples[i])).probs);
      const s = pool.stats();
      expect([s.workerDeaths, s.retries, s.models.cnn.batches]).toEqual([1, 3, 2]);
    });
  });

  it('gives up after a second death with an error naming it', async () => {
    await withPool({ testHooks: true }, async (pool) => {
      pool.injectFault('exit', 2);
      await expect(pool.infer('cnn', samples[0], [1, size])).rejects.toThrow(InferenceWorkerError);
      expect(pool.stats().workerDeaths).toBe(2);
      const ok = await pool.infer('cnn', samples[0], [1, size]);
      expect(ok.outputs.probs.length).toBe(3);
    });
  });

  it('rejects bad requests before they reach a worker', async () => {
    await withPool({}, async (pool) => {
      await expect(pool.infer('lstm', samples[0], [1, size])).rejects.toThrow(/unknown model 'lstm'/);
      await expect(pool.infer('cnn', samples[0], [2, size])).rejects.toThrow(/dims \[2,303\] hold 606 floats, input has 303/);
      await expect(pool.infer('cnn', new Float32Array(4), [1, 4])).rejects.toThrow(/model cnn run failed/);
      expect(() => pool.injectFault('exit')).toThrow(/testHooks/);
    });
  });

  it('refuses to start on a missing model file or an unknown provider', async () => {
    await expect(createInferencePool({ models: { cnn: path.join(dir, 'nope.onnx') } })).rejects.toThrow(/does not exist/);
    expect(() => resolveExecutionProviders(undefined, { COBALT_ORT_PROVIDER: 'cuda,tpu' })).toThrow(/unknown ONNX Runtime execution provider 'tpu'/);
    expect(resolveExecutionProviders(undefined, { COBALT_ORT_PROVIDER: 'cuda' })).toEqual(['cuda']);
    expect(resolveExecutionProviders(['webgpu'], { COBALT_ORT_PROVIDER: 'cuda' })).toEqual(['webgpu']);
    expect(resolveExecutionProviders(undefined, {})).toEqual(['cpu']);
  });
});
