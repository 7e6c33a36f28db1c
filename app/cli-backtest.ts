// `cobalt backtest`: runs app/backtest.ts, prints the summary (JSON on stdout with --json, else a short text) and
// writes the HTML report.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, logLevelRefusal, missingDataPaths } from '../engine/config/index.ts';
import { createLogger, log, setLogger } from '../engine/log.ts';
import { BacktestInSampleError, BacktestModelStuckError, BacktestWindowError, feedSkipped, runBacktest, type BacktestSummary } from './backtest.ts';
import { halvesAccuracy } from './backtest-metrics.ts';
import { refuseOnConfigError } from './system.ts';
import { ConfigError, EngineStartError } from '../engine/types/errors.ts';
import { parseSpanArgs } from '../engine/types/time-arg.ts';
import { ttyProgress } from './backtest-progress.ts';
import { backtestReportHtml } from './report-html.ts';

/** Runs the command; returns the exit code. */
export async function backtestCommand(o: { config: string; json?: boolean; report?: string | false; seed?: string; from?: string; to?: string; allowInSample?: boolean }): Promise<number> {
  let seed: number | undefined;
  if (o.seed !== undefined) {
    // Digits only: Number() read '' (an unset $SEED) as 0 and '0x2A' as 42.
    seed = Number(o.seed);
    if (!/^\d+$/.test(o.seed) || !Number.isSafeInteger(seed)) {
      process.stderr.write(`cobalt backtest: --seed must be a non-negative integer, not '${o.seed}'\n`);
      return 2;
    }
  }
  let window: { fromMs?: number; toMs?: number } | undefined;
  try {
    window = o.from === undefined && o.to === undefined ? undefined : parseSpanArgs(o.from, o.to);
  } catch (err) {
    process.stderr.write(`cobalt backtest: ${(err as Error).message}\n`);
    return 2;
  }
  let loaded;
  try {
    loaded = loadConfig(o.config);
  } catch (err) {
    process.stderr.write(`cobalt backtest: ${(err as Error).message}\n`);
    return 2;
  }
  // The config's log level, as `cobalt run` takes it (COBALT_LOG_LEVEL still wins, when it names a level).
  const badLevel = logLevelRefusal(process.env.COBALT_LOG_LEVEL);
  if (badLevel !== undefined) {
    process.stderr.write(`cobalt backtest: ${badLevel}\n`);
    return 2;
  }
  setLogger(createLogger({ level: process.env.COBALT_LOG_LEVEL ?? loaded.config.log.level }));
  const missing = missingDataPaths(loaded.config);
  if (loaded.config.data.replayFiles.length === 0) missing.push('data.replayFiles: a backtest needs at least one recording');
  if (missing.length > 0) {
    process.stderr.write(`cobalt backtest: ${o.config}:\n${missing.map((m) => `  ${m}`).join('\n')}\n`);
    return 2;
  }
  const progress = ttyProgress();
  let result;
  try {
    result = await refuseOnConfigError(() => runBacktest(loaded.config, {
      ...(seed !== undefined ? { seed } : {}), ...(progress.onProgress ? { onProgress: progress.onProgress } : {}), allowInSample: o.allowInSample === true,
      ...(window ? { window } : {}),
    }));
  } catch (err) {
    // A model trained on this data (its figures would not be a test of anything), or a window with no data in it: a
    // usage error, like a bad config.
    if (err instanceof BacktestInSampleError || err instanceof BacktestWindowError) {
      process.stderr.write(`cobalt backtest: ${err.message}\n`);
      return 2;
    }
    // An engine that could not start, or a model worker that hung: no result, one line saying why.
    if (!(err instanceof EngineStartError || err instanceof BacktestModelStuckError)) throw err;
    process.stderr.write(`cobalt backtest: ${err.message}\n`);
    return 1;
  } finally {
    progress.done();
  }
  if (result instanceof ConfigError) {
    process.stderr.write(`cobalt backtest: ${o.config}: ${result.message}\n`);
    return 2;
  }
  const s = result.summary;
  let reportFile: string | undefined;
  let reportError: string | undefined;
  if (o.report !== false) {
    const file = typeof o.report === 'string' ? o.report : path.join('var', 'reports', `backtest-${s.seed}-${new Date().toISOString().replace(/[:.]/g, '-')}.html`);
    // A report that cannot be written must not take the run's summary with it: the summary still prints, then the
    // failure, and the exit code says so.
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, backtestReportHtml(result));
      reportFile = file;
      log().info({ report: file }, 'backtest report written');
    } catch (err) {
      reportError = `${file}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ ...s, ...(reportFile ? { report: reportFile } : {}) })}\n`);
  else {
    process.stdout.write(`backtest ${s.symbol} ${s.from} -> ${s.to} (seed ${s.seed}, models ${s.models.join(', ')})\n`
      + `  pnl ${s.pnlExact} (fees ${s.fees}), trades ${s.trades}, round trips ${s.roundTrips}, hit rate ${s.hitRate}, sharpe ${s.sharpe}\n`
      + `  max drawdown ${(s.maxDrawdown * 100).toFixed(4)}%, exposure ${(s.exposure * 100).toFixed(1)}%, orders ${s.orders}, denials ${JSON.stringify(s.denials)}\n`
      + `  decisions ${JSON.stringify(s.decisions)}, without an order ${JSON.stringify(s.noIntent)}\n`
      + modelLines(s)
      + honestyLines(s)
      + `  ${s.lines} lines, ${(s.simulatedMs / 1000).toFixed(0)} s of data in ${(s.durationMs / 1000).toFixed(1)} s (${s.speedX}x real time; the replay alone ${(s.replayMs / 1000).toFixed(2)} s, ${s.replaySpeedX}x)`
      + `${reportFile ? `\n  report: ${reportFile}` : ''}\n`);
  }
  let failed = false;
  if (s.engineFailure !== null) {
    process.stderr.write(`cobalt backtest: the engine halted on a fault (${s.engineFailure}); the figures cover only the time before it\n`);
    failed = true;
  }
  if (reportError !== undefined) {
    process.stderr.write(`cobalt backtest: the report was not written: ${reportError}\n`);
    failed = true;
  }
  return failed ? 1 : 0;
}

// One line per model: its answers, judged accuracy, gating weight at the end, failures; then one per model with its
// accuracy in each half of the run (a model that stopped working shows there); then who agreed with whom.
function modelLines(s: BacktestSummary): string {
  const pct = (x: number | null): string => (x === null ? 'none judged' : `${(x * 100).toFixed(1)}%`);
  const lines = s.modelFigures.map((m) => `  ${m.model}: ${m.decisions} answers (BUY ${m.actions.BUY}, SELL ${m.actions.SELL}, HOLD ${m.actions.HOLD}), `
    + `accuracy ${pct(m.accuracy)} of ${m.judged} judged, weight ${m.gatingWeight.toFixed(3)}${m.failures > 0 ? `, ${m.failures} failed (${m.timeouts} timeouts)` : ''}`);
  for (const series of s.modelTimeline.models) {
    const h = halvesAccuracy(s.modelTimeline, series);
    lines.push(`  ${series.model}: accuracy first half ${pct(h.first.accuracy)} of ${h.first.judged}, second half ${pct(h.second.accuracy)} of ${h.second.judged}`);
  }
  const g = s.modelAgreement;
  const pairs = g.models.flatMap((a, i) => g.models.slice(i + 1).map((b, k) => `${a.split('@')[0]}/${b.split('@')[0]} ${pct(g.share[i]![i + 1 + k]!)}`));
  if (pairs.length > 0) lines.push(`  agreement: ${pairs.join(', ')}`);
  return lines.map((l) => `${l}\n`).join('');
}

// What makes the figures less than they look: in-sample models, time without a book, orders left open.
function honestyLines(s: BacktestSummary): string {
  const out: string[] = [];
  if (s.inSample.length > 0) out.push(`  IN-SAMPLE (--allow-in-sample): ${s.modelSpans.filter((m) => m.inSample).map((m) => `${m.model} trained on bars ${m.from} → ${m.to}`).join('; ')}`);
  // The wait for the recording's first snapshot alone is not worth a line.
  if (s.bookDownAtEnd || (s.bookLastDownAt !== null && s.bookLastDownAt !== s.from)) {
    out.push(`  ${s.symbol} book not live for ${(s.bookDownMs / 1000).toFixed(1)} s${s.bookDownAtEnd ? `, down from ${s.bookLastDownAt} to the end (${s.bookLastDownReason})` : ''}`);
  }
  const skipped = feedSkipped(s.feed);
  if (skipped !== undefined) out.push(`  ${skipped}`);
  if (s.openOrders.length > 0) out.push(`  ${s.openOrders.length} order(s) still open at the end: ${s.openOrders.map((o) => `${o.side} ${o.qty}${o.price === null ? '' : ` @ ${o.price}`} (${o.status})`).join(', ')}`);
  return out.map((l) => `${l}\n`).join('');
}
