// `cobalt run`: the daemon. Paper trading on live or replayed data by default; real orders only with `mode: live`
// in the config AND `--live` AND keys in the environment. Runs until SIGINT/SIGTERM (graceful: stop intake, drain,
// flush LMDB, stop actors); everything needed to continue after a crash or kill -9 is in LMDB (config.store.path):
// the executor's orders/fills/positions (reconciled with the venue at start), the paper venue's account and open
// orders, the risk manager's trading state and equity peak, the inference history.
import { dashboardProviders } from './dashboard-providers.ts';
import { existsSync } from 'node:fs';
import { loadConfig, missingDataPaths, preflightProblems, type LoadedConfig } from '../engine/config/index.ts';
import { createLogger, setLogger, type Logger } from '../engine/log.ts';
import { installSignalHandlers } from '../engine/runtime/lifecycle.ts';
import { recordingStartMs } from '../actors/data-provider/replay.ts';
import { formatDecimal, formatFixed } from '../engine/types/decimal.ts';
import type { Instrument } from '../engine/types/instrument.ts';
import { LiveClock, ScaledClock, SimulatedClock, type Clock } from '../engine/runtime/clock.ts';
import { StatusLine } from './status-line.ts';
import { liveVenue, liveVenueTarget } from './live-venue.ts';
import { buildSystem, refuseOnConfigError, type System } from './system.ts';
import { ConfigError } from '../engine/types/errors.ts';
import { scrubVenueMessage } from '../engine/venues/ccxt-exec.ts';

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

/** Parses --speed: a positive number. */
export function parseRunSpeed(s: string | undefined, fallback: number): number {
  if (s === undefined) return fallback > 0 ? fallback : 1;
  const v = Number(s);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--speed must be a number > 0 (as fast as possible is 'cobalt backtest'), not '${s}'`);
  return v;
}

async function venueTime(restUrl: string): Promise<number> {
  const res = await fetch(new URL('/api/v3/time', restUrl));
  const body = (await res.json()) as { serverTime?: number };
  if (typeof body.serverTime !== 'number') throw new Error(`${restUrl}/api/v3/time answered without serverTime`);
  return body.serverTime;
}

/** Runs the daemon; resolves with the exit code only on a start failure (a signal exits the process). */
export async function runCommand(o: { config: string; live?: boolean; speed?: string }): Promise<number> {
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
  const logger: Logger = createLogger({ level: process.env.COBALT_LOG_LEVEL ?? config.log.level });
  setLogger(logger);
  let speed: number;
  try {
    speed = parseRunSpeed(o.speed, config.data.speed);
  } catch (err) {
    process.stderr.write(`cobalt run: ${(err as Error).message}\n`);
    return 2;
  }
  // Time follows the data: a replay starts at its first recorded line, a simulator on loopback at its server time.
  let clock: Clock;
  const replay = config.data.replayFiles.length > 0;
  const simulator = !replay && LOOPBACK.test(config.venues.binance.restUrl);
  // A replay's time is its data's: the feed sets a simulated clock to each line while pacing itself on the wall
  // clock at --speed. A wall-driven clock would run ahead of a feed slowed by start-up or a busy CPU, and the
  // DataProvider would close every 1s bar before its trades arrived (flat candles, trades dropped as late).
  if (replay) clock = new SimulatedClock(await recordingStartMs(config.data.replayFiles));
  else if (simulator) clock = new ScaledClock(await venueTime(config.venues.binance.restUrl), speed);
  else {
    if (o.speed !== undefined && speed !== 1) logger.warn('--speed applies to recorded data and exchange simulators only: live data runs in real time');
    clock = new LiveClock();
  }

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
    process.stdout.write(`${JSON.stringify({
      account: Object.fromEntries(balances.map((b) => [b.asset, { free: formatFixed(b.free), locked: formatFixed(b.locked) }])),
      caps: {
        maxOrderNotional: config.risk.maxOrderNotional, maxPositionNotional: config.risk.maxPositionNotional, maxDrawdownPct: config.risk.maxDrawdownPct, maxSubmitPerSec: config.risk.maxSubmitPerSec,
        maxOrderQty: config.risk.maxOrderQty, maxPositionQty: config.risk.maxPositionQty, // absent when not set
      },
      venue: liveVenueTarget(config), increments: increments(venue.instrument(config.symbols.primary)),
    })}\n`);
    built = await refuseOnConfigError(() => buildSystem(config, { clock, mode: 'live', secrets: loaded.secrets, venueOverride: () => venue, liveCash: cash as never, logger, replaySpeed: speed, rng: Math.random, ...(replay ? { replayPace: new LiveClock() } : {}) }));
  } else {
    built = await refuseOnConfigError(() => buildSystem(config, { clock, mode: 'paper', secrets: loaded.secrets, logger, replaySpeed: speed, ...(replay ? { replayPace: new LiveClock() } : {}) }));
  }
  if (built instanceof ConfigError) {
    process.stderr.write(`cobalt run: ${built.message}\n`);
    return 2;
  }
  const sys = built;
  if (sys.paper?.restored.balances) logger.info({ restored: sys.paper.restored }, 'paper account restored from the store');
  installSignalHandlers(sys.lifecycle, { onReport: (r) => logger.info({ ok: r.ok }, 'stopped') });
  await sys.start();
  logger.info({ mode: config.mode, store: config.store.path, models: sys.models.loaded, speed }, 'engine running');

  if (config.dashboard.enabled) {
    try {
      const { startDashboard, resolveDashboardToken } = await import('../engine/dashboard/index.ts');
      const token = resolveDashboardToken(loaded.secrets);
      const dash = await startDashboard({ bus: sys.bus, supervisor: sys.supervisor, config: config.dashboard, token, clock, instruments: sys.dataInstruments, venueInstruments: [sys.traded], providers: dashboardProviders(sys) });
      sys.lifecycle.onClose('dashboard', () => dash.close());
      process.stderr.write(`dashboard: ${dash.url}${token.generated ? ` (control token: ${token.token})` : ''}\n`);
      if (!existsSync('dist/web')) logger.warn('dist/web is missing: the dashboard serves its API but no page until the web UI is built');
    } catch (err) {
      logger.error({ err }, 'dashboard failed to start; trading continues without it');
    }
  }
  const status = new StatusLine(sys);
  if (process.stdout.isTTY) {
    const t = setInterval(() => process.stdout.write(`\r\x1b[2K${status.line(process.stdout.columns || 160)}`), 1_000);
    sys.lifecycle.onStopIntake('status-line', () => {
      clearInterval(t);
      process.stdout.write('\n');
    });
  } else {
    const t = setInterval(() => logger.info({ status: status.fields() }, 'status'), 30_000);
    t.unref();
  }
  return new Promise<number>(() => undefined);
}

// The increments orders are sized and priced with, as the trader reads them.
function increments(i: Instrument | undefined): Record<string, string> | undefined {
  return i && { symbol: i.symbol, tickSize: formatDecimal(i.tickSize), lotSize: formatDecimal(i.lotSize), minNotional: formatFixed(i.minNotional) };
}
