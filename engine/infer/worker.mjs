// The inference pool's worker (piscina loads it through worker-entry.cjs, which says why), plain JS so it loads in a
// worker thread without tsx.
// Top-level code runs once per thread: each ONNX session is created here, one intra-op thread each,
// so N workers use N cores without oversubscribing them.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

// loadedKey: the key of the message this worker posts once its sessions are loaded (or failed to); see below.
// testLoadMs (tests, with testHooks): how long to keep creating the sessions anew before keeping the last ones.
const { models, executionProviders, testHooks, loadedKey, testLoadMs } = workerData;

async function createSessions() {
  const entries = await Promise.all(
    Object.entries(models).map(async ([name, file]) => {
      try {
        const s = await ort.InferenceSession.create(file, {
          executionProviders,
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
        });
        return [name, s];
      } catch (err) {
        throw new Error(`model ${name} (${file}) failed to load on [${executionProviders.join(', ')}]: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
  );
  return Object.fromEntries(entries);
}

let sessions = {};
let loadError;
try {
  sessions = await createSessions();
  // A slow load for tests: most of this time is spent inside ONNX Runtime's session creation, where a thread torn
  // down aborts the process.
  const until = performance.now() + (testHooks && testLoadMs > 0 ? testLoadMs : 0);
  while (performance.now() < until) {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
    sessions = await createSessions();
  }
} catch (err) {
  loadError = err instanceof Error ? err.message : String(err);
}
// Tells the pool this thread is done loading (piscina passes other messages on as its 'message' event): terminating
// a worker while ONNX Runtime loads a session aborts the whole process (onnxruntime-node throws a C++ exception it
// cannot turn into a JS one in a terminating thread), so the pool closes only loaded workers.
parentPort?.postMessage({ [loadedKey]: threadId });

/**
 * How much longer a run takes under the test fault 'slow': well beyond the stuck bounds the pool tests set, which in
 * turn leave a normal answer (a worker's start and a run on a loaded 2-core host) a second and more.
 */
const SLOW_RUN_MS = 1_500;

function toFloat32(data) {
  if (data instanceof Float32Array) return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
  return Float32Array.from(data, Number);
}

/** Handles one task: `info` (what loaded), or `run` (one batched session.run). Errors come back as values, so a rejection always means the worker died. */
export default async function handle(task) {
  if (loadError) return { error: loadError };
  if (task.kind === 'info') {
    return {
      threadId,
      execArgv: process.execArgv,
      executionProviders,
      models: Object.fromEntries(Object.entries(sessions).map(([n, s]) => [n, { inputNames: s.inputNames, outputNames: s.outputNames }])),
    };
  }
  if (task.fault) {
    if (!testHooks) return { error: 'fault injection is only available when the pool was created with testHooks' };
    if (task.fault === 'exit') process.exit(70);
    if (task.fault === 'hang') return new Promise(() => {});
  }
  const session = sessions[task.model];
  if (!session) return { error: `no model '${task.model}' in this worker (loaded: ${Object.keys(sessions).join(', ')})` };
  // task.state (shared with the pool, engine/infer/pool.ts): 0 sent, 1 inside session.run, 2 run over, 3 cancelled.
  // Terminating this thread inside session.run aborts the whole process (the Napi::Error above), so the pool
  // terminates a hung worker only outside it; entering run moves 0 -> 1 atomically, and a batch the pool cancelled
  // first (3) never runs.
  if (Atomics.compareExchange(task.state, 0, 0, 1) !== 0) return { error: `model ${task.model}: batch cancelled by the pool before it ran` };
  try {
    const t0 = performance.now();
    let out;
    try {
      // Test fault 'slow': a session.run that takes SLOW_RUN_MS longer (checked for testHooks above).
      if (task.fault === 'slow') await new Promise((r) => setTimeout(r, SLOW_RUN_MS));
      out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', task.input, task.dims) });
    } finally {
      Atomics.store(task.state, 0, 2);
    }
    const runMs = performance.now() - t0;
    const outputs = {};
    for (const name of session.outputNames) outputs[name] = { data: toFloat32(out[name].data), dims: Array.from(out[name].dims, Number) };
    return { outputs, runMs, threadId };
  } catch (err) {
    return { error: `model ${task.model} run failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
