// The engine's loop on the bundled real recording, through every actor (app/backtest.ts on a SimulatedClock), three
// runs: models off (backtest speed), the momentum rule alone, and momentum + the bundled CNN (models/bundled) served
// by the ONNX pool; `outputs` counts each model's outputs, so a model that failed to run shows. Figures, wall µs:
//   tickToDecision   a primary 1s candle close (the trigger) -> its signal.decision (input assembly, models, blend)
//   tickToVerdict    the same trigger -> risk.orderApproved / risk.orderDenied of the intent it produced
//                    (only ticks that produced an intent; the long/flat policy makes few)
//   intentToVerdict  risk.intent -> its verdict (the RiskManager step alone, every intent)
// plus backtest speed (simulated span / wall time) with models off. One JSON line on stdout.
//   npx tsx bench/loop.ts
import { runBacktest } from '../app/backtest.ts';
import { setLogger, createLogger } from '../engine/log.ts';
import { bundledCnnCheckpoint } from '../models/bundled/index.ts';
import { testConfig } from '../test/e2e/helpers.ts';

setLogger(createLogger({ level: 'silent' }));

function pct(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
}

async function probe(models: { momentum?: boolean; cnnOnnx?: string }) {
  const tick: number[] = [];
  const verdict: number[] = [];
  const outputs: Record<string, number> = {};
  const risk: number[] = [];
  const config = testConfig();
  const r = await runBacktest(config, {
    seed: 1, models,
    onSystem: (sys) => {
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
  return {
    r,
    tickToDecisionUs: { p50: pct(tick, 50), p99: pct(tick, 99), n: tick.length },
    tickToVerdictUs: { p50: pct(verdict, 50), p99: pct(verdict, 99), n: verdict.length },
    intentToVerdictUs: { p50: pct(risk, 50), p99: pct(risk, 99), n: risk.length },
    outputs,
  };
}

const off = await probe({ momentum: false });
const rule = await probe({ momentum: true });
// The CNN the engine runs by default: the bundled checkpoint (it reads the adapter's subset of the BaseDataInput).
const bundled = bundledCnnCheckpoint();
if (!bundled) throw new Error('models/bundled/cnn is missing');
const cnn = await probe({ momentum: true, cnnOnnx: bundled.onnxPath });

process.stdout.write(`${JSON.stringify({
  bench: 'loop',
  data: 'bundled recording ETH/BTC 2024-08-08 23:54 -> 00:05 UTC (179k lines)',
  backtestModelsOff: { speedX: off.r.summary.speedX, durationMs: off.r.summary.durationMs, simulatedMs: Math.round(off.r.summary.simulatedMs), linesPerSec: Math.round(off.r.summary.lines / (off.r.summary.durationMs / 1000)) },
  momentumOnly: { tickToDecisionUs: rule.tickToDecisionUs, tickToVerdictUs: rule.tickToVerdictUs, intentToVerdictUs: rule.intentToVerdictUs, speedX: rule.r.summary.speedX },
  momentumPlusCnn: { tickToDecisionUs: cnn.tickToDecisionUs, tickToVerdictUs: cnn.tickToVerdictUs, intentToVerdictUs: cnn.intentToVerdictUs, speedX: cnn.r.summary.speedX, models: cnn.r.summary.models, outputs: cnn.outputs },
  targets: { p99NoModelUs: 200, p99CnnUs: 3000, backtestSpeedX: 2000 },
})}\n`);
process.exit(0);
