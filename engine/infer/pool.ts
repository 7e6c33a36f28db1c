import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { log } from '../log.ts';
import { LiveClock, type Clock, type TimerHandle } from '../runtime/clock.ts';
import { holdExitWhile } from '../runtime/lifecycle.ts';
import { ConfigError, EngineError, InputValidationError } from '../types/errors.ts';
import { LatencyHistogram, type LatencySummary } from './latency.ts';
import { resolveExecutionProviders, type OrtProvider } from './providers.ts';

/** Key of the message a worker posts when its sessions are loaded (passed to engine/infer/worker.mjs as `loadedKey`). */
const LOADED = 'cobaltInferWorkerLoaded';
/** How long start and close wait for workers to finish loading their models. */
const LOAD_WAIT_MS = 60_000;
/** How long close waits for batches inside session.run: terminating a worker there aborts the process. */
const CLOSE_RUN_WAIT_MS = 5_000;
/** Default `stuckMs`: ten deadlines, at least 10 s; without a deadline (a backtest) 60 s. */
const STUCK_MIN_MS = 10_000;
const STUCK_NO_DEADLINE_MS = 60_000;
// The stuck guard is a plain setTimeout (wall time whatever the clock), and Node runs one of over 2^31−1 ms (~24.8
// days) after 1 ms: a longer stuckMs (10 × timeoutMs 300000000) declared every run hung at once. It is cut to that.
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A batch's `state` (Int32Array over a SharedArrayBuffer, shared with worker.mjs): where its worker is with it. */
const SENT = 0;
const IN_RUN = 1;
const RUN_OVER = 2;
const CANCELLED = 3;

/** A request that did not finish within its `timeoutMs`. */
export class InferenceTimeoutError extends EngineError {
  readonly code = 'INFER_TIMEOUT';
}
/** A request whose batch ran `stuckMs` of wall time without an answer: its worker is hung. */
export class InferenceStuckError extends EngineError {
  readonly code = 'INFER_STUCK';
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
  /**
   * Deadline of each request on `clock` from the `infer` call, retries included; default 1000. Infinity: none, a
   * request waits for its answer (bounded by `stuckMs`): a backtest's pool, whose answers must not depend on the host.
   */
  readonly timeoutMs?: number;
  /**
   * Wall time a batch may run before its worker counts as hung: the requests still waiting on it fail with
   * InferenceStuckError, and the worker is replaced (or, inside session.run, retired). While every thread is held by a
   * retired worker, a queued request fails likewise after stuckMs in the queue. Default 10 × timeoutMs, at least 10 s;
   * 60 s without a deadline.
   */
  readonly stuckMs?: number;
  /** Most sample rows in one session.run; default 64. */
  readonly maxBatch?: number;
  /** How long a request waits for others to batch with; 0 (default) = those issued in the same synchronous run (microtask). */
  readonly batchWindowMs?: number;
  /** ONNX Runtime execution providers; default from COBALT_ORT_PROVIDER, else ['cpu']. */
  readonly executionProviders?: readonly string[];
  /** Clock for timeouts and the batch window (a SimulatedClock in tests). */
  readonly clock?: Clock;
  /** Enables `injectFault` and `testLoadMs` (tests only). */
  readonly testHooks?: boolean;
  /**
   * Tests only (needs `testHooks`): each worker creates its ONNX sessions again and again for this long before it
   * reports them loaded, so that a test can reach a worker inside session creation.
   */
  readonly testLoadMs?: number;
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
  /** Requests failed by the wall-time guard (`stuckMs`). */
  readonly stuck: number;
  readonly errors: number;
}

/** Pool-wide figures. */
export interface InferenceStats {
  readonly executionProviders: readonly OrtProvider[];
  readonly threads: number;
  readonly models: Record<string, ModelInferStats>;
  readonly workerDeaths: number;
  /** Hung workers left inside session.run to finish, never terminated (that aborts the process); each holds a thread. */
  readonly retiredWorkers: number;
  /** Errors piscina reported outside any request (a late reply of a worker it was terminating); logged. */
  readonly poolErrors: number;
  readonly retries: number;
  readonly queued: number;
  readonly inFlightBatches: number;
}

/** Options of one request. */
export interface InferOptions {
  /** This request's deadline instead of the pool's `timeoutMs`; Infinity: none (a backtest through a caller's pool). */
  readonly timeoutMs?: number;
}

/** The inference pool. */
export interface InferencePool {
  /** Runs `input` (row-major, `dims[0]` = sample rows) through `model`; concurrent requests share one session.run. */
  infer(model: string, input: Float32Array, dims: readonly number[], opts?: InferOptions): Promise<InferResult>;
  stats(): InferenceStats;
  /** Returns how many requests the wall-time guard (`stuckMs`) failed since start, and the last one's error. */
  stuck(): { readonly requests: number; readonly last: InferenceStuckError | undefined };
  /**
   * Tests only (needs `testHooks`): the next `batches` batches make their worker exit, hang before session.run, or
   * spend 500 ms more inside it ('slow').
   */
  injectFault(kind: FaultKind, batches?: number): void;
  /** Rejects pending requests and terminates the workers. */
  close(): Promise<void>;
}

/** Faults `injectFault` makes (tests). */
export type FaultKind = 'exit' | 'hang' | 'slow';

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
  /** Wall-time bound on its wait in the queue, armed only while every thread is retired (guardQueue). */
  queueGuard?: ReturnType<typeof setTimeout>;
  resolve(r: InferResult): void;
  reject(e: Error): void;
}
interface Batch { readonly model: string; readonly requests: Request[]; readonly abort: AbortController; readonly state: Int32Array; readonly t0: number; guard?: ReturnType<typeof setTimeout> }
interface ModelCounters { latency: LatencyHistogram; requests: number; batches: number; rows: number; maxRows: number; timeouts: number; stuck: number; errors: number }
type WorkerOutput = { data: Float32Array; dims: number[] };
type WorkerReply = { error: string } | { outputs: Record<string, WorkerOutput>; runMs: number };

/** Returns a started pool once every model has loaded in a worker; logs the execution providers. */
export async function createInferencePool(opts: InferencePoolOptions): Promise<InferencePool> {
  const names = Object.keys(opts.models);
  if (names.length === 0) throw new ConfigError('inference pool: no models given');
  for (const [name, file] of Object.entries(opts.models)) if (!existsSync(file)) throw new ConfigError(`inference pool: model ${name} file ${file} does not exist`);
  const threads = opts.threads ?? Math.min(2, availableParallelism());
  const timeoutMs = opts.timeoutMs ?? 1000;
  const deadline = timeoutMs !== Number.POSITIVE_INFINITY;
  const askedStuckMs = opts.stuckMs ?? (deadline ? Math.max(STUCK_MIN_MS, 10 * timeoutMs) : STUCK_NO_DEADLINE_MS);
  const maxBatch = opts.maxBatch ?? 64;
  const windowMs = opts.batchWindowMs ?? 0;
  for (const [k, v, min] of [['threads', threads, 1], ['timeoutMs', deadline ? timeoutMs : 1, 1], ['stuckMs', askedStuckMs, 1], ['maxBatch', maxBatch, 1], ['batchWindowMs', windowMs, 0]] as const) {
    if (!Number.isFinite(v) || v < min) throw new ConfigError(`inference pool: ${k} must be >= ${min}${k === 'timeoutMs' ? ' (or Infinity: no deadline)' : ''}, got ${v}`);
  }
  const stuckMs = Math.min(MAX_TIMER_MS, askedStuckMs);
  if (opts.testLoadMs !== undefined && !(opts.testHooks === true && Number.isFinite(opts.testLoadMs) && opts.testLoadMs >= 0)) {
    throw new ConfigError(`inference pool: testLoadMs ${opts.testLoadMs} needs testHooks and must be a finite number >= 0`);
  }
  const providers = resolveExecutionProviders(opts.executionProviders);
  const clock = opts.clock ?? new LiveClock();
  const piscina = new Piscina({
    // Not worker.mjs itself: piscina would require() it (require(esm)), see worker-entry.cjs.
    filename: new URL('./worker-entry.cjs', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Number.POSITIVE_INFINITY,
    // Not the parent's flags: run as `node --import tsx …` (benchmarks, scripts), every worker registered tsx's module
    // hooks again (a hooks thread, an esbuild process, the loader compiled anew): pool start took 190-220 ms instead of
    // 40-60 ms on 2 vCPUs. worker.mjs is plain JS. (V8 and process-wide flags apply to workers anyway; Node refuses
    // them in a worker's execArgv, so the parent's list cannot be passed on filtered.)
    execArgv: [],
    workerData: { models: opts.models, executionProviders: providers, testHooks: opts.testHooks === true, loadedKey: LOADED, testLoadMs: opts.testLoadMs ?? 0 },
  });

  // Worker threads that have finished loading their sessions (worker.mjs posts LOADED): one must not be terminated
  // while ONNX Runtime loads, which aborts the process ('terminate called after throwing an instance of Napi::Error').
  const loaded = new Set<number>();
  piscina.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && LOADED in m) loaded.add((m as Record<string, number>)[LOADED]!);
  });
  const loading = (): boolean => piscina.threads.some((w) => !loaded.has(w.threadId));
  // process.exit terminates the workers too: an exit (a second Ctrl-C, a crash) while one loads would abort the same
  // way, exit 134 instead of the documented 130/143/70. The exit waits (bounded) while this pool has one loading.
  const releaseExit = holdExitWhile('inference workers loading their models', loading);
  const destroy = async (): Promise<void> => {
    await piscina.destroy();
    releaseExit();
  };
  // Unheard, piscina's 'error' is an uncaught exception that ends the process. It comes with no request: a reply that
  // arrived from a worker being terminated ('Unexpected message from Worker'; that batch's requests have already
  // failed), or a worker error while it ran nothing.
  let poolErrors = 0;
  piscina.on('error', (err: unknown) => {
    poolErrors++;
    log().error({ code: 'INFER_POOL_ERROR', err: err instanceof Error ? err.message : String(err) }, 'inference pool: worker error outside any request');
  });
  const allLoaded = async (withinMs: number): Promise<boolean> => {
    const deadline = performance.now() + withinMs;
    while (loading()) {
      if (performance.now() >= deadline) return false;
      await new Promise<void>((r) => setTimeout(r, 5));
    }
    return true;
  };

  type Info = { error: string } | { models: Record<string, { inputNames: string[]; outputNames: string[] }>; execArgv: string[] };
  let info: Info;
  try {
    info = (await piscina.run({ kind: 'info' })) as Info;
  } catch (err) {
    // A worker that died before answering (its load reports errors in `info`, so this is a crash): the pool is torn
    // down, once no worker is inside session creation (terminating one there aborts the process), and not left running.
    await allLoaded(LOAD_WAIT_MS);
    await destroy();
    throw new InferenceError(`inference pool failed to start: a worker died before it answered: ${(err as Error).message}`, { cause: err });
  }
  // Every worker has loaded (the first answered `info`; the others load the same files) before the pool is used or
  // closed. A load that hangs is the only way to wait here long.
  const ready = await allLoaded(LOAD_WAIT_MS);
  if ('error' in info || !ready) {
    await destroy();
    throw new InferenceError(`inference pool failed to start: ${'error' in info ? info.error : `workers did not load their models within ${LOAD_WAIT_MS / 1_000} s`}`);
  }
  log().info({ executionProviders: providers, threads, models: info.models, workerExecArgv: info.execArgv, timeoutMs: deadline ? timeoutMs : 'none', stuckMs, maxBatch, batchWindowMs: windowMs }, 'inference pool started');

  const counters = new Map<string, ModelCounters>(names.map((n) => [n, { latency: new LatencyHistogram(), requests: 0, batches: 0, rows: 0, maxRows: 0, timeouts: 0, stuck: 0, errors: 0 }]));
  let queue: Request[] = [];
  let inFlight = 0;
  /** Batches sent to a worker and not yet settled there (retired ones included). */
  const running = new Set<Batch>();
  /** Running batches whose worker was retired inside session.run: each holds a thread until its run ends. */
  const retired = new Set<Batch>();
  let lastStuck: InferenceStuckError | undefined;
  let retiredWorkers = 0;
  let scheduled = false;
  let closed = false;
  let workerDeaths = 0;
  let retries = 0;
  const faults: FaultKind[] = [];

  const settle = (r: Request, outcome: { ok: InferResult } | { err: Error }): void => {
    if (r.settled) return;
    r.settled = true;
    if (r.timer) clock.clearTimeout(r.timer);
    clearTimeout(r.queueGuard);
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
    guardQueue();
  }

  // The stuck guard is armed at dispatch, so a request queued while every thread is held by a retired worker would
  // wait unbounded: without a deadline (a backtest) for as long as the hung run lasts, for ever if it never ends. While
  // that holds, each queued request gets a wall-time bound of stuckMs from then on; once a thread is back the bounds
  // are lifted (a queue drained by a working thread is not hung). Called wherever `retired` changes or a flush ends.
  function guardQueue(): void {
    const blocked = allRetired();
    for (const r of queue) {
      if (blocked) guardQueued(r);
      else if (r.queueGuard !== undefined) {
        clearTimeout(r.queueGuard);
        r.queueGuard = undefined;
      }
    }
  }

  function allRetired(): boolean {
    return !closed && retired.size >= threads;
  }

  function guardQueued(r: Request): void {
    if (r.queueGuard !== undefined) return;
    r.queueGuard = setTimeout(() => onQueueStuck(r), stuckMs);
    r.queueGuard.unref();
  }

  // Never dispatched (dispatch clears the bound), so no worker can answer it: failing it here is its only completion.
  function onQueueStuck(r: Request): void {
    r.queueGuard = undefined;
    if (r.settled) return;
    queue = queue.filter((q) => q !== r);
    counters.get(r.model)!.stuck++;
    lastStuck = new InferenceStuckError(`inference of ${r.model}: queued ${stuckMs} ms of wall time (stuckMs) while every worker is retired, hung inside session.run; not run`);
    settle(r, { err: lastStuck });
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
    const batch: Batch = { model, requests, abort: new AbortController(), state: new Int32Array(new SharedArrayBuffer(4)), t0: performance.now() };
    for (const r of requests) {
      r.batch = batch;
      r.attempts++;
      clearTimeout(r.queueGuard);
      r.queueGuard = undefined;
    }
    const c = counters.get(model)!;
    c.batches++;
    c.rows += rows;
    c.maxRows = Math.max(c.maxRows, rows);
    inFlight++;
    const task = { kind: 'run', model, input, dims: [rows, ...requests[0].dims.slice(1)], fault: faults.shift(), state: batch.state };
    running.add(batch);
    armGuard(batch);
    piscina
      .run(task, { transferList: [input.buffer], signal: batch.abort.signal })
      .then((reply: WorkerReply) => deliver(requests, rows, reply))
      .catch((err: unknown) => {
        // Aborted by the stuck guard: its requests have failed, and piscina replaced the hung worker.
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
        clearTimeout(batch.guard);
        running.delete(batch);
        retired.delete(batch);
        inFlight--;
        guardQueue();
        if (queue.length > 0) schedule();
      });
  }

  // Wall time, whatever `clock` is: a backtest's simulated clock stands still while it waits for the answer.
  function armGuard(batch: Batch): void {
    batch.guard = setTimeout(() => onStuck(batch), stuckMs);
    batch.guard.unref();
  }

  // A batch still running after stuckMs of wall time. Its requests fail now (a late reply is dropped). Its worker is
  // replaced only where that is safe: terminating a worker while ONNX Runtime runs in it aborts the whole process
  // (onnxruntime-node throws a C++ exception it cannot turn into a JS one in a terminating thread: 'terminate called
  // after throwing an instance of Napi::Error'), so a worker inside session.run is retired instead: left to finish,
  // still holding its thread (counted in flight). The state word tells which, without a race: the worker enters run
  // only by moving it from SENT to IN_RUN, and the pool cancels only by moving it from SENT to CANCELLED.
  function onStuck(batch: Batch): void {
    // Not begun by any worker while one loads its sessions (piscina starting one in place of a hung or dead worker):
    // the batch waits for that load, it is not hung. A load of several seconds (a loaded host, a GPU session) failed
    // the next request as stuck. Looked at again after another stuckMs, for at most LOAD_WAIT_MS.
    if (Atomics.load(batch.state, 0) === SENT && loading() && performance.now() - batch.t0 < LOAD_WAIT_MS) return armGuard(batch);
    const waitedS = Math.round(performance.now() - batch.t0) / 1_000;
    const c = counters.get(batch.model)!;
    for (const r of batch.requests) {
      if (r.settled) continue;
      c.stuck++;
      lastStuck = new InferenceStuckError(`inference of ${batch.model}: no answer from its worker after ${waitedS} s of wall time (stuckMs ${stuckMs}); the worker is hung`);
      settle(r, { err: lastStuck });
    }
    replaceHung(batch, waitedS);
  }

  function replaceHung(batch: Batch, waitedS: number): void {
    if (closed || !running.has(batch)) return;
    // A worker piscina is starting (in place of one it lost) may be loading its sessions, where terminating aborts
    // too, and the batch may be queued for it: look again once every worker has loaded.
    if (loading()) {
      setTimeout(() => replaceHung(batch, waitedS), 50).unref();
      return;
    }
    const was = Atomics.compareExchange(batch.state, 0, SENT, CANCELLED);
    if (was === IN_RUN) {
      retiredWorkers++;
      retired.add(batch);
      guardQueue();
      log().error({ code: 'INFER_WORKER_RETIRED', model: batch.model, waitedS, threads, retiredWorkers }, 'inference worker hung inside session.run: retired, left to finish (terminating it there would abort the process)');
      return;
    }
    log().error({ code: 'INFER_WORKER_HUNG', model: batch.model, waitedS, runOver: was === RUN_OVER }, 'inference worker hung outside session.run: terminated and replaced');
    batch.abort.abort();
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

  const infer = (model: string, input: Float32Array, dims: readonly number[], ro?: InferOptions): Promise<InferResult> =>
    new Promise<InferResult>((resolve, reject) => {
      if (closed) return reject(new InferenceWorkerError('inference pool is closed'));
      const c = counters.get(model);
      if (!c) return reject(new InputValidationError(`inference: unknown model '${model}' (pool has ${names.join(', ')})`));
      if (!(input instanceof Float32Array)) return reject(new InputValidationError(`inference of ${model}: input must be a Float32Array`));
      if (dims.length < 1 || dims.some((d) => !Number.isInteger(d) || d < 1)) return reject(new InputValidationError(`inference of ${model}: dims [${dims}] must be positive integers`));
      const size = dims.reduce((a, b) => a * b, 1);
      if (size !== input.length) return reject(new InputValidationError(`inference of ${model}: dims [${dims}] hold ${size} floats, input has ${input.length}`));
      const ms = ro?.timeoutMs ?? timeoutMs;
      if (!(ms >= 1)) return reject(new InputValidationError(`inference of ${model}: timeoutMs must be >= 1 (or Infinity: no deadline), got ${ms}`));
      c.requests++;
      const r: Request = { model, input, dims: [...dims], key: dims.slice(1).join('x'), t0: performance.now(), attempts: 0, settled: false, resolve, reject };
      // The request fails at its deadline; a batch it is in runs on (its reply is dropped): terminating the worker
      // mid-run aborted the process. A worker that really hangs is the stuck guard's (onStuck).
      if (ms !== Number.POSITIVE_INFINITY) {
        r.timer = clock.setTimeout(() => {
          if (r.settled) return;
          c.timeouts++;
          settle(r, { err: new InferenceTimeoutError(`inference of ${model} timed out after ${ms} ms (${r.attempts === 0 ? 'still queued' : `attempt ${r.attempts}`})`) });
          queue = queue.filter((q) => q !== r);
        }, ms);
      }
      queue.push(r);
      // Only this one: guardQueue's pass over the queue at every request would make a burst quadratic.
      if (allRetired()) guardQueued(r);
      schedule();
    });

  return {
    infer,
    stats: () => ({
      executionProviders: providers,
      threads,
      models: Object.fromEntries(
        [...counters].map(([n, c]) => [n, { ...c.latency.summary(), requests: c.requests, batches: c.batches, maxBatchRows: c.maxRows, meanBatchRows: c.batches ? c.rows / c.batches : 0, timeouts: c.timeouts, stuck: c.stuck, errors: c.errors }]),
      ),
      workerDeaths,
      retiredWorkers,
      poolErrors,
      retries,
      queued: queue.length,
      inFlightBatches: inFlight,
    }),
    stuck: () => ({ requests: [...counters.values()].reduce((n, c) => n + c.stuck, 0), last: lastStuck }),
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
      // Likewise a batch inside session.run (one whose requests timed out runs on): let it finish (bounded).
      const inRun = (): boolean => [...running].some((b) => Atomics.load(b.state, 0) === IN_RUN);
      const until = performance.now() + CLOSE_RUN_WAIT_MS;
      while (inRun() && performance.now() < until) await new Promise<void>((r) => setTimeout(r, 5));
      if (inRun()) log().error({ code: 'INFER_CLOSE_IN_RUN', waitedMs: CLOSE_RUN_WAIT_MS, retiredWorkers }, 'inference pool closing with a worker still inside session.run: terminating it may abort the process');
      await destroy();
    },
  };
}
