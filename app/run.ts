// `cobalt run`: the daemon. Paper trading on live or replayed data by default; real orders only with `mode: live`
// in the config AND `--live` AND keys in the environment. Runs until SIGINT/SIGTERM (graceful: stop intake, drain,
// flush LMDB, stop actors); everything needed to continue after a crash or kill -9 is in LMDB (config.store.path):
// the executor's orders/fills/positions (reconciled with the venue at start), the paper venue's account and open
// orders, the risk manager's trading state and equity peak, the inference history, the DataProvider's candles (live
// data only: engine/store/candle-cache.ts), and how far a replay got (a restarted replay goes on in time from there:
// actors/data-provider/replay.ts). A crash (an uncaught exception or unhandled rejection) is logged at fatal level
// (ENGINE_CRASHED), posted to the alerts webhook ahead of anything else (at most 3 s) and exits 70 (EX_SOFTWARE) with
// nothing stopped gracefully: the next start recovers from the store as after kill -9 (watchCrashes).
import { dashboardProviders } from './dashboard-providers.ts';
import { existsSync } from 'node:fs';
import {
  loadConfig, logLevelRefusal, missingDataPaths, preflightProblems, type Config, type LoadedConfig,
} from '../engine/config/index.ts';
import { isRunSpeed, RUN_SPEED_MAX, RUN_SPEED_MIN } from '../engine/types/run-speed.ts';
import { createLogger, flushLog, log, setLogger, type Logger } from '../engine/log.ts';
import {
  awaitExitHolds, CRASH_TELL_MS, installCrashHandlers, installSignalHandlers, ProcessStop, signalExitCode,
  type CrashSource, type CrashWatch, type SignalSource, type StopOptions,
} from '../engine/runtime/lifecycle.ts';
import { crashEvent, type AlertsWebhook } from './alerts-webhook.ts';
import { replayStart, ReplayPosition, type ReplayStart } from '../actors/data-provider/replay.ts';
import { ReplayTimeline } from '../actors/data-provider/replay-history.ts';
import { formatDecimal, formatFixed } from '../engine/types/decimal.ts';
import { lotsToQty, ticksToPrice, type Instrument } from '../engine/types/instrument.ts';
import { formatMoney, type Money } from '../engine/types/money.ts';
import type { RiskLimits } from '../engine/messages/risk.ts';
import type { Ticks } from '../engine/types/price.ts';
import { BinanceRest } from '../engine/venues/binance/rest.ts';
import type { VenueBalance } from '../engine/venues/venue.ts';
import { accountEquity } from './risk-limits.ts';
import { RISK_ID, startLimits } from './risk-child.ts';
import { ORCHESTRATOR_ID } from '../actors/orchestrator/actor.ts';
import { LiveClock, ScaledClock, SimulatedClock, type Clock } from '../engine/runtime/clock.ts';
import { StatusLine } from './status-line.ts';
import { recordedSymbols, unrecordedSymbolRefusal } from './backtest-source.ts';
import { liveVenue, liveVenueTarget } from './live-venue.ts';
import { buildSystem, dataInstrumentsOf, refuseOnConfigError, type System } from './system.ts';
import { ConfigError, EngineStartError } from '../engine/types/errors.ts';
import { scrubVenueMessage } from '../engine/venues/ccxt-exec.ts';
import { ReplayFeed } from '../engine/venues/replay/replay-feed.ts';
import type { DashboardHandle, HeldKill } from '../engine/dashboard/index.ts';
import { CONTROL_TARGETS, type ControlAction } from '../engine/dashboard/controls.ts';

const LOOPBACK = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/;

/** Returns why this config and these flags may not run, or undefined. */
export function runRefusal(loaded: LoadedConfig, flags: { live?: boolean }): string | undefined {
  const { config } = loaded;
  if (config.mode === 'backtest') return `${loaded.file}: mode backtest runs with 'cobalt backtest --config ${loaded.file}'`;
  if (config.mode === 'live' && !flags.live) return `${loaded.file}: mode live sends real orders; add --live to confirm (refusing to start)`;
  if (flags.live && config.mode !== 'live') return `--live given but ${loaded.file} has mode ${config.mode}; set mode: live to trade real orders (refusing to start)`;
  const problems = [...preflightProblems(config, loaded.secrets), ...missingDataPaths(config)];
  if (problems.length > 0) return `${loaded.file}: cannot start\n${problems.map((p) => `  ${p}`).join('\n')}`;
  return undefined;
}

/**
 * Returns the speed of `cobalt run`: --speed `s`, else data.speed (`fallback`), a multiple of real time. Live market data
 * runs in real time whatever it is (data.speed 0 reads as 1 there). Recorded data or an exchange simulator at data.speed 0
 * (as fast as possible) is refused: a daemon replaying unpaced outruns its models, whose runs time out on the replay's
 * clock (every one did, the momentum rule's too: no decision is ever made), and a simulator's time runs on its own. As
 * fast as possible is `cobalt backtest`, which waits for the engine after each recorded line.
 */
export function parseRunSpeed(s: string | undefined, fallback: number, source: 'replay' | 'simulator' | 'live' = 'replay'): number {
  // A plain decimal only: Number() also reads '0x10', '1e-300' and ' 2 ', none of which a trader means as a speed.
  const v = s === undefined ? fallback : /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (s !== undefined && !isRunSpeed(v)) {
    throw new Error(`--speed must be a number > 0 (as fast as possible is 'cobalt backtest'), not '${s}': a plain decimal from ${RUN_SPEED_MIN} to ${RUN_SPEED_MAX}`);
  }
  if (v > 0) return v;
  if (source === 'live') return 1;
  const why = source === 'replay'
    ? 'a daemon replaying unpaced outruns its models (their runs time out on the replay\'s clock)'
    : 'an exchange simulator runs on its own time';
  throw new Error(`data.speed 0 (as fast as possible) cannot run here: ${why}; set data.speed above 0 or pass --speed (as fast as possible is 'cobalt backtest')`);
}

// Checked before any logger is made (pino throws on an unknown level); it lives with the config, which every command reads.
export { logLevelRefusal };

/**
 * Returns a live account's equity at start, which the VaR caps are a share of (risk-limits.ts accountEquity): its quote,
 * plus its base asset valued at the best bid of the market data's book (Binance REST depth, where the engine's marks
 * come from), what it would sell for now. Without that price (the request failed, the book has no bid) the base is
 * left out, so the caps come out smaller, never larger, and a warning says so.
 */
export async function liveStartEquity(config: Config, balances: readonly VenueBalance[], logger: Logger): Promise<Money> {
  const inst = dataInstrumentsOf(config)[0]!;
  const held = balances.find((b) => b.asset === inst.base);
  let bid: Ticks | undefined;
  if (held !== undefined && held.free + held.locked > 0n) {
    let unpriced: string | undefined;
    try {
      bid = (await new BinanceRest({ baseUrl: config.venues.binance.restUrl }).depthSnapshot(inst, 5)).bids[0]?.[0];
      if (bid === undefined) unpriced = `the ${inst.symbol} book has no bid`;
    } catch (err) {
      unpriced = scrubVenueMessage(err instanceof Error ? err.message : String(err));
    }
    if (unpriced !== undefined) {
      logger.warn({ code: 'START_EQUITY_UNPRICED', asset: inst.base, reason: unpriced }, `the ${inst.base} held is left out of the equity the VaR caps are taken from: no price for it at start`);
    }
  }
  const equity = accountEquity(balances, inst, bid);
  logger.info({ equity: formatFixed(equity), ...(bid !== undefined ? { price: ticksToPrice(inst, bid) } : {}) }, 'account equity at start (the VaR caps are a share of it)');
  return equity;
}

async function venueTime(restUrl: string): Promise<number> {
  const res = await fetch(new URL('/api/v3/time', restUrl));
  const body = (await res.json()) as { serverTime?: number };
  if (typeof body.serverTime !== 'number') throw new Error(`${restUrl}/api/v3/time answered without serverTime`);
  return body.serverTime;
}

/** What `runCommand` may take instead of the process's (tests): its signals, its crashes and its exit. */
export interface RunProcess {
  readonly source?: SignalSource;
  readonly crashes?: CrashSource;
  readonly exit?: StopOptions['exit'];
  /** Signal handlers of the process from before runCommand (the `run` action's), removed once the start's are added. */
  readonly early?: { remove(): void };
}

/**
 * Runs the daemon; resolves with the exit code only on a start failure (a signal, the replay's end or a crash exits the
 * process). From its start to its exit an uncaught exception or unhandled rejection is a crash (watchCrashes: exit 70).
 */
export async function runCommand(o: { config: string; live?: boolean; speed?: string }, signals: RunProcess = {}): Promise<number> {
  const held: { sys?: System } = {};
  const watch = watchCrashes({
    alerts: () => held.sys?.alerts, now: () => held.sys?.clock.now() ?? Date.now(),
    ...(signals.crashes ? { source: signals.crashes } : {}), ...(signals.exit ? { exit: signals.exit } : {}),
  });
  const exit = runExit(watch, signals.exit);
  const starting = watchStartSignals(signals.source ?? (process as unknown as SignalSource), exit);
  signals.early?.remove();
  try {
    return await runDaemon(o, { ...signals, exit, crashed: () => watch.crashed, starting }, held);
  } finally {
    // A start failure returns: a process running many engines (the tests) must not keep the handlers of those gone.
    starting.remove();
    watch.remove();
  }
}

/** The signal handlers of the daemon's start (watchStartSignals). */
interface StartSignals {
  /** The first signal received, once one was. */
  readonly signal: string | undefined;
  /** Says the system is being built from now on (it opens the store): a first signal is then kept, not exited on. */
  building(): void;
  /** Removes the handlers (the daemon's own take over, or the start ended). */
  remove(): void;
}

/**
 * Handles SIGINT/SIGTERM from the start of `cobalt run` until installSignalHandlers takes over, once the system is
 * built: the config, the recording scan and buildSystem take seconds, and a signal then ended the process at once with
 * 130/143 and no line, the codes `run --help` gives for a second signal. The first is logged (START_INTERRUPTED). Until
 * buildSystem begins nothing holds the store or its lock, so it exits 0 at once: waiting for the step under way left a
 * start hung on a venue that never answers running, deaf to it. Once building has begun it is kept, and the built
 * system is stopped gracefully, never started (exit 0). A second exits at once with 128 + its number, through `exit`.
 */
function watchStartSignals(source: SignalSource, exit: (code: number) => void, signals: readonly string[] = ['SIGINT', 'SIGTERM']): StartSignals {
  let first: string | undefined;
  let building = false;
  const onSignal = (signal: string): void => {
    if (first !== undefined) {
      log().warn({ signal }, 'second signal while starting: exiting at once');
      exit(signalExitCode(signal));
      return;
    }
    first = signal;
    // The process-wide logger is the daemon's by now: runDaemon sets it before its first await, where a signal lands.
    if (!building) {
      log().warn({ signal, code: 'START_INTERRUPTED' }, `${signal} while starting: stopping before start (nothing was opened yet)`);
      exit(0);
      return;
    }
    log().warn({ signal, code: 'START_INTERRUPTED' }, `${signal} while starting: stopping before start (the system being built is stopped unstarted; a second signal exits at once)`);
  };
  for (const s of signals) source.on(s, onSignal);
  return {
    get signal() {
      return first;
    },
    building: () => void (building = true),
    remove: () => {
      for (const s of signals) source.off(s, onSignal);
    },
  };
}

/**
 * Returns the exit of the run's graceful stop. None once a crash is being reported: the crash exits 70, and a stop
 * finishing meanwhile must not exit 0 over it (nor remove its handlers). The crash handlers stay until the exit itself,
 * so that a throw while the log is written out is still a crash: the process's exit takes them with it, after the log
 * flush; an injected exit (tests) removes them once called.
 */
export function runExit(watch: CrashWatch, exit: ((code: number) => void) | undefined): (code: number) => void {
  return (code) => {
    if (watch.crashed) return;
    if (exit) {
      exit(code);
      watch.remove();
      return;
    }
    process.exitCode = code;
    // An inference pool still loading its models (an online-learning candidate, a replaced worker) would abort the
    // process (134) at exit: awaitExitHolds waits for it, bounded.
    void awaitExitHolds().then(() => flushLog()).then(() => {
      if (!watch.crashed) process.exit(code);
    });
  };
}

/**
 * Watches the daemon for a crash (installCrashHandlers): the fatal ENGINE_CRASHED line, then the post of the alerts
 * webhook (`alerts()`, none before the system is built) given at most CRASH_TELL_MS, then the exit with CRASH_EXIT_CODE
 * (70). Nothing is stopped gracefully: the next start recovers the store as after kill -9. Returns the handlers: their
 * `crashed` is true once a crash is being reported.
 */
export function watchCrashes(o: {
  alerts: () => AlertsWebhook | undefined; now: () => number; source?: CrashSource; exit?: (code: number) => void; deadlineMs?: number;
}): CrashWatch {
  const deadlineMs = o.deadlineMs ?? CRASH_TELL_MS;
  return installCrashHandlers({
    deadlineMs, ...(o.source ? { source: o.source } : {}), ...(o.exit ? { exit: o.exit } : {}),
    tell: (err, origin) => o.alerts()?.crashed(crashEvent(err, origin, o.now()), deadlineMs),
  });
}

// The daemon itself (runCommand); `held.sys` is the system once built, which a crash's post goes through, and
// `signals.crashed` says a crash is being reported (the graceful stop then neither starts nor exits).
async function runDaemon(
  o: { config: string; live?: boolean; speed?: string },
  signals: RunProcess & { readonly exit: (code: number) => void; readonly crashed: () => boolean; readonly starting: StartSignals },
  held: { sys?: System },
): Promise<number> {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(o.config);
  } catch (err) {
    process.stderr.write(`cobalt run: ${(err as Error).message}\n`);
    return 2;
  }
  const refusal = runRefusal(loaded, o);
  if (refusal) {
    process.stderr.write(`cobalt run: ${refusal}\n`);
    return 2;
  }
  const { config } = loaded;
  // The config's level was checked when it loaded; the environment's is checked here, before pino throws on it.
  const badLevel = logLevelRefusal(process.env.COBALT_LOG_LEVEL);
  if (badLevel) {
    process.stderr.write(`cobalt run: ${badLevel}\n`);
    return 2;
  }
  const logger: Logger = createLogger({ level: process.env.COBALT_LOG_LEVEL ?? config.log.level });
  setLogger(logger);
  // A first signal before the system is built exits at once (watchStartSignals); the start must then go no further.
  const interrupted = (): boolean => signals.starting.signal !== undefined;
  const replay = config.data.replayFiles.length > 0;
  const simulator = !replay && LOOPBACK.test(config.venues.binance.restUrl);
  let speed: number;
  try {
    speed = parseRunSpeed(o.speed, config.data.speed, replay ? 'replay' : simulator ? 'simulator' : 'live');
  } catch (err) {
    process.stderr.write(`cobalt run: ${(err as Error).message}\n`);
    return 2;
  }
  // Time follows the data: a replay starts at its first recorded line, a simulator on loopback at its server time.
  let clock: Clock;
  // A replay's time is its data's: the feed sets a simulated clock to each line while pacing itself on the wall
  // clock at --speed. A wall-driven clock would run ahead of a feed slowed by start-up or a busy CPU, and the
  // DataProvider would close every 1s bar before its trades arrived (flat candles, trades dropped as late).
  // On a store an earlier run replayed into, time starts after where that run got to (replayStart). The replay's
  // timeline (each lap's shift) goes to the DataProvider, which reads kline history by it.
  let resume: ReplayStart | undefined;
  let timeline: ReplayTimeline | undefined;
  if (replay) {
    // A symbol the recordings do not hold would run forever without a price of it, saying nothing. A symbol without
    // increments (ConfigError) is refused here as buildSystem would refuse it.
    let unrecorded: string | undefined;
    try {
      unrecorded = unrecordedSymbolRefusal(config, await recordedSymbols(config.data.replayFiles));
    } catch (err) {
      process.stderr.write(`cobalt run: ${err instanceof ConfigError ? `${loaded.file}: ` : 'cannot start the replay: '}${(err as Error).message}\n`);
      return 2;
    }
    if (unrecorded !== undefined) {
      process.stderr.write(`cobalt run: ${loaded.file}: ${unrecorded}\n`);
      return 2;
    }
    try {
      resume = await replayStart(config.data.replayFiles, config.store.path);
    } catch (err) {
      process.stderr.write(`cobalt run: cannot start the replay: ${(err as Error).message}\n`);
      return 2;
    }
    timeline = new ReplayTimeline(resume.firstMs, resume.startMs - resume.firstMs);
    clock = new SimulatedClock(timeline.startMs);
  } else if (simulator) {
    let t0: number;
    try {
      t0 = await venueTime(config.venues.binance.restUrl);
    } catch (err) {
      // The request a signal left hanging, ended since: the exit under way is the answer.
      if (interrupted()) return new Promise<number>(() => undefined);
      process.stderr.write(`cobalt run: the exchange simulator at ${config.venues.binance.restUrl} does not answer (${(err as Error).message}); start it first (npx cobalt exchange-sim …)\n`);
      return 2;
    }
    clock = new ScaledClock(t0, speed);
  } else {
    if (o.speed !== undefined && speed !== 1) logger.warn('--speed applies to recorded data and exchange simulators only: live data runs in real time');
    clock = new LiveClock();
  }
  // A signal during the steps above has exited (watchStartSignals): the start goes no further.
  if (interrupted()) return new Promise<number>(() => undefined);

  let built: System | ConfigError;
  if (config.mode === 'live') {
    let venue: Awaited<ReturnType<typeof liveVenue>>;
    try {
      venue = await liveVenue(config, loaded.secrets, clock);
    } catch (err) {
      process.stderr.write(`cobalt run: ${(err as Error).message}\n`);
      return 2;
    }
    // The first signed call: bad keys, a clock off by more than recvWindow or a venue outage end here, as a refusal
    // like the others (one line, exit 2). The message is already scrubbed of the signed URL (classifyCcxtError);
    // scrubbing again covers an error that did not come through it.
    let balances: Awaited<ReturnType<typeof venue.fetchBalances>>;
    try {
      balances = await venue.fetchBalances();
    } catch (err) {
      process.stderr.write(`cobalt run: the ${liveVenueTarget(config).venue} account could not be read (refusing to start): ${scrubVenueMessage(err instanceof Error ? err.message : String(err))}\n`);
      return 2;
    }
    const quote = config.symbols.primary.split('/')[1]!;
    const q = balances.find((b) => b.asset === quote);
    const cash = q ? q.free + q.locked : 0n;
    const equity = await liveStartEquity(config, balances, logger);
    // A signal while the venue was read: it has exited, so nothing is built, the store is not opened, no caps printed.
    if (interrupted()) return new Promise<number>(() => undefined);
    signals.starting.building();
    built = await refuseOnConfigError(() => buildSystem(config, { clock, mode: 'live', secrets: loaded.secrets, venueOverride: () => venue, liveCash: cash as never, liveEquity: equity, logger, replaySpeed: speed, rng: Math.random, ...(replay ? { replayPace: new LiveClock() } : {}), ...(timeline ? { replayTimeline: timeline } : {}), ...deadlineOption(clock) }));
    // Built, not started (sys.start below starts the executor): nothing has gone to the venue but reads. The caps are
    // the limits the RiskManager will start with, which are the operator's from the store when the config values
    // they were set over are unchanged (risk-child.ts): the key is system.ts's for a live start.
    if (!(built instanceof ConfigError)) {
      const start = startLimits(built.store, built.limits, built.limitsKey);
      process.stdout.write(`${JSON.stringify({
        account: Object.fromEntries(balances.map((b) => [b.asset, { free: formatFixed(b.free), locked: formatFixed(b.locked) }])),
        caps: liveCaps(start.limits, built.traded, start.restored),
        venue: liveVenueTarget(config), increments: increments(venue.instrument(config.symbols.primary)),
      })}\n`);
    }
  } else {
    signals.starting.building();
    built = await refuseOnConfigError(() => buildSystem(config, { clock, mode: 'paper', secrets: loaded.secrets, logger, replaySpeed: speed, ...(replay ? { replayPace: new LiveClock() } : {}), ...(timeline ? { replayTimeline: timeline } : {}), ...deadlineOption(clock) }));
  }
  if (built instanceof ConfigError) {
    process.stderr.write(`cobalt run: ${built.message}\n`);
    return 2;
  }
  const sys = built;
  held.sys = sys;
  if (resume && timeline && sys.feed instanceof ReplayFeed) keepReplayTime(sys.feed, resume, timeline, sys.store, logger);
  if (sys.paper?.restored.balances) logger.info({ restored: sys.paper.restored }, 'paper account restored from the store');
  const stop = new ProcessStop(sys.lifecycle, { exit: signals.exit, crashed: signals.crashed, onReport: (r) => logger.info({ ok: r.ok }, 'stopped') });
  // Added before the start's are removed: with no listener left in between, Node drops the process's signal handle,
  // and a signal the OS had delivered but Node not yet dispatched was lost (the daemon then ran on, the signal ignored).
  installSignalHandlers(sys.lifecycle, { source: signals.source, stop });
  signals.starting.remove();
  // Until the stop (a signal, the replay's end) exits the process.
  const running = new Promise<number>(() => undefined);
  // A signal while the system was built: it is stopped gracefully, never started.
  if (signals.starting.signal !== undefined) {
    stop.now(signals.starting.signal);
    return running;
  }
  if (sys.feed instanceof ReplayFeed) stopAtReplayEnd(sys.feed.done, stop, logger);
  // The dashboard starts before the engine: a live start reconciles with the venue for seconds, or for as long as the
  // venue fails, and that is when the trader needs its views and /metrics (the executor reconciling, the venue errors,
  // the protective stops unverified). Started first, its view model also sees the start-up's own messages.
  let engineRunning = false;
  const dash = config.dashboard.enabled
    ? await startDaemonDashboard(sys, loaded, logger, (action) => controlRefusal(sys, engineRunning, action))
    : undefined;
  // A signal while the dashboard started: the shutdown is under way and nothing is started.
  if (sys.lifecycle.shuttingDown) return running;
  try {
    // start() starts every actor before it awaits anything: the RiskManager is subscribed once it returns.
    const starting = sys.start();
    if (dash) applyHeldKill(sys, dash.heldKill);
    await starting;
  } catch (err) {
    if (!(err instanceof EngineStartError)) throw err;
    logger.error({ err, code: 'ENGINE_START_FAILED' }, err.message);
    process.stderr.write(`cobalt run: ${err.message}\n`);
    await sys.stop('start failed');
    return 1;
  }
  // A signal during start-up (a live start reconciles with the venue for seconds) began the shutdown, which went on
  // while the start finished: nothing more is started, and the handler exits once the shutdown is done.
  if (sys.lifecycle.shuttingDown) return running;
  engineRunning = true;
  logger.info({ mode: config.mode, store: config.store.path, models: sys.models.loaded, speed }, 'engine running');
  startStatusLine(sys, logger);
  return running;
}

/** What a dashboard control action other than a kill is answered (503) while the engine starts. */
export const ENGINE_STARTING = 'engine starting: control actions other than the kill switch are accepted once it runs';

/**
 * Why the daemon's dashboard refuses `action` now (every action, asked without one): all but a kill while the engine
 * starts (ENGINE_STARTING); once it runs, an action whose actor is not running, restarting or failed for good
 * (CONTROL_TARGETS). The bus drops a message nobody subscribes to: a `limits` or `stop` sent while the RiskManager
 * restarts was answered 200 and did nothing. A kill is not refused for this: it is held until the RiskManager runs.
 */
export function controlRefusal(sys: Pick<System, 'handles' | 'supervisor'>, engineRunning: boolean, action?: ControlAction): string | undefined {
  if (!engineRunning) return ENGINE_STARTING;
  if (action === undefined) return undefined;
  const risk = CONTROL_TARGETS[action] === 'risk';
  if (risk ? sys.handles.risk() !== undefined : sys.handles.orchestrator.current !== undefined) return undefined;
  const who = risk ? 'the RiskManager' : 'the Orchestrator';
  const failed = sys.supervisor.status().find((c) => c.id === (risk ? RISK_ID : ORCHESTRATOR_ID))?.state === 'failed';
  if (failed) {
    return `${who} failed for good (the engine is halted): '${action}' would reach nobody and was not sent; ` +
      `${risk ? 'open positions are not managed: flatten at the venue by hand, or ' : ''}restart the engine`;
  }
  return `${who} is restarting: '${action}' would reach nobody and was not sent; send it again once it runs${risk ? ' (a kill is held until then)' : ''}`;
}

/**
 * Starts the daemon's dashboard on `sys` and closes it with the shutdown; returns it, or undefined when it did not start.
 * Until `controlsRefusal()` answers undefined its control actions are refused (503): a message published before the
 * actors start has no subscriber and is dropped while the page reports a success, and during the start-up
 * reconciliation the executor refuses orders (EXECUTOR_NOT_READY). All but a kill (applyHeldKill): a trader who sees
 * something wrong while a live start reconciles, for as long as the venue fails, must not be left with SIGTERM alone.
 * A dashboard that fails to start is logged and trading goes on without it.
 */
async function startDaemonDashboard(
  sys: System, loaded: LoadedConfig, logger: Logger, controlsRefusal: (action?: ControlAction) => string | undefined,
): Promise<DashboardHandle | undefined> {
  try {
    const { startDashboard, resolveDashboardToken } = await import('../engine/dashboard/index.ts');
    const token = resolveDashboardToken(loaded.secrets);
    const dash = await startDashboard({
      bus: sys.bus, supervisor: sys.supervisor, config: loaded.config.dashboard, token, clock: sys.clock, instruments: sys.dataInstruments,
      venueInstruments: [sys.traded], providers: dashboardProviders(sys), controlsRefusal,
      // The RiskManager runs from sys.start() on (and saves what it takes): a kill goes to it at once, else is held.
      killTaken: () => sys.handles.risk() !== undefined,
    });
    if (sys.lifecycle.shuttingDown) {
      // A signal while it started: the shutdown's close hooks may have run already.
      await dash.close().catch((err: unknown) => logger.error({ err }, 'dashboard failed to close'));
      return undefined;
    }
    sys.lifecycle.onClose('dashboard', () => dash.close());
    // The page takes a #token= fragment into the tab's storage and drops it from the address bar (a fragment never
    // reaches a server log), so opening the printed link is enough to use the controls.
    process.stderr.write(`dashboard: ${dash.url}${token.generated ? `#token=${token.token}` : ''}\n`);
    if (!existsSync('dist/web')) logger.warn('dist/web is missing: the dashboard serves its API but no page until the web UI is built');
    return dash;
  } catch (err) {
    logger.error({ err }, 'dashboard failed to start; trading continues without it');
    return undefined;
  }
}

// Why a kill still held is dropped at the stop's intake (the RiskManager not running).
const KILL_DROPPED_SHUTDOWN = 'the engine is stopping (nothing trades)';

/**
 * Publishes the kill the dashboard held (`held`) as soon as the RiskManager runs. It runs from sys.start() on (every
 * actor is started before start() awaits anything), and the dashboard publishes a kill at once while it runs
 * (killTaken); a kill asked for while it is down (its first start failed, a restart, during the start or later) is
 * held and published the moment it runs again, before anything else reaches it (sys.onRiskRunning). The RiskManager
 * saves the kill switch and the standing flatten as it takes them, so a kill taken during the start survives a
 * shutdown or a failed start; the flatten's exits, refused by the executor while it reconciles, are sent again once it
 * answers. A kill still held is dropped, with a log line, at the stop's intake or a failed start when the RiskManager
 * is not running, or when the engine halts for the RiskManager (it failed for good, or the supervisor did): from then
 * on a kill is still published while the RiskManager runs, and refused, saying why, while it does not.
 */
export function applyHeldKill(sys: Pick<System, 'ready' | 'lifecycle' | 'handles' | 'onRiskRunning' | 'bus'>, held: HeldKill): void {
  const riskRuns = (): boolean => sys.handles.risk() !== undefined;
  if (riskRuns()) held.apply();
  const offRunning = sys.onRiskRunning(() => void held.apply());
  const offHalted = sys.bus.subscribe('sys.halted', (m) => {
    // Another actor failed for good: a RiskManager restarting still comes back (and takes the kill); the supervisor
    // itself (no actor): nothing restarts any more.
    if (m.actor !== RISK_ID && !(m.actor === undefined && !riskRuns())) return;
    end(`the RiskManager is down for good (${m.reason}): the engine is halted; flatten at the venue by hand, or restart`);
  });
  function end(why: string): void {
    offRunning();
    offHalted();
    if (riskRuns()) held.apply();
    held.drop(why);
  }
  sys.lifecycle.onStopIntake('held-kill', () => end(KILL_DROPPED_SHUTDOWN));
  sys.ready().catch((err: unknown) => end(`the engine failed to start (nothing trades): ${err instanceof Error ? err.message : String(err)}`));
}

/**
 * Starts the status line: rewritten every second on a terminal, else logged every 30 s. Both stop with the intake, and
 * the line's bus subscriptions go with them: a daemon's stop must leave no timer logging the state of a stopped engine.
 */
function startStatusLine(sys: System, logger: Logger): void {
  const status = new StatusLine(sys);
  const tty = process.stdout.isTTY === true;
  const t = tty
    ? setInterval(() => process.stdout.write(`\r\x1b[2K${status.line(process.stdout.columns || 160)}`), 1_000)
    : setInterval(() => logger.info({ status: status.fields() }, 'status'), 30_000);
  // The log's timer alone must not keep a process alive; the terminal's line ends with the intake anyway.
  if (!tty) t.unref();
  sys.lifecycle.onStopIntake('status-line', () => {
    clearInterval(t);
    status.close();
    if (tty) process.stdout.write('\n');
  });
}

// The reason a replay's end shuts down with (the shutdown's `signal` in the log), whether it ended or failed.
const REPLAY_END = 'REPLAY_ENDED';

/**
 * Stops the daemon through `stop`, as SIGTERM does, when the replay ends (`done` settling: the last file read with
 * data.loop false, or a file that failed), once a line with code REPLAY_ENDED (or REPLAY_FAILED) said why. Without it
 * the process went on with nothing left to do: it idled forever on a terminal, and elsewhere exited 13 (an unsettled
 * top-level await) with no line and no graceful stop. The exit code is the stop's (0 after a clean shutdown), 1 when
 * the replay failed. A shutdown already under way (a signal) is left to finish as it was asked for.
 */
export function stopAtReplayEnd(done: Promise<void>, stop: ProcessStop, logger: Logger): void {
  done.then(
    () => {
      if (stop.lifecycle.shuttingDown) return;
      logger.info({ code: 'REPLAY_ENDED' }, 'the replay read the last line of its recordings (data.loop is off): shutting down');
      stop.now(REPLAY_END);
    },
    (err: unknown) => {
      stop.fail();
      if (stop.lifecycle.shuttingDown) return;
      logger.error({ code: 'REPLAY_FAILED', err }, 'the replay failed: shutting down');
      stop.now(REPLAY_END);
    },
  );
}

/**
 * Returns the clock the orchestrator's model deadline and pending-intent timeout run on for an engine on `clock`
 * (SystemOptions.deadlineClock): the wall clock for a ScaledClock at a speed other than 1 (`--speed` against the
 * exchange simulator), whose timers fire `speed` times early in wall time while those waits measure wall-time work
 * (a 1000 ms model deadline was 50 ms at --speed 20); undefined otherwise (wall time already, or a replay's pace).
 */
export function deadlineClockFor(clock: Clock): Clock | undefined {
  return clock instanceof ScaledClock && clock.speed !== 1 ? new LiveClock() : undefined;
}

// deadlineClockFor as buildSystem options.
function deadlineOption(clock: Clock): { deadlineClock?: Clock } {
  const c = deadlineClockFor(clock);
  return c === undefined ? {} : { deadlineClock: c };
}

/**
 * Returns the caps of the live start line in the config's units: the notionals, drawdown and submit rate of `limits`,
 * the quantity caps as whole lots of `traded` (absent when not set), and `restored: true` when `limits` are an
 * operator's kept from the store rather than the config's.
 */
export function liveCaps(limits: RiskLimits, traded: Instrument, restored: boolean): Record<string, unknown> {
  const lots = limits.symbols[traded.symbol];
  return {
    maxOrderNotional: formatMoney(limits.maxOrderNotional), maxPositionNotional: formatMoney(limits.maxPositionNotional),
    maxDrawdownPct: limits.maxDrawdownBps / 100, maxSubmitPerSec: limits.maxSubmitsPerSecond,
    ...(lots?.maxOrderLots !== undefined ? { maxOrderQty: lotsToQty(traded, lots.maxOrderLots) } : {}),
    ...(lots?.maxPositionLots !== undefined ? { maxPositionQty: lotsToQty(traded, lots.maxPositionLots) } : {}),
    ...(restored ? { restored: true } : {}),
  };
}

// Has `feed` start where `resume` says (the clock already does) and keep in `store` how far it got, for the next start;
// `timeline` (the clock's) learns the lap length from the feed once its first pass ends.
function keepReplayTime(feed: ReplayFeed, resume: ReplayStart, timeline: ReplayTimeline, store: System['store'], logger: Logger): void {
  timeline.follow(feed);
  if (resume.resumeAfterMs !== undefined) {
    feed.resumeAfter(resume.resumeAfterMs);
    logger.info({ code: 'REPLAY_RESUMED', after: new Date(resume.resumeAfterMs).toISOString(), start: new Date(resume.startMs).toISOString() },
      'the store was replayed into before: the replay goes on in time after where that run got to');
  }
  const position = new ReplayPosition(store, logger);
  feed.reserveWith((ts) => position.reserve(ts));
}

// The increments orders are sized and priced with, as the trader reads them.
function increments(i: Instrument | undefined): Record<string, string> | undefined {
  return i && { symbol: i.symbol, tickSize: formatDecimal(i.tickSize), lotSize: formatDecimal(i.lotSize), minNotional: formatFixed(i.minNotional) };
}
