import { constants } from 'node:os';
import { inspect } from 'node:util';
import type { EngineMsg } from '../messages/index.ts';
import type { TsMs } from '../types/time.ts';
import { flushLog, log, scrubErrorChain, scrubSecretValues, type Logger } from '../log.ts';
import type { Bus } from './bus.ts';
import type { Clock } from './clock.ts';

/** The phases of a graceful shutdown, in the order they run. */
export type ShutdownPhase = 'intake' | 'drain' | 'flush' | 'stop' | 'close';

/** A shutdown hook; it may be async. */
export type Hook = () => void | Promise<void>;

/** Per-hook options. */
export interface HookOptions {
  /** How long the hook may take before shutdown moves on without it (default: the lifecycle's `hookTimeoutMs`). */
  readonly timeoutMs?: number;
}

/** What happened to one hook. */
export interface StepResult {
  readonly phase: ShutdownPhase;
  readonly name: string;
  readonly outcome: 'ok' | 'error' | 'timeout';
  readonly error?: string;
}

/** Returned by `shutdown`: every step in the order it finished; `ok` is false if any hook failed or timed out. */
export interface ShutdownReport {
  readonly signal: string;
  readonly ok: boolean;
  readonly steps: readonly StepResult[];
  readonly startedAt: TsMs;
  readonly finishedAt: TsMs;
}

/** What the lifecycle needs from the supervisor: stop every actor in reverse start order. */
export interface StoppableActors { stop(): void }

/** Options of a lifecycle. */
export interface LifecycleOptions {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly supervisor?: StoppableActors;
  /** Default per-hook timeout (5 s). */
  readonly hookTimeoutMs?: number;
}

interface Registered { readonly name: string; readonly fn: Hook; readonly timeoutMs: number }

/**
 * Graceful shutdown in a fixed order: publish `sys.shutdown`; stop intake (data sources, in registration order);
 * deliver what the bus still holds and await every drain hook (in parallel, each with a timeout); run flush hooks
 * (stores, in registration order); stop the supervised actors in reverse start order; run close hooks in reverse
 * registration order. A hook that throws or times out is reported and shutdown carries on.
 */
export class Lifecycle {
  private readonly hooks: Record<Exclude<ShutdownPhase, 'stop'>, Registered[]> = { intake: [], drain: [], flush: [], close: [] };
  private readonly bus: Bus<EngineMsg>;
  private readonly clock: Clock;
  private readonly supervisor: StoppableActors | undefined;
  private readonly hookTimeoutMs: number;
  private running: Promise<ShutdownReport> | undefined;

  constructor(opts: LifecycleOptions) {
    this.bus = opts.bus;
    this.clock = opts.clock;
    this.supervisor = opts.supervisor;
    this.hookTimeoutMs = opts.hookTimeoutMs ?? 5_000;
  }

  /** Registers a data source to stop first (close sockets, stop replay); returns the unregister function. */
  onStopIntake(name: string, fn: Hook, opts?: HookOptions): () => void {
    return this.add('intake', name, fn, opts);
  }

  /** Registers an actor's "finish in-flight work" hook (pending orders acknowledged, inference returned). */
  onDrain(name: string, fn: Hook, opts?: HookOptions): () => void {
    return this.add('drain', name, fn, opts);
  }

  /** Registers a store flush (pending LMDB batches committed). */
  onFlush(name: string, fn: Hook, opts?: HookOptions): () => void {
    return this.add('flush', name, fn, opts);
  }

  /** Registers a resource to close after the actors stopped (database environment, HTTP server); closed in reverse order. */
  onClose(name: string, fn: Hook, opts?: HookOptions): () => void {
    return this.add('close', name, fn, opts);
  }

  /** Returns true once `shutdown` has been called. */
  get shuttingDown(): boolean {
    return this.running !== undefined;
  }

  /** Runs the shutdown once; later calls return the same promise. */
  shutdown(signal = 'manual'): Promise<ShutdownReport> {
    this.running ??= this.run(signal);
    return this.running;
  }

  private add(phase: Exclude<ShutdownPhase, 'stop'>, name: string, fn: Hook, opts?: HookOptions): () => void {
    if (this.running) throw new Error(`cannot register ${phase} hook '${name}': shutdown already started`);
    const timeoutMs = opts?.timeoutMs ?? this.hookTimeoutMs;
    if (!(timeoutMs > 0)) throw new TypeError(`${phase} hook '${name}': timeoutMs ${timeoutMs} must be > 0`);
    const reg: Registered = { name, fn, timeoutMs };
    this.hooks[phase].push(reg);
    return () => {
      const list = this.hooks[phase];
      const i = list.indexOf(reg);
      if (i >= 0) list.splice(i, 1);
    };
  }

  private async run(signal: string): Promise<ShutdownReport> {
    const startedAt = this.clock.now();
    const steps: StepResult[] = [];
    log().info({ signal }, 'shutdown started');
    this.bus.publish({ type: 'sys.shutdown', signal, ts: startedAt });

    for (const h of this.hooks.intake) steps.push(await this.runHook('intake', h));

    this.bus.drain();
    steps.push(...(await Promise.all(this.hooks.drain.map((h) => this.runHook('drain', h)))));
    this.bus.drain();

    for (const h of this.hooks.flush) steps.push(await this.runHook('flush', h));

    if (this.supervisor) {
      const sup = this.supervisor;
      steps.push(await this.runHook('stop', { name: 'supervisor', fn: () => sup.stop(), timeoutMs: this.hookTimeoutMs }));
    }

    for (const h of [...this.hooks.close].reverse()) steps.push(await this.runHook('close', h));

    const report: ShutdownReport = { signal, ok: steps.every((s) => s.outcome === 'ok'), steps, startedAt, finishedAt: this.clock.now() };
    const failed = steps.filter((s) => s.outcome !== 'ok');
    if (failed.length > 0) log().warn({ signal, failed }, 'shutdown finished with failed steps');
    else log().info({ signal, steps: steps.length }, 'shutdown finished');
    return report;
  }

  private runHook(phase: ShutdownPhase, h: Registered): Promise<StepResult> {
    return new Promise<StepResult>((resolve) => {
      let settled = false;
      const finish = (r: StepResult): void => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(timer);
        resolve(r);
      };
      const timer = this.clock.setTimeout(() => finish({ phase, name: h.name, outcome: 'timeout', error: `no answer within ${h.timeoutMs} ms` }), h.timeoutMs);
      // Promise.resolve().then(fn) turns a synchronous throw into a rejection too.
      Promise.resolve()
        .then(h.fn)
        .then(
          () => finish({ phase, name: h.name, outcome: 'ok' }),
          (e: unknown) => finish({ phase, name: h.name, outcome: 'error', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
        );
    });
  }
}

/** The part of `process` that signal handling uses (an EventEmitter in tests). */
export interface SignalSource {
  on(event: string, listener: (signal: string) => void): unknown;
  off(event: string, listener: (signal: string) => void): unknown;
}

/** Options of a `ProcessStop`. */
export interface StopOptions {
  /**
   * Called with the exit code: 0 after a clean shutdown, 1 if a step failed (or `fail` was called), 128 + signal
   * number when forced. Default: `exitAfterLogFlush`.
   */
  readonly exit?: (code: number) => void;
  readonly onReport?: (report: ShutdownReport) => void;
  /**
   * True once a crash is being reported (installCrashHandlers' `crashed`): the crash's exit (70) is then the process's
   * only one, so `now` starts no graceful stop of the broken state and `exit` does nothing.
   */
  readonly crashed?: () => boolean;
}

/** Where `installSignalHandlers` listens. */
interface SignalSourceOptions {
  readonly signals?: readonly string[];
  readonly source?: SignalSource;
}

/**
 * Options of `installSignalHandlers`: either the `exit` and `onReport` of a stop of the lifecycle made for the signals,
 * or `stop`, the stop they go through where the process has other reasons to stop as well (app/run.ts: the end of a
 * replay), so that a signal during such a stop forces the exit. That stop holds the exit and onReport: beside it they
 * would never be called, so the type refuses them there.
 */
export type SignalOptions = SignalSourceOptions & (
  | (StopOptions & { readonly stop?: undefined })
  | { readonly stop: ProcessStop; readonly exit?: never; readonly onReport?: never }
);

/** Returns the conventional exit code for a signal (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: string): number {
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  return 128 + (n ?? 0);
}

/**
 * Exits the process with `code` once no exit hold is busy (holdExitWhile, at most EXIT_HOLD_MS) and the process-wide
 * log is written out (at most 1 s more): the log writes asynchronously, and an exit at once could lose its last lines
 * or write them out of order ("stopped" before "shutdown finished").
 */
export function exitAfterLogFlush(code: number): void {
  process.exitCode = code;
  void awaitExitHolds()
    .then(() => flushLog())
    .then(() => process.exit(code));
}

/** How long an exit waits, at most, for the exit holds (holdExitWhile) to be released. */
export const EXIT_HOLD_MS = 2_000;

interface ExitHold { readonly what: string; readonly busy: () => boolean }
const exitHolds = new Set<ExitHold>();
let holdsWait: Promise<void> | undefined;

/**
 * Registers a state in which process.exit must not come yet, `busy()` answering true while it lasts: a worker thread
 * inside native code that aborts the process when torn down (an inference worker loading its ONNX sessions: 'terminate
 * called after throwing an instance of Napi::Error', exit 134 instead of the documented code). `what` names it in the
 * log. Returns the function that removes it.
 */
export function holdExitWhile(what: string, busy: () => boolean): () => void {
  const hold: ExitHold = { what, busy };
  exitHolds.add(hold);
  return () => void exitHolds.delete(hold);
}

/**
 * Resolves once no exit hold is busy, or after EXIT_HOLD_MS (bounded: a second Ctrl-C must still end the process);
 * logs how long it waited and, at the bound, what still held the exit. Calls made while one waits share its wait.
 */
export function awaitExitHolds(): Promise<void> {
  holdsWait ??= waitExitHolds().finally(() => {
    holdsWait = undefined;
  });
  return holdsWait;
}

const busyHolds = (): string[] => [...exitHolds].filter((h) => h.busy()).map((h) => h.what);

async function waitExitHolds(): Promise<void> {
  const t0 = performance.now();
  let holding = busyHolds();
  const waitedFor = holding;
  if (holding.length === 0) return;
  while (holding.length > 0 && performance.now() - t0 < EXIT_HOLD_MS) {
    await new Promise<void>((r) => setTimeout(r, 5));
    holding = busyHolds();
  }
  const waitedMs = Math.round(performance.now() - t0);
  if (holding.length === 0) log().info({ code: 'EXIT_HELD', waitedMs, waitedFor }, `the exit waited ${waitedMs} ms for ${waitedFor.join(', ')}`);
  else log().error({ code: 'EXIT_HOLD_EXPIRED', waitedMs, holding }, `exiting with ${holding.join(', ')} still under way after ${waitedMs} ms: the process may abort (exit 134)`);
}

/**
 * The process's one graceful stop: `now(reason)` shuts the lifecycle down, then exits 0 after a clean shutdown, 1 if a
 * step failed or `fail` was called. A signal is one reason (installSignalHandlers), the end of a replay another
 * (app/run.ts); whichever comes first stops the process, and the exit comes once, when that shutdown is over.
 */
export class ProcessStop {
  private state: 'running' | 'stopping' | 'stopped' = 'running';
  private failed = false;

  constructor(readonly lifecycle: Lifecycle, private readonly opts: StopOptions = {}) {}

  /** True once `now` was called. */
  get requested(): boolean {
    return this.state !== 'running';
  }

  /** True once a crash is being reported: the stop neither starts nor exits, the crash exits the process. */
  get crashed(): boolean {
    return this.opts.crashed?.() ?? false;
  }

  /** True once the shutdown `now` began is over (the exit is under way). */
  get stopped(): boolean {
    return this.state === 'stopped';
  }

  /** Shuts down for `reason` (the shutdown's `signal`) then exits; nothing when a stop was already requested. */
  now(reason: string): void {
    if (this.state !== 'running' || this.crashed) return;
    this.state = 'stopping';
    this.lifecycle.shutdown(reason).then(
      (report) => {
        this.state = 'stopped';
        this.opts.onReport?.(report);
        this.exit(report.ok ? 0 : 1);
      },
      (e: unknown) => {
        this.state = 'stopped';
        log().error({ err: e, signal: reason }, 'shutdown threw');
        this.exit(1);
      },
    );
  }

  /** What the process was there for failed (a replay that could not be read): the exit that would be 0 is 1. */
  fail(): void {
    this.failed = true;
  }

  /**
   * Exits with `code` (1 for a 0 once `fail` was called) without waiting for the shutdown (a second signal); nothing
   * once a crash is being reported. The default exit still waits, at most EXIT_HOLD_MS, for the exit holds.
   */
  exit(code: number): void {
    if (this.crashed) return;
    (this.opts.exit ?? exitAfterLogFlush)(this.failed && code === 0 ? 1 : code);
  }
}

/**
 * Wires SIGINT/SIGTERM to a `ProcessStop` (opts.stop, else one of `lifecycle`): the first signal shuts down gracefully
 * then exits, a signal while a stop is under way (a second one, or one after the replay ended) exits at once (once its
 * line is logged). Returns a function that removes the handlers.
 */
export function installSignalHandlers(lifecycle: Lifecycle, opts: SignalOptions = {}): () => void {
  const signals = opts.signals ?? ['SIGINT', 'SIGTERM'];
  const source: SignalSource = opts.source ?? (process as unknown as SignalSource);
  const stop = stopOf(lifecycle, opts);
  const onSignal = (signal: string): void => {
    // The exit is under way (writing out the log, or reporting a crash, which exits 70): a signal then changes nothing.
    if (stop.stopped || stop.crashed) return;
    if (stop.requested) {
      log().warn({ signal }, 'second signal: exiting without finishing shutdown');
      stop.exit(signalExitCode(signal));
      return;
    }
    stop.now(signal);
  };
  for (const s of signals) source.on(s, onSignal);
  return () => {
    for (const s of signals) source.off(s, onSignal);
  };
}

// The stop `installSignalHandlers` goes through: opts.stop, which must be of `lifecycle` (a thing no type can tell).
function stopOf(lifecycle: Lifecycle, opts: SignalOptions): ProcessStop {
  if (opts.stop === undefined) return new ProcessStop(lifecycle, opts);
  if (opts.stop.lifecycle !== lifecycle) throw new TypeError('installSignalHandlers: opts.stop stops another lifecycle than the one given');
  return opts.stop;
}

/**
 * The exit code after a crash (an uncaught exception or unhandled rejection): 70, EX_SOFTWARE in sysexits.h ("an
 * internal software error has been detected"), apart from 1 (a failed graceful stop) and 128 + n (a signal).
 */
export const CRASH_EXIT_CODE = 70;

/** How long a crash waits for what it must tell before the exit (the webhook's post), at most. */
export const CRASH_TELL_MS = 3_000;

/** Where a crash came from: the process event that carried it. */
export type CrashOrigin = 'uncaughtException' | 'unhandledRejection';

/** The part of `process` that crash handling uses (an EventEmitter in tests). */
export interface CrashSource {
  on(event: CrashOrigin, listener: (err: unknown) => void): unknown;
  off(event: CrashOrigin, listener: (err: unknown) => void): unknown;
}

/** Options of `installCrashHandlers`. */
export interface CrashOptions {
  readonly source?: CrashSource;
  /** Called once with CRASH_EXIT_CODE. Default: `exitAfterLogFlush`. */
  readonly exit?: (code: number) => void;
  /** What must go out before the exit (the alerts webhook's post); waited for at most `deadlineMs`, never thrown. */
  readonly tell?: (err: unknown, origin: CrashOrigin) => void | Promise<void>;
  /** Default CRASH_TELL_MS. */
  readonly deadlineMs?: number;
  /** Where the fatal line goes. Default: the process-wide log at the time of the crash. */
  readonly logger?: Logger;
}

/** The crash handlers of `installCrashHandlers`. */
export interface CrashWatch {
  /** True from the first crash on: it is being reported and its exit (CRASH_EXIT_CODE) must be the process's only one. */
  readonly crashed: boolean;
  /** Removes the handlers. */
  remove(): void;
}

/**
 * Catches the process's uncaught exceptions and unhandled rejections: the first is logged at fatal level (code
 * ENGINE_CRASHED, the error serialised with its chain scrubbed of credentials: scrubCrashText), `tell` is given at most
 * `deadlineMs` (wall time), then the process exits CRASH_EXIT_CODE (by default through exitAfterLogFlush: once the exit
 * holds are released, bounded, and the log is written out). Nothing is stopped gracefully: the state may be broken, and
 * the store is recovered by the next start as after kill -9. A second crash while this runs exits at once.
 */
export function installCrashHandlers(opts: CrashOptions = {}): CrashWatch {
  const source: CrashSource = opts.source ?? (process as unknown as CrashSource);
  const exit = opts.exit ?? exitAfterLogFlush;
  const deadlineMs = opts.deadlineMs ?? CRASH_TELL_MS;
  let state: 'watching' | 'telling' | 'exited' = 'watching';
  const exitOnce = (): void => {
    if (state === 'exited') return;
    state = 'exited';
    exit(CRASH_EXIT_CODE);
  };
  const onCrash = (origin: CrashOrigin) => (err: unknown): void => {
    const logger = opts.logger ?? log();
    scrubErrorChain(err, scrubCrashText);
    if (state !== 'watching') {
      logger.fatal({ code: 'ENGINE_CRASHED', origin, err: asError(err), again: true }, `engine crashed again while reporting a crash: exiting ${CRASH_EXIT_CODE} at once`);
      return exitOnce();
    }
    state = 'telling';
    logger.fatal({ code: 'ENGINE_CRASHED', origin, err: asError(err) },
      `engine crashed (${origin}): ${scrubCrashText(describeError(err))}; exiting ${CRASH_EXIT_CODE} without a graceful stop (the next start recovers the store as after kill -9)`);
    void tellWithin(() => opts.tell?.(err, origin), deadlineMs, logger).then(exitOnce);
  };
  const listeners = { uncaughtException: onCrash('uncaughtException'), unhandledRejection: onCrash('unhandledRejection') };
  for (const [event, fn] of Object.entries(listeners)) source.on(event as CrashOrigin, fn);
  return {
    get crashed() {
      return state !== 'watching';
    },
    remove: () => {
      for (const [event, fn] of Object.entries(listeners)) source.off(event as CrashOrigin, fn);
    },
  };
}

// A crash's text (a thrown value inspected, an error quoting a request) may carry credentials in shapes the logger's
// key-name redaction never sees: inspect() pairs (`apiKey: '…'`, `'X-MBX-APIKEY': '…'`), header text
// (`X-MBX-APIKEY: …`, `Authorization: Bearer …`), signed query strings and JSON fields. The value after such a name is
// blanked. Over-blanking a crash's text costs little; a key in a log or a chat channel costs the account.
// The name's parts around the keyword are bounded: unbounded, a long word with a keyword in it ('tokentoken…') made the
// match backtrack over the whole word for every split (a 40,000-character word took ~0.3 s).
const CREDENTIAL_NAME = String.raw`[\w-]{0,48}(?:api_?key|secret|password|passphrase|token|signature|private_?key|access_?key)[\w-]{0,48}|sign|authorization`;
// '[redacted]' first: scrubbing twice (an Error's stack holds its scrubbed message) must change nothing.
const CREDENTIAL_VALUE = String.raw`\[redacted\]|'[^']*'|"[^"]*"|\`[^\`]*\`|(?:(?:Bearer|Basic|Token)\s+)?[^\s'"\`,;&}\]]+`;
const CREDENTIAL_PAIR = new RegExp(String.raw`((?:^|[^\w-])(?:${CREDENTIAL_NAME})['"]?\s*[:=]\s*)(?:${CREDENTIAL_VALUE})`, 'gi');

/**
 * Returns `text` (a crash's description or stack) with the value of every credential-named pair (inspect output,
 * headers, query parameters, JSON fields) and every registered secret value (redactSecretValues) replaced by
 * '[redacted]'.
 */
export function scrubCrashText(text: string): string {
  return scrubSecretValues(text.replace(CREDENTIAL_PAIR, '$1[redacted]'));
}

/** Returns a thrown value's one-line description: an Error's name and message, anything else as inspected. */
export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : `non-error thrown: ${inspect(err, { depth: 2, breakLength: Infinity })}`;
}

// pino serialises an Error under `err` (message, stack, cause); a rejection with anything else is wrapped in one.
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(scrubCrashText(describeError(err))));

// Resolves once `fn` settled or after `deadlineMs` of wall time, whichever comes first; a throw is logged, not thrown:
// the exit must come whatever `fn` does.
function tellWithin(fn: () => void | Promise<void>, deadlineMs: number, logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, deadlineMs);
    Promise.resolve()
      .then(fn)
      .catch((e: unknown) => logger.error({ err: e, code: 'ENGINE_CRASH_TELL_FAILED' }, 'the crash could not be told before the exit'))
      .finally(() => {
        clearTimeout(timer);
        resolve();
      });
  });
}
