// Inference coordinator: runs the registry's models on one input tick.
// - Refuses the tick when BaseDataInput.validate() says canInfer false, or when the InferenceDataValidator finds a
//   wrong shape or a NaN/infinity (engine/infer/validator.ts); reasons logged (at most every 30 s) and counted.
// - Runs models in dependency order: a model starts once every dependency due this tick has settled; independent
//   models run concurrently. A dependent gets a copy of the input with its dependencies' same-tick outputs written
//   into the BaseDataInput model slots (and the CNN hidden vector into the cnnHidden slot). When a dependency
//   produced nothing this tick (failed, busy, dropped) the dependent still runs, on the input as the DataProvider
//   packed it (the last stored output, with its age).
// - Never overlaps runs of one model version: a version still running is skipped for the new tick. Past its timeout
//   such a skip is a failure too (a hung run would otherwise stop counting after its first timeout and never reach
//   the drop). "Running" is per version: a version activated or rolled back to runs while the old one hangs.
// - One version per model per tick: the version active at the tick's start runs and labels the output. A dependent
//   whose version was replaced while it waited is not run; an output whose version was replaced while it ran is
//   dropped (not stored, published or fed to dependents; counted as `superseded`), and so is a dependency's output
//   whose version was replaced since.
// - A run past `timeoutMs`, a throw, or a malformed output is a failure for the registry's health policy. Every good
//   output goes to the ModelOutputStore and the InferenceHistoryStore.
// - The deadline runs on `deadlineClock` (default: the injected clock). A daemon on recorded data passes the wall
//   clock its replay is paced on (app/system.ts, `replayPace`): its engine clock is the data's SimulatedClock, which
//   the feed sets line after line and whose `set` fires due timers at once, so when the feed catches up (lines back
//   to back, a yield every 1,000) the data clock passes any deadline before a model's microtasks or its worker's
//   reply can run, and an instant rule "did not answer". A deadline measures the model's own run, in wall time.
// - `timeoutMs` Infinity: no deadline, a run is waited for (a backtest, app/backtest.ts: its driver waits for the
//   models while the simulated clock stands still, and a clock moved only by the driver to the next recorded line
//   would pass any deadline before the first answer).
import { BDI_INPUT_SPEC, checkInput } from '../../engine/infer/validator.ts';
import { log, type Logger } from '../../engine/log.ts';
import { BDI_MODEL_SLOTS, BDI_SECTIONS, CNN_HIDDEN_SIZE, MODEL_FEATURE_NAMES, type BaseDataInput } from '../../engine/market/base-data-input.ts';
import type { ModelStatusMsg } from '../../engine/messages/orchestrator.ts';
import { ACTIONS, type ModelOutput } from '../../engine/messages/signals.ts';
import type { Clock } from '../../engine/runtime/clock.ts';
import type { InferenceRecord } from '../../engine/store/inference-history.ts';
import type { ModelOutputStore } from '../../engine/store/model-output-store.ts';
import { EngineError } from '../../engine/types/errors.ts';
import type { Timeframe, TsMs } from '../../engine/types/time.ts';
import type { ModelRegistry, ModelVersion, Runnable, RunContext } from './registry.ts';

/** A model run that did not finish within the coordinator's timeout. */
const REFUSAL_LOG_EVERY_MS = 30_000;

export class ModelTimeoutError extends EngineError {
  readonly code = 'MODEL_TIMEOUT';
}
/** A model returned an output that is not a valid ModelOutput (probabilities, action, confidence). */
export class ModelOutputError extends EngineError {
  readonly code = 'MODEL_OUTPUT';
}

/** Where every inference is recorded (InferenceHistoryStore satisfies it); `record` must not throw. */
export interface InferenceRecorder {
  record(r: InferenceRecord): Promise<boolean>;
}

/** Options of the coordinator. */
export interface CoordinatorOptions {
  readonly registry: ModelRegistry;
  readonly clock: Clock;
  readonly outputs: ModelOutputStore;
  readonly history?: InferenceRecorder;
  /** Deadline of one model run on `deadlineClock`; default 1000 ms; Infinity: none (see the header). */
  readonly timeoutMs?: number;
  /** The clock the deadline runs on (default `clock`): the wall clock when `clock` follows recorded data (see the header). */
  readonly deadlineClock?: Clock;
  /** Called with every good output, in completion order. */
  readonly onOutput?: (o: ModelOutput) => void;
  /** Called with every health change (drop, probe, re-admission). */
  readonly onStatus?: (m: ModelStatusMsg) => void;
  /**
   * Queue history records until `flushHistory()` instead of writing each as its output arrives. An LMDB put of a
   * 9,190-float input costs tens of µs to milliseconds of main-thread time (encode, LZ4, copy); the orchestrator
   * writes after it has published the decision and the intent, so the write is never on the tick → intent path.
   */
  readonly deferHistory?: boolean;
  readonly logger?: Logger;
}

/** One input tick. */
export interface InferenceTick {
  readonly symbol: string;
  readonly ts: TsMs;
  readonly timeframe: Timeframe;
  readonly input: BaseDataInput;
}

/** What one tick did. */
export interface TickResult {
  /** Set when the tick was refused for its input. */
  readonly refused?: string;
  /** Good outputs in completion order. */
  readonly outputs: readonly ModelOutput[];
  readonly failed: readonly { readonly model: string; readonly error: string }[];
  readonly skippedBusy: readonly string[];
  readonly probes: readonly string[];
}

/** Counters since start. */
export interface CoordinatorStats {
  ticks: number;
  refused: number;
  runs: number;
  failures: number;
  /** Runs past their deadline, and ticks that found a version's run still going past it. */
  timeouts: number;
  skippedBusy: number;
  /** Runs not started or outputs dropped because the model's active version changed during the tick. */
  superseded: number;
  /** The reasons of the last refusal. */
  lastRefusal?: string;
}

const validProbs = (p: readonly number[]): boolean =>
  Array.isArray(p) && p.length === 3 && p.every((x) => Number.isFinite(x) && x >= 0) && Math.abs(p[0]! + p[1]! + p[2]! - 1) < 1e-3;

/** Returns a copy of the packed input with `outputs` written into their BaseDataInput model slots (age 0) and the CNN hidden vector. */
export function feedModelOutputs(data: Float32Array, outputs: ReadonlyMap<string, ModelOutput>): Float32Array {
  const out = data.slice();
  const F = MODEL_FEATURE_NAMES.length;
  BDI_MODEL_SLOTS.forEach((slot, i) => {
    const m = outputs.get(slot);
    if (!m) return;
    const o = BDI_SECTIONS.models.offset + i * F;
    out.set([1, m.probabilities[0], m.probabilities[1], m.probabilities[2], m.confidence, 0], o);
  });
  const hidden = outputs.get('cnn')?.hidden;
  if (hidden !== undefined && hidden.length === CNN_HIDDEN_SIZE) {
    out[BDI_SECTIONS.cnnHidden.offset] = 1;
    out.set(hidden, BDI_SECTIONS.cnnHidden.offset + 1);
  }
  return out;
}

/** What `runTick` collects while its models run (it returns it as the TickResult). */
interface TickParts { outputs: ModelOutput[]; failed: { model: string; error: string }[]; skippedBusy: string[]; probes: string[] }

/** Runs registered models on input ticks; see the header. */
export class InferenceCoordinator {
  readonly stats: CoordinatorStats = { ticks: 0, refused: 0, runs: 0, failures: 0, timeouts: 0, skippedBusy: 0, superseded: 0 };
  /** Versions with a run in flight, and whether that run is past its deadline (keyed by version: one per model and version). */
  private readonly busy = new Map<ModelVersion, boolean>();
  private readonly timeoutMs: number;
  /** Refusals since inference last ran, and when one was last logged: a warm-up refuses every tick for minutes. */
  private refusalRun = 0;
  private refusalLoggedAt = -Infinity;
  private readonly log: Logger;
  private deferred: InferenceRecord[] = [];
  /** Time of the last history record per model and symbol (see historyTs). */
  private readonly historyLast = new Map<string, TsMs>();

  constructor(private readonly opts: CoordinatorOptions) {
    this.timeoutMs = opts.timeoutMs ?? 1_000;
    if (!(this.timeoutMs > 0)) throw new RangeError(`coordinator timeoutMs must be > 0, got ${this.timeoutMs}`);
    this.log = opts.logger ?? log().child({ component: 'inference-coordinator' });
  }

  /** Returns true while the active version of `model` has a run in flight. */
  isBusy(model: string): boolean {
    const v = this.opts.registry.active(model);
    return v !== undefined && this.busy.has(v);
  }

  /** Runs every runnable model on the tick's input in dependency order; resolves when all have settled. Never rejects. */
  async runTick(tick: InferenceTick): Promise<TickResult> {
    this.stats.ticks++;
    const v = tick.input.validation;
    // Completeness first (the warm-up case), then the InferenceDataValidator: shape and finite values.
    const check = v.canInfer ? checkInput(BDI_INPUT_SPEC, tick.input.data) : undefined;
    if (!v.canInfer || (check && !check.ok)) {
      const message = check && !check.ok ? check.message : v.message;
      this.stats.refused++;
      this.stats.lastRefusal = message;
      this.refusalRun++;
      // Log the first refusal and then at most every 30 s of engine time; every refusal is still counted.
      const at = this.opts.clock.now();
      if (at - this.refusalLoggedAt >= REFUSAL_LOG_EVERY_MS) {
        this.refusalLoggedAt = at;
        if (check && !check.ok) this.log.error({ symbol: tick.symbol, ts: tick.ts, code: check.code, refused: this.stats.refused, refusedInARow: this.refusalRun }, message);
        else this.log.warn({ symbol: tick.symbol, ts: tick.ts, completeness: v.completeness, reasons: v.reasons, refused: this.stats.refused, refusedInARow: this.refusalRun }, 'inference refused: input incomplete');
      }
      return { refused: message, outputs: [], failed: [], skippedBusy: [], probes: [] };
    }
    if (this.refusalRun > 0) {
      this.log.info({ symbol: tick.symbol, ts: tick.ts, refusedInARow: this.refusalRun, completeness: v.completeness }, 'inference input complete: models running');
      this.refusalRun = 0;
      this.refusalLoggedAt = -Infinity;
    }
    const { registry } = this.opts;
    const now = this.opts.clock.now();
    const runnable = registry.runnable(now);
    const due = new Set(runnable.map((r) => r.name));
    const settled = new Map<string, Promise<ModelOutput | undefined>>();
    const res: TickParts = { outputs: [], failed: [], skippedBusy: [], probes: [] };
    for (const r of runnable) {
      const version = registry.active(r.name)!;
      settled.set(r.name, this.runModel(tick, r, version, version.dependsOn.filter((d) => due.has(d)), settled, res));
    }
    await Promise.all(settled.values());
    return res;
  }

  // One model's run within a tick, after the same-tick outputs it depends on. A method, not a closure made per tick
  // and model: under tsx (keepNames) naming that closure cost a defineProperty per model and tick (~4 µs).
  private async runModel(
    tick: InferenceTick, r: Runnable, version: ModelVersion, deps: readonly string[], settled: ReadonlyMap<string, Promise<ModelOutput | undefined>>,
    res: TickParts,
  ): Promise<ModelOutput | undefined> {
    const { registry } = this.opts;
    const depOut = new Map<string, ModelOutput>();
    for (const d of deps) {
      const o = await settled.get(d)!;
      // A dependency's output counts only while its version is still the active one.
      if (o && registry.active(d)?.version === o.version) depOut.set(d, o);
    }
    if (registry.active(r.name) !== version) {
      // Replaced while it waited for its dependencies: the version now active runs from the next tick.
      this.stats.superseded++;
      return undefined;
    }
    const hung = this.busy.get(version);
    if (hung !== undefined) {
      this.stats.skippedBusy++;
      res.skippedBusy.push(r.name);
      if (!hung) return undefined;
      // Still running past its deadline: a failure of this tick too, so that a hung model reaches the drop (and a
      // due probe fails, for another cool-down).
      if (r.probe) {
        res.probes.push(r.name);
        this.status(registry.beginProbe(r.name, this.opts.clock.now()));
      }
      return this.failed(r, version, new ModelTimeoutError(`model ${r.name} ${version.version}: its previous run is still going, past its ${this.timeoutMs} ms deadline`), res);
    }
    if (r.probe) {
      res.probes.push(r.name);
      this.status(registry.beginProbe(r.name, this.opts.clock.now()));
    }
    const input = depOut.size > 0 ? feedModelOutputs(tick.input.data, depOut) : tick.input.data;
    try {
      const out = await this.runOne(r.name, version, input, { model: r.name, version: version.version, symbol: tick.symbol, ts: tick.ts, deps: depOut });
      this.status(registry.recordSuccess(r.name, version.version, this.opts.clock.now()));
      if (registry.active(r.name) !== version) {
        // Replaced while it ran: its output no longer speaks for the model.
        this.stats.superseded++;
        return undefined;
      }
      res.outputs.push(out);
      this.opts.outputs.add(out);
      if (this.opts.history) {
        const rec: InferenceRecord = {
          model: out.model, symbol: out.symbol, ts: this.historyTs(out), output: out,
          input: {
            features: input, shape: [input.length], timeframe: tick.timeframe, completeness: tick.input.validation.completeness,
            meta: { version: out.version, deps: Object.fromEntries([...depOut].map(([k, o]) => [k, o.version])), probe: r.probe },
          },
        };
        if (this.opts.deferHistory) this.deferred.push(rec);
        else void this.opts.history.record(rec);
      }
      this.opts.onOutput?.(out);
      return out;
    } catch (err) {
      return this.failed(r, version, err, res);
    }
  }

  private failed(r: Runnable, version: ModelVersion, err: unknown, res: TickParts): undefined {
    this.stats.failures++;
    if (err instanceof ModelTimeoutError) this.stats.timeouts++;
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    res.failed.push({ model: r.name, error });
    this.log.warn({ model: r.name, version: version.version, err: error, probe: r.probe }, 'model run failed');
    this.status(this.opts.registry.recordFailure(r.name, version.version, err, this.opts.clock.now()));
    return undefined;
  }

  /**
   * The history key's time of `out`: its own, or 1 µs after the last one recorded for its model and symbol. The history
   * keys each inference by (model, symbol, time), and two ticks can be ready at one instant (a trade of a later bar
   * closes two 1s bars at once): the second record replaced the first. Delaying the second tick to a later poll cost
   * the live path a wait for the next market event (tick -> decision p99 0.8 -> 3.9 ms paced, bench/loop.ts).
   */
  private historyTs(out: ModelOutput): TsMs {
    const key = `${out.model}\u0000${out.symbol}`;
    const last = this.historyLast.get(key);
    const ts = last !== undefined && out.ts <= last ? ((last + 0.001) as TsMs) : out.ts;
    this.historyLast.set(key, ts);
    return ts;
  }

  /** Writes the records queued under `deferHistory` (in completion order); returns how many. */
  flushHistory(): number {
    const recs = this.deferred;
    if (recs.length === 0 || !this.opts.history) return 0;
    this.deferred = [];
    for (const r of recs) void this.opts.history.record(r);
    return recs.length;
  }

  private status(m: ModelStatusMsg | undefined): void {
    if (!m) return;
    this.log.info({ model: m.model, version: m.version, state: m.state, reason: m.reason }, 'model status');
    this.opts.onStatus?.(m);
  }

  // Runs one version with the deadline; the version stays busy until its run really settles, even past the deadline
  // (then marked hung).
  private runOne(name: string, v: ModelVersion, input: Float32Array, ctx: RunContext): Promise<ModelOutput> {
    const version = v.version;
    this.busy.set(v, false);
    this.stats.runs++;
    const running = new Promise<ModelOutput>((resolve) => resolve(v.run(input, ctx)));
    running.then(
      () => this.busy.delete(v),
      () => this.busy.delete(v),
    );
    const clock = this.opts.deadlineClock ?? this.opts.clock;
    return new Promise<ModelOutput>((resolve, reject) => {
      const timer = this.timeoutMs === Number.POSITIVE_INFINITY ? undefined : clock.setTimeout(() => {
        if (this.busy.has(v)) this.busy.set(v, true);
        reject(new ModelTimeoutError(`model ${name} ${version} did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      running.then(
        (o) => {
          if (timer) clock.clearTimeout(timer);
          try {
            resolve(normalise(o, name, version, ctx.symbol, ctx.ts));
          } catch (e) {
            reject(e);
          }
        },
        (e: unknown) => {
          if (timer) clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}

// The coordinator owns identity (model, version, symbol, tick time); the runner owns the prediction.
function normalise(o: ModelOutput, model: string, version: string, symbol: string, ts: TsMs): ModelOutput {
  if (o === null || typeof o !== 'object') throw new ModelOutputError(`model ${model} returned ${String(o)}, not a ModelOutput`);
  if (!validProbs(o.probabilities)) throw new ModelOutputError(`model ${model} returned probabilities [${String(o.probabilities)}]: need 3 finite values >= 0 summing to 1`);
  if (!ACTIONS.includes(o.action)) throw new ModelOutputError(`model ${model} returned action ${String(o.action)}: need one of ${ACTIONS.join(', ')}`);
  if (!(o.confidence >= 0 && o.confidence <= 1)) throw new ModelOutputError(`model ${model} returned confidence ${o.confidence}: need 0..1`);
  return { ...o, model, version, symbol, ts };
}
