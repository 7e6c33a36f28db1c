// The engine's loop on the bundled real recording, through every actor (app/backtest.ts on a SimulatedClock). Runs:
//   backtestModelsOff  no model registered: data -> books, COB, candles -> risk marks -> paper venue. Each in a fresh
//                      process (bench/lib/one-backtest.ts, what one `cobalt backtest` pays): `firstEver` with an
//                      empty catalog directory (it decodes the recording into its replay catalog first), `cold` the
//                      next run (catalog on disk), `coldText` reading the recording's text (no catalog). Then 3 runs
//                      in this process: `inProcess.cold` is its first backtest (JIT not warmed up), `warm` the
//                      second, `third` the third (close to the speed a long backtest settles at).
//                      speedX = simulated span / whole wall time (catalog load or build, start, history load,
//                      replay, stop); replaySpeedX = simulated span / replay wall time.
//   ruleOnly           one instantaneous rule as the only model: `alternate` says BUY on one tick and SELL on the
//                      next, so nearly every tick produces an intent (the long/flat momentum policy makes ~4 in 11
//                      minutes, too few for a p99). This is the tick -> risk-approved intent path without a model
//                      cost: input assembly, validation, coordinator, blend, policy, RiskManager.
//   momentumPlusCnn    the momentum rule + the bundled CNN (models/bundled) served by the ONNX pool.
// The two latency probes run twice: `saturated` (the backtest flat out: the main thread never idles, so every tick
// shares it with the replay, GC included) and `paced` (BENCH_PACE times real time, default 20: the engine idles
// between lines as a live one does; the latency a trader's orders see). The rule probe runs four times flat out
// (`saturated` the first, `saturatedWarm` the second, `saturatedSettled` the fourth), the CNN probe once with its own
// pool (`saturated`) and four times through one long-lived pool (`saturatedSettled` the fourth): see below.
// Figures, wall µs:
//   tickToDecision   a primary 1s candle close (the trigger) -> its signal.decision
//   tickToVerdict    the same trigger -> risk.orderApproved / risk.orderDenied of the intent it produced
//   intentToVerdict  risk.intent -> its verdict (the RiskManager step alone)
// hostPauseFactor: bench/host.ts's asleep/warm ratio at p50, taken at the end of the run (see the README).
// One JSON line on stdout.   npm run bench -- loop   (or node --single-threaded-gc --import tsx bench/loop.ts: the
// flag `cobalt` runs with; without it the paced tails are ~1.5x longer)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBacktest } from '../app/backtest.ts';
import type { ModelOverrides } from '../app/models.ts';
import type { System } from '../app/system.ts';
import { createInferencePool } from '../engine/infer/pool.ts';
import { setLogger, createLogger } from '../engine/log.ts';
import { bundledCnnCheckpoint } from '../models/bundled/index.ts';
import { testConfig } from '../test/e2e/helpers.ts';
import { alternate, stats } from './lib/probes.ts';

setLogger(createLogger({ level: 'silent' }));




async function probe(models: ModelOverrides, extra?: (sys: System) => void, paceX = 0) {
  const tick: number[] = [];
  const verdict: number[] = [];
  const outputs: Record<string, number> = {};
  const risk: number[] = [];
  const r = await runBacktest(testConfig({ data: { catalogDir: catDir } }), {
    seed: 1, models, paceX,
    onSystem: (sys) => {
      extra?.(sys);
      let t0 = NaN;
      const intentAt = new Map<string, { tick: number; at: number }>();
      sys.bus.subscribe('md.candle', (m) => {
        if (m.symbol === sys.traded.symbol && m.timeframe === '1s' && m.candle.closed) t0 = performance.now();
      });
      sys.bus.subscribe('signal.modelOutput', (m) => void (outputs[m.output.model] = (outputs[m.output.model] ?? 0) + 1));
      sys.bus.subscribe('signal.decision', () => {
        if (!Number.isNaN(t0)) tick.push((performance.now() - t0) * 1_000);
      });
      sys.bus.subscribe('risk.intent', (m) => void intentAt.set(m.intent.id, { tick: t0, at: performance.now() }));
      const done = (id: string): void => {
        const s = intentAt.get(id);
        if (!s) return;
        const now = performance.now();
        risk.push((now - s.at) * 1_000);
        if (!Number.isNaN(s.tick)) verdict.push((now - s.tick) * 1_000);
        intentAt.delete(id);
      };
      sys.bus.subscribe('risk.orderApproved', (m) => done(m.intent.id));
      sys.bus.subscribe('risk.orderDenied', (m) => done(m.intentId));
    },
  });
  const s = r.summary;
  return {
    summary: { speedX: s.speedX, replaySpeedX: s.replaySpeedX, durationMs: s.durationMs, replayMs: s.replayMs, trades: s.trades, approvals: s.approvals, denials: s.denials },
    tickToDecisionUs: stats(tick), tickToVerdictUs: stats(verdict), intentToVerdictUs: stats(risk), outputs, models: s.models,
  };
}

// The children run with this process's GC flag, as `cobalt backtest` runs with bin/cobalt.mjs's (npm run bench sets it).
const gcFlags = process.execArgv.filter((a) => a === '--single-threaded-gc');
const fresh = (catalogDir: string, text = false) => JSON.parse(execFileSync(process.execPath, [...gcFlags, '--import', 'tsx', 'bench/lib/one-backtest.ts', catalogDir, ...(text ? ['text'] : [])], { encoding: 'utf8' })) as Record<string, number>;
const catDir = mkdtempSync(join(tmpdir(), 'cobalt-bench-catalog-'));
const firstEver = fresh(catDir);
const coldFresh = fresh(catDir);
const coldText = fresh(catDir, true);
const cold = await probe({ momentum: false });
const warm = await probe({ momentum: false });
const third = await probe({ momentum: false });
const withAlternate = (sys: System): void => {
  sys.models.registry.register('alternate', { version: 'bench', run: alternate() }, sys.clock.now());
};
const rule = await probe({ momentum: false }, withAlternate);
// The same again, three more times: the first run is also the process's first with a model, so the decision, risk
// and order paths are still being compiled by V8 during its ticks (p99 ~0.5-3 ms), and the second is still settling.
// `saturatedWarm` is the second run, `saturatedSettled` the fourth: ~35 minutes of ticks into the process, where a
// daemon that has run for a few minutes stands.
const ruleWarm = await probe({ momentum: false }, withAlternate);
await probe({ momentum: false }, withAlternate);
const ruleSettled = await probe({ momentum: false }, withAlternate);
// The CNN the engine runs by default: the bundled checkpoint (it reads the adapter's subset of the BaseDataInput).
const bundled = bundledCnnCheckpoint();
if (!bundled) throw new Error('models/bundled/cnn is missing');
const cnn = await probe({ momentum: true, cnnOnnx: bundled.onnxPath });
// That first CNN run starts its own pool, as a daemon does at start: its workers' isolates compile their code while the
// run's 526 inferences go by in 0.4 s of wall time (a daemon spreads them over 9 minutes). A daemon keeps its pool for
// its life, so the settled figures run the CNN through one long-lived pool (ModelOverrides.cnnPool): the fourth run
// through it, and the paced run after those.
const { poolThreads, timeoutMs } = testConfig().models;
const cnnPool = await createInferencePool({ models: { cnn: bundled.onnxPath }, threads: poolThreads, timeoutMs });
const viaPool = { momentum: true, cnnOnnx: bundled.onnxPath, cnnPool };
for (let i = 0; i < 3; i++) await probe(viaPool);
const cnnSettled = await probe(viaPool);
// The same two, paced: the engine idles between lines as it does live (BENCH_PACE times real time, default 20).
const PACE = Number(process.env.BENCH_PACE ?? 20);
const rulePaced = await probe({ momentum: false }, withAlternate, PACE);
const cnnPaced = await probe(viaPool, undefined, PACE);
await cnnPool.close();
// This host's pause penalty (bench/host.ts, shortened) measured right after, so each run says how much of its paced
// figures is the machine: on a host that keeps the engine's core warm it reads near 1.
const host = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'bench/host.ts'], { encoding: 'utf8', env: { ...process.env, HOST_SAMPLES: '60' } })) as Record<string, { asleepOverWarmP50: number }>;
const lat = (p: typeof rule) => ({ tickToDecisionUs: p.tickToDecisionUs, tickToVerdictUs: p.tickToVerdictUs, intentToVerdictUs: p.intentToVerdictUs });
const off = (p: typeof cold) => ({ speedX: p.summary.speedX, replaySpeedX: p.summary.replaySpeedX, durationMs: p.summary.durationMs, replayMs: p.summary.replayMs });

rmSync(catDir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({
  bench: 'loop',
  nodeFlags: gcFlags,
  data: 'bundled recording ETH/BTC 2024-08-08 23:54 -> 00:05 UTC (179,318 lines, 650.6 s)',
  backtestModelsOff: { firstEver, cold: coldFresh, coldText, inProcess: { cold: off(cold), warm: off(warm), third: off(third) } },
  ruleOnly: { saturated: lat(rule), saturatedWarm: lat(ruleWarm), saturatedSettled: lat(ruleSettled), paced: { paceX: PACE, ...lat(rulePaced) }, approvals: rule.summary.approvals, denials: rule.summary.denials, trades: rule.summary.trades, replaySpeedX: rule.summary.replaySpeedX },
  momentumPlusCnn: { saturated: lat(cnn), saturatedSettled: lat(cnnSettled), paced: { paceX: PACE, ...lat(cnnPaced) }, replaySpeedX: cnn.summary.replaySpeedX, models: cnn.models, outputs: cnn.outputs },
  hostPauseFactor: { json: host['json']!.asleepOverWarmP50, text: host['text']!.asleepOverWarmP50 },
  targets: { p99NoModelUs: 200, p99CnnUs: 3000, backtestSpeedX: 2000 },
})}\n`);
process.exit(0);
