import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { log } from '../log.ts';
import { LiveClock, type Clock, type TimerHandle } from '../runtime/clock.ts';
import { ConfigError, EngineError, InputValidationError } from '../types/errors.ts';
import { LatencyHistogram, type LatencySummary } from './latency.ts';
import { resolveExecutionProviders, type OrtProvider } from './providers.ts';

/** Key of the message a worker posts when its sessions are loaded (passed to engine/infer/worker.mjs as `loadedKey`). */
const LOADED = 'cobaltInferWorkerLoaded';
/** How long start and close wait for workers to finish loading their models. */
const LOAD_WAIT_MS = 60_000;

/** A request that did not finish within its `timeoutMs`. */
export class InferenceTimeoutError extends EngineError {
  readonly code = 'INFER_TIMEOUT';
}
/** A request whose worker died on the first try and again on the retry, or that was pending when the pool closed. */
export class InferenceWorkerError extends EngineError {
  readonly code = 'INFER_WORKER';
}
/** ONNX Runtime refused a model or a run (bad input shape, missing model, provider not in the build). */
export class InferenceError extends EngineError {
  readonly code = 'INFER';
}

/** Options of `createInferencePool`. */
export interface InferencePoolOptions {
  /** Model name -> .onnx file; every worker loads all of them once at start. */
  readonly models: Readonly<Record<string, string>>;
  /** Worker threads, one ONNX session (one intra-op thread) per model in each; default min(2, cores). */
  readonly threads?: number;
  /** Deadline of each request from the `infer` call, retries included; default 1000. */
  readonly timeoutMs?: number;
  /** Most sample rows in one session.run; default 64. */
  readonly maxBatch?: number;
  /** How long a request waits for others to batch with; 0 (default) = those issued in the same synchronous run (microtask). */
  readonly batchWindowMs?: number;
  /** ONNX Runtime execution providers; default from COBALT_ORT_PROVIDER, else ['cpu']. */
  readonly executionProviders?: readonly string[];
  /** Clock for timeouts and the batch window (a SimulatedClock in tests). */
  readonly clock?: Clock;
  /** Enables `injectFault` (tests only). */
  readonly testHooks?: boolean;
}

/** One request's outputs, sliced out of its batch, and its end-to-end latency. */
export interface InferResult {
  readonly outputs: Record<string, Float32Array>;
  readonly dims: Record<string, number[]>;
  readonly ms: number;
}

/** Per-model figures. */
export interface ModelInferStats extends LatencySummary {
  readonly requests: number;
  readonly batches: number;
  readonly maxBatchRows: number;
  readonly meanBatchRows: number;
  readonly timeouts: number;
  readonly errors: number;
}

/** Pool-wide figures. */
export interface InferenceStats {
  readonly executionProviders: readonly OrtProvider[];
  readonly threads: number;
  readonly models: Record<string, ModelInferStats>;
  readonly workerDeaths: number;
  readonly retries: number;
  readonly queued: number;
  readonly inFlightBatches: number;
}

/** The inference pool. */
export interface InferencePool {
  /** Runs `input` (row-major, `dims[0]` = sample rows) through `model`; concurrent requests share one session.run. */
  infer(model: string, input: Float32Array, dims: readonly number[]): Promise<InferResult>;
  stats(): InferenceStats;
  /** Tests only (needs `testHooks`): the next `batches` batches make their worker exit, or hang. */
  injectFault(kind: 'exit' | 'hang', batches?: number): void;
  /** Rejects pending requests and terminates the workers. */
  close(): Promise<void>;
}

interface Request {
  readonly model: string;
  readonly input: Float32Array;
  readonly dims: readonly number[];
  readonly key: string;
  readonly t0: number;
  attempts: number;
  settled: boolean;
  batch?: Batch;
  timer?: TimerHandle;
  resolve(r: InferResult): void;
  reject(e: Error): void;
}
interface Batch { readonly requests: Request[]; readonly abort: AbortController }
interface ModelCounters { latency: LatencyHistogram; requests: number; batches: number; rows: number; maxRows: number; timeouts: number; errors: number }
type WorkerOutput = { data: Float32Array; dims: number[] };
type WorkerReply = { error: string } | { outputs: Record<string, WorkerOutput>; runMs: number };

/** Returns a started pool once every model has loaded in a worker; logs the execution providers. */
export async function createInferencePool(opts: InferencePoolOptions): Promise<InferencePool> {
  const names = Object.keys(opts.models);
  if (names.length === 0) throw new ConfigError('inference pool: no models given');
  for (const [name, file] of Object.entries(opts.models)) if (!existsSync(file)) throw new ConfigError(`inference pool: model ${name} file ${file} does not exist`);
  const threads = opts.threads ?? Math.min(2, availableParallelism());
  const timeoutMs = opts.timeoutMs ?? 1000;
  const maxBatch = opts.maxBatch ?? 64;
  const windowMs = opts.batchWindowMs ?? 0;
  for (const [k, v, min] of [['threads', threads, 1], ['timeoutMs', timeoutMs, 1], ['maxBatch', maxBatch, 1], ['batchWindowMs', windowMs, 0]] as const) {
    if (!Number.isFinite(v) || v < min) throw new ConfigError(`inference pool: ${k} must be >= ${min}, got ${v}`);
  }
  const providers = resolveExecutionProviders(opts.executionProviders);
  const clock = opts.clock ?? new LiveClock();
  const piscina = new Piscina({
    filename: new URL('./worker.mjs', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Number.POSITIVE_INFINITY,
    // Not the parent's flags: run as `node --import tsx …` (benchmarks, scripts), every worker registered tsx's module
    // hooks again (a hooks thread, an esbuild process, the loader compiled anew): pool start took 190-220 ms instead of
    // 40-60 ms on 2 vCPUs. worker.mjs is plain JS. (V8 and process-wide flags apply to workers anyway; Node refuses
    // them in a worker's execArgv, so the parent's list cannot be passed on filtered.)
    execArgv: [],
    workerData: { models: opts.models, executionProviders: providers, testHooks: opts.testHooks === true, loadedKey: LOADED },
  });

  // Worker threads that have finished loading their sessions (worker.mjs posts LOADED): one must not be terminated
  // while ONNX Runtime loads, which aborts the process ('terminate called after throwing an instance of Napi::Error').
  const loaded = new Set<number>();
  piscina.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && LOADED in m) loaded.add((m as Record<string, number>)[LOADED]!);
  });
  const allLoaded = async (withinMs: number): Promise<boolean> => {
    const deadline = performance.now() + withinMs;
    while (piscina.threads.some((w) => !loaded.has(w.threadId))) {
      if (performance.now() >= deadline) return false;
      await new Promise<void>((r) => setTimeout(r, 5));
    }
    return true;
  };

  const info = (await piscina.run({ kind: 'info' })) as { error: string } | { models: Record<string, { inputNames: string[]; outputNames: string[] }>; execArgv: string[] };
  // Every worker has loaded (the first answered `info`; the others load the same files) before the pool is used or
  // closed. A load that hangs is the only way to wait here long.
  const ready = await allLoaded(LOAD_WAIT_MS);
  if ('error' in info || !ready) {
    await piscina.destroy();
    throw new InferenceError(`inference pool failed to start: ${'error' in info ? info.error : `workers did not load their models within ${LOAD_WAIT_MS / 1_000} s`}`);
  }
  log().info({ executionProviders: providers, threads, models: info.models, workerExecArgv: info.execArgv, timeoutMs, maxBatch, batchWindowMs: windowMs }, 'inference pool started');

  const counters = new Map<string, ModelCounters>(names.map((n) => [n, { latency: new LatencyHistogram(), requests: 0, batches: 0, rows: 0, maxRows: 0, timeouts: 0, errors: 0 }]));
  let queue: Request[] = [];
  let inFlight = 0;
  let scheduled = false;
  let closed = false;
  let workerDeaths = 0;
  let retries = 0;
  const faults: ('exit' | 'hang')[] = [];

  const settle = (r: Request, outcome: { ok: InferResult } | { err: Error }): void => {
    if (r.settled) return;
    r.settled = true;
    if (r.timer) clock.clearTimeout(r.timer);
    if ('ok' in outcome) {
      counters.get(r.model)!.latency.record(outcome.ok.ms);
      r.resolve(outcome.ok);
    } else {
      if (!(outcome.err instanceof InferenceTimeoutError)) counters.get(r.model)!.errors++;
      r.reject(outcome.err);
    }
  };

  const schedule = (): void => {
    if (scheduled || closed) return;
    scheduled = true;
    // Window 0: a microtask, not setImmediate. It still gathers every request issued in the same synchronous run
    // (a coordinator starting its independent models, a Promise.all of rows), but dispatches before the event loop
    // turns: with setImmediate the request waited for everything else queued on the main thread (other models'
    // inference-history writes, bus handlers), measured 0.15-0.6 ms p50 / 2.5-6.8 ms p99 of a backtest tick.
    if (windowMs > 0) clock.setTimeout(flush, windowMs);
    else queueMicrotask(flush);
  };

  function flush(): void {
    scheduled = false;
    while (!closed && inFlight < threads && queue.length > 0) {
      // Spread a burst over the idle workers (64 queued rows, 2 idle -> 2 runs of 32) rather than one big run.
      const queuedRows = queue.reduce((n, r) => n + r.dims[0], 0);
      dispatch(takeBatch(Math.min(maxBatch, Math.ceil(queuedRows / (threads - inFlight)))));
    }
  }

  // The oldest request plus queued requests of the same model and per-sample shape, up to `limit` rows.
  function takeBatch(limit: number): Request[] {
    const head = queue[0];
    const batch: Request[] = [];
    const rest: Request[] = [];
    let rows = 0;
    for (const r of queue) {
      if (r.model === head.model && r.key === head.key && (batch.length === 0 || rows + r.dims[0] <= limit)) {
        batch.push(r);
        rows += r.dims[0];
      } else rest.push(r);
    }
    queue = rest;
    return batch;
  }

  function dispatch(requests: Request[]): void {
    const model = requests[0].model;
    const rows = requests.reduce((n, r) => n + r.dims[0], 0);
    // Copy into one fresh buffer and transfer it: the callers' arrays stay intact (a retry needs them).
    const input = new Float32Array(requests.reduce((n, r) => n + r.input.length, 0));
    let off = 0;
    for (const r of requests) {
      input.set(r.input, off);
      off += r.input.length;
    }
    const batch: Batch = { requests, abort: new AbortController() };
    for (const r of requests) {
      r.batch = batch;
      r.attempts++;
    }
    const c = counters.get(model)!;
    c.batches++;
    c.rows += rows;
    c.maxRows = Math.max(c.maxRows, rows);
    inFlight++;
    const task = { kind: 'run', model, input, dims: [rows, ...requests[0].dims.slice(1)], fault: faults.shift() };
    piscina
      .run(task, { transferList: [input.buffer], signal: batch.abort.signal })
      .then((reply: WorkerReply) => deliver(requests, rows, reply))
      .catch((err: unknown) => {
        // Aborted: every request in it already timed out, and piscina replaced the stuck worker.
        if (batch.abort.signal.aborted) return;
        if (closed) {
          for (const r of requests) settle(r, { err: new InferenceWorkerError('inference pool closed while the request ran') });
          return;
        }
        workerDeaths++;
        log().warn({ model, rows, err: err instanceof Error ? err.message : String(err) }, 'inference worker died; retrying its requests once');
        const again = requests.filter((r) => !r.settled && r.attempts < 2);
        for (const r of requests) {
          if (!r.settled && r.attempts >= 2) settle(r, { err: new InferenceWorkerError(`inference of ${model}: worker died twice (${err instanceof Error ? err.message : String(err)})`, { cause: err }) });
        }
        retries += again.length;
        queue = [...again, ...queue];
      })
      .finally(() => {
        inFlight--;
        if (queue.length > 0) schedule();
      });
  }

  function deliver(requests: Request[], rows: number, reply: WorkerReply): void {
    if ('error' in reply) {
      for (const r of requests) settle(r, { err: new InferenceError(reply.error) });
      return;
    }
    let row = 0;
    for (const r of requests) {
      const outputs: Record<string, Float32Array> = {};
      const dims: Record<string, number[]> = {};
      for (const [name, o] of Object.entries(reply.outputs)) {
        const per = o.data.length / rows;
        outputs[name] = o.data.slice(row * per, (row + r.dims[0]) * per);
        dims[name] = [r.dims[0], ...o.dims.slice(1)];
      }
      row += r.dims[0];
      settle(r, { ok: { outputs, dims, ms: performance.now() - r.t0 } });
    }
  }

  const infer = (model: string, input: Float32Array, dims: readonly number[]): Promise<InferResult> =>
    new Promise<InferResult>((resolve, reject) => {
      if (closed) return reject(new InferenceWorkerError('inference pool is closed'));
      const c = counters.get(model);
      if (!c) return reject(new InputValidationError(`inference: unknown model '${model}' (pool has ${names.join(', ')})`));
      if (!(input instanceof Float32Array)) return reject(new InputValidationError(`inference of ${model}: input must be a Float32Array`));
      if (dims.length < 1 || dims.some((d) => !Number.isInteger(d) || d < 1)) return reject(new InputValidationError(`inference of ${model}: dims [${dims}] must be positive integers`));
      const size = dims.reduce((a, b) => a * b, 1);
      if (size !== input.length) return reject(new InputValidationError(`inference of ${model}: dims [${dims}] hold ${size} floats, input has ${input.length}`));
      c.requests++;
      const r: Request = { model, input, dims: [...dims], key: dims.slice(1).join('x'), t0: performance.now(), attempts: 0, settled: false, resolve, reject };
      r.timer = clock.setTimeout(() => {
        if (r.settled) return;
        c.timeouts++;
        settle(r, { err: new InferenceTimeoutError(`inference of ${model} timed out after ${timeoutMs} ms (${r.attempts === 0 ? 'still queued' : `attempt ${r.attempts}`})`) });
        queue = queue.filter((q) => q !== r);
        if (r.batch && r.batch.requests.every((q) => q.settled)) r.batch.abort.abort();
      }, timeoutMs);
      queue.push(r);
      schedule();
    });

  return {
    infer,
    stats: () => ({
      executionProviders: providers,
      threads,
      models: Object.fromEntries(
        [...counters].map(([n, c]) => [n, { ...c.latency.summary(), requests: c.requests, batches: c.batches, maxBatchRows: c.maxRows, meanBatchRows: c.batches ? c.rows / c.batches : 0, timeouts: c.timeouts, errors: c.errors }]),
      ),
      workerDeaths,
      retries,
      queued: queue.length,
      inFlightBatches: inFlight,
    }),
    injectFault: (kind, batches = 1) => {
      if (!opts.testHooks) throw new InputValidationError('injectFault needs a pool created with testHooks: true');
      for (let i = 0; i < batches; i++) faults.push(kind);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      const pending = [...queue];
      queue = [];
      for (const r of pending) settle(r, { err: new InferenceWorkerError('inference pool closed before the request ran') });
      // A worker piscina started in place of a dead one may still be loading: wait for it (bounded) before terminating.
      if (!(await allLoaded(LOAD_WAIT_MS))) log().warn({ waitedMs: LOAD_WAIT_MS }, 'inference pool closing with a worker still loading its models');
      await piscina.destroy();
    },
  };
}
