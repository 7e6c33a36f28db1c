// What the dashboard pulls from the running system beyond the bus: risk figures from the RiskManager's integer books
// (VaR, exposure, drawdown and the equity peak it is measured from, equity, limits) with its trading state, reason and
// kill switch (as restored at a restart) and its market circuit breaker per symbol, its cash, positions and equity for
// the portfolio panel (the books a paper start restored from the store, or a live start read from the venue: the page
// keeps no accounting of its own), the COB
// aggregator's gap and resync counters, the orchestrator's decision thresholds in force (config, set, or restored
// after a restart), the checkpoints on disk beside the model versions in the blend, and the inference pool's execution
// provider and latency, where online learning of the CNN and the DQN stands (their promoted checkpoints listed
// with the held-out figure each won on: log loss, after-fee return), and the inference history's writes and retention. The view model samples these when it builds a
// push, never per message, so each is a cheap read; the checkpoint list is read from disk at most every 30 s in the
// background.
import { averageEntry, equity, exposure, unrealised } from '../actors/risk-manager/positions.ts';
import { operatorLimits } from '../actors/risk-manager/limits.ts';
import { drawdownBps, resumeRefusal, type RiskState } from '../actors/risk-manager/logic.ts';
import { moveDenial, spreadDenial, staleDenial } from '../actors/risk-manager/market-guard.ts';
import type { TradingExecutor } from '../actors/trading-executor/executor.ts';
import type { DataProvider } from '../actors/data-provider/provider.ts';
import { TIMEFRAMES } from '../actors/data-provider/logic.ts';
import type { DashboardProviders, PortfolioFigures, PositionRow, TrainingReport } from '../engine/dashboard/index.ts';
import type { ProtectiveStopFigures } from '../engine/dashboard/metrics.ts';
import type { BreakerFigures, CandleHistory, SymbolBreaker } from '../engine/dashboard/view-model.ts';
import { log } from '../engine/log.ts';
import { fixedToFloat, formatDecimal } from '../engine/types/decimal.ts';
import { lotsToFloat, ticksToFloat } from '../engine/types/instrument.ts';
import { moneyToFloat, type Money } from '../engine/types/money.ts';
import type { TsMs } from '../engine/types/time.ts';
import { CheckpointStore } from '../models/checkpoints.ts';
import { readOnlineProvenance } from '../models/online/pipeline.ts';
import { ONLINE_VERSION_PREFIX, onlineCheckpointRoot } from './models.ts';
import type { System } from './system.ts';

const CHECKPOINT_REFRESH_MS = 30_000;

/** Returns the RiskManager's cash, positions and equity as the portfolio panel shows them (display floats). */
export function portfolioFigures(s: RiskState): PortfolioFigures {
  const pf = s.portfolio;
  const positions: PositionRow[] = [];
  for (const [symbol, p] of Object.entries(pf.positions)) {
    const inst = s.instruments[symbol];
    if (!inst) continue;
    const mark = s.marks[symbol];
    positions.push({
      symbol, qty: lotsToFloat(inst, p.lots), avgPrice: moneyToFloat(averageEntry(inst, p)), mark: mark === undefined ? null : ticksToFloat(inst, mark),
      realized: moneyToFloat(p.realised), unrealized: mark === undefined ? 0 : moneyToFloat(unrealised(inst, p, mark)), fees: moneyToFloat(p.fees),
    });
  }
  return {
    quote: pf.quote, cash: moneyToFloat(pf.cash), equity: moneyToFloat(equity(pf, s.instruments, s.marks)), positions,
    otherFees: Object.fromEntries(Object.entries(pf.otherFees).map(([asset, units]) => [asset, fixedToFloat(units)])),
  };
}

/**
 * Returns the market circuit breaker's settings and, per instrument of the RiskManager, whether it denies entries at
 * `nowMs`: each guard apart (a stale feed during a move episode is both). Stale and spread are read at `nowMs`, before
 * any intent made the RiskManager report them (it has no timer of its own).
 */
export function breakerFigures(s: RiskState, nowMs: TsMs): BreakerFigures {
  const l = s.limits;
  const symbols: Record<string, SymbolBreaker> = {};
  for (const symbol of Object.keys(s.instruments)) {
    const g = s.market[symbol];
    const move = moveDenial(g, nowMs, l);
    const stale = staleDenial(g, nowMs, l);
    const spread = spreadDenial(g, nowMs, l);
    symbols[symbol] = {
      move: move ? { moveBps: move.moveBps, until: move.until } : null,
      stale: stale ? { lastMarkAgoMs: stale.lastMarkAgoMs } : null,
      spread: spread ? { spreadBps: spread.spreadBps, wideForMs: spread.wideForMs } : null,
    };
  }
  return {
    ...(l.maxMoveBps !== undefined ? { maxMoveBps: l.maxMoveBps, moveWindowMs: l.moveWindowMs, moveCooldownMs: l.moveCooldownMs } : {}),
    ...(l.markStaleMs !== undefined ? { markStaleMs: l.markStaleMs } : {}),
    ...(l.maxSpreadBps !== undefined ? { maxSpreadBps: l.maxSpreadBps, spreadMs: l.spreadMs } : {}),
    symbols,
  };
}

/**
 * Returns the executor's protective stops as /metrics and the dashboard's panel show them: its counters, and per symbol
 * with a position (or a stop or a problem left) what protects it at the venue now.
 */
export function protectiveStopFigures(ex: Pick<TradingExecutor, 'protectiveStops' | 'venue'>): ProtectiveStopFigures {
  return { ...ex.protectiveStops.figures(), symbols: ex.protectiveStops.snapshot(ex.venue.symbols) };
}

/** Returns the DataProvider's series as the dashboard's charts read them (undefined without a provider). */
export function candleHistory(dp: DataProvider | undefined): CandleHistory | undefined {
  if (!dp) return undefined;
  const s = dp.stats;
  return {
    source: dp,
    // The only ways a bar enters a series without going out on the bus at its end: the candles cache at start, the
    // history load and backfills, and bars fetched again. A venue kline out of order: the view model sees it refused.
    revision: s.cachedBars + s.backfilledBars + s.refetchedBars,
    symbols: dp.symbols,
    timeframes: TIMEFRAMES,
    bars: (symbol, tf, n) => dp.series(symbol, tf).tail(n),
  };
}

/** Returns the dashboard providers of a running system. */
export function dashboardProviders(
  sys: Pick<System, 'config' | 'clock' | 'handles' | 'models'> & Partial<Pick<System, 'online' | 'onlineOff' | 'onlineDqn' | 'onlineDqnOff' | 'history' | 'retention' | 'alerts'>>,
): Omit<DashboardProviders, 'supervisor'> {
  const store = new CheckpointStore({ root: sys.config.models.checkpointDir, clock: sys.clock });
  const onlineStore = new CheckpointStore({ root: onlineCheckpointRoot(sys.config), clock: sys.clock });
  let checkpoints: TrainingReport['checkpoints'] = [];
  let readAt = -Infinity;
  let reading = false;
  const refresh = (): void => {
    const now = sys.clock.now();
    if (reading || now - readAt < CHECKPOINT_REFRESH_MS) return;
    reading = true;
    readAt = now;
    const active = new Map(sys.models.registry.list().map((m) => [m.name, m.active]));
    const offline = ['cnn', 'dqn'].map(async (model) => (await store.list(model)).map((c) => ({
      model, version: c.meta.version, metric: c.meta.metric.value, metricName: c.meta.metric.name,
      active: active.get(model) === c.meta.version, ts: c.meta.createdAt,
    })));
    // Promoted online versions rank by promotion time; the page shows the held-out figure each won on instead: the
    // CNN's log loss, the DQN's after-fee return. Their registry versions carry the online prefix, as app/models.ts and
    // the learners register them.
    const promoted = (model: 'cnn' | 'dqn', metricName: string, won: (p: Record<string, unknown> | undefined) => unknown) =>
      onlineStore.list(model).then((list) => list.map((c) => {
        const version = `${ONLINE_VERSION_PREFIX}${c.meta.version}`;
        const value = won(readOnlineProvenance(c.dir)?.candidate as Record<string, unknown> | undefined);
        return { model, version, metric: typeof value === 'number' ? value : Number.NaN, metricName, active: active.get(model) === version, ts: c.meta.createdAt };
      }));
    const online = sys.config.models.online.enabled
      ? [promoted('cnn', 'held-out log loss (online)', (p) => p?.logLoss), promoted('dqn', 'held-out return (online)', (p) => p?.return)]
      : [];
    Promise.all([...offline, ...online])
      .then((lists) => { checkpoints = lists.flat(); })
      // An unreadable checkpoint folder keeps the last list on the page and is said in the log; trading goes on.
      .catch((err: unknown) => log().warn({ err, code: 'CHECKPOINTS_UNREADABLE', dir: sys.config.models.checkpointDir }, 'dashboard could not list checkpoints'))
      .finally(() => { reading = false; });
  };
  const f = (m: Money | undefined): number | undefined => (m === undefined ? undefined : moneyToFloat(m));
  return {
    // The charts are the series the models read: history and backfilled bars never go out as md.candle.
    candles: () => candleHistory(sys.handles.provider()),
    risk: () => {
      const s = sys.handles.risk();
      if (!s) return undefined;
      const eq = equity(s.portfolio, s.instruments, s.marks);
      return {
        // What the RiskManager enforces now: a restart restores these from the store without announcing them on the bus.
        state: s.tradingState, reason: s.stateReason, killSwitch: s.killSwitch,
        equity: moneyToFloat(eq),
        exposure: moneyToFloat(exposure(s.portfolio, s.instruments, s.marks)),
        drawdownPct: drawdownBps(s.peakEquity, eq) / 100,
        // The peak that drawdown is measured from: the RiskManager's, restored from the store at a restart.
        peakEquity: moneyToFloat(s.peakEquity),
        ...(s.var.var95 !== undefined ? { var95: f(s.var.var95) } : {}),
        ...(s.var.var99 !== undefined ? { var99: f(s.var.var99) } : {}),
        // The limits in force (config, or set at run time), as the page's limit form sends them; lot caps with their
        // quantities in the RiskManager's instruments.
        limits: operatorLimits(s.limits, s.instruments),
        // What the form's lot caps are counted in: the RiskManager's (order venue's) instruments.
        instruments: Object.values(s.instruments).map((i) => ({ symbol: i.symbol, base: i.base, lotSize: formatDecimal(i.lotSize) })),
        // It denies entries without moving the trading state: say so beside it.
        breaker: breakerFigures(s, sys.clock.now()),
      };
    },
    portfolio: () => {
      const s = sys.handles.risk();
      return s && portfolioFigures(s);
    },
    // The aggregator counts every gap, one found while a book is already re-syncing included (md.bookStatus only says
    // when a book enters 'resyncing').
    bookCounters: () => sys.handles.cob.current?.bookCounters(),
    // Live figures of the running orchestrator's monitor (the panel otherwise shows each model as of its last change).
    modelHealth: () => sys.handles.orchestrator.current?.health?.all(),
    ...(sys.alerts ? { alertsWebhook: () => sys.alerts!.counters() } : {}),
    ...(sys.config.execution.protectiveStop.enabled ? {
      protectiveStops: () => {
        const ex = sys.handles.executor();
        return ex && protectiveStopFigures(ex);
      },
    } : {}),
    thresholds: () => sys.handles.orchestrator.current?.thresholds,
    rollbackTargets: (model) => sys.models.registry.list().find((m) => m.name === model)?.rollbackTo,
    resumeRefusal: (resetPeak) => {
      const s = sys.handles.risk();
      return s && resumeRefusal(s, resetPeak);
    },
    training: () => {
      refresh();
      const blend = sys.models.registry.list().map((m) => ({ model: m.name, status: `in the blend as ${m.active} (${m.health})` }));
      const online = sys.online ? [sys.online.report()] : sys.onlineOff !== undefined ? [{ model: 'cnn (online)', status: `off: ${sys.onlineOff}` }] : [];
      const onlineDqn = sys.onlineDqn ? [sys.onlineDqn.report()] : sys.onlineDqnOff !== undefined ? [{ model: 'dqn (online)', status: `off: ${sys.onlineDqnOff}` }] : [];
      return { jobs: [...blend, ...online, ...onlineDqn], checkpoints };
    },
    status: {
      'inference pool': () => {
        const st = sys.models.pool?.stats();
        if (!st) return 'no pool (no ONNX model loaded)';
        const lat = Object.fromEntries(Object.entries(st.models).map(([m, x]) => [m, { p50Ms: x.p50Ms, p99Ms: x.p99Ms, requests: x.requests }]));
        return { providers: st.executionProviders, threads: st.threads, workerDeaths: st.workerDeaths, ...lat };
      },
      models: () => sys.models.loaded,
      'models left out': () => sys.models.skipped,
      // Counters only: a count of the stored records is an LMDB walk (~10 ms per 100,000), too slow for every push.
      'inference history': () => {
        const r = sys.config.store.retention;
        const keep = `${r.maxRecords} per model and symbol, ${r.maxAgeDays} days${r.archive ? `, archived (at most ${r.archiveMaxMB} MB)` : ''}`;
        const st = sys.retention?.stats;
        return {
          recorded: sys.history?.recorded ?? 0, failedWrites: sys.history?.failures ?? 0, keep,
          retention: st
            ? {
              passes: st.passes, removed: st.removed, failures: st.failures, archivesDeleted: st.archivesDeleted,
              ...(st.archiveBytes !== undefined ? { archiveMB: Math.round(st.archiveBytes / 1e5) / 10 } : {}),
              ...(st.lastError !== undefined ? { lastError: st.lastError } : {}),
            }
            : 'off (a backtest keeps no history)',
        };
      },
    },
  };
}
