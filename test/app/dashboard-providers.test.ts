import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboardProviders } from '../../app/dashboard-providers.ts';
import type { System } from '../../app/system.ts';
import { DEFAULT_LIMITS } from '../../actors/risk-manager/limits.ts';
import { createRiskState, onMark, type RiskState } from '../../actors/risk-manager/logic.ts';
import { ModelRegistry } from '../../actors/orchestrator/registry.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, priceToTicks, qtyToLots } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';
import { BUNDLED_CNN_DIR } from '../../models/bundled/index.ts';

const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);

describe('dashboard providers', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('reports equity, exposure and drawdown from the risk books, the thresholds in force, and the checkpoints beside the active version', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-dash-'));
    mkdirSync(join(root, 'cnn'), { recursive: true });
    cpSync(BUNDLED_CNN_DIR, join(root, 'cnn', 'v000001'), { recursive: true });
    const clock = new SimulatedClock(1_723_161_300_000);
    // 1 ETH held at 2,680 with 7,320 USDT cash: equity 10,000 at 2,680, then the mark falls to 2,546 (−134).
    let risk: RiskState = createRiskState({
      limits: DEFAULT_LIMITS, instruments: [eth], cash: money('7320'),
      positions: { 'ETH/USDT': { lots: qtyToLots(eth, '1'), cost: money('2680') } },
    });
    risk = onMark(risk, 'ETH/USDT', priceToTicks(eth, '2680'), clock.now()).state;
    risk = onMark(risk, 'ETH/USDT', priceToTicks(eth, '2546'), clock.now()).state;
    const registry = new ModelRegistry();
    registry.register('cnn', { version: 'v000001', run: async () => { throw new Error('not run'); } }, clock.now());
    const { config } = loadConfig('configs/default.yaml', {});
    // The orchestrator handle points at no instance between a stop and a restart.
    const orchestrator: { current?: { thresholds: object } } = {};
    const sys = {
      config: { ...config, models: { ...config.models, checkpointDir: root } }, clock,
      handles: { risk: () => risk, orchestrator } as unknown as System['handles'],
      models: { registry, pool: undefined, ownsPool: false, loaded: ['cnn@v000001'], skipped: [], cnnBound: [] },
    };
    const p = dashboardProviders(sys);
    expect(p.risk!()).toMatchObject({ equity: 9866, exposure: 2546, drawdownPct: 1.34 });
    // The limits as the page's limit form sends them: quote amounts as decimal strings.
    expect((p.risk!() as { limits: unknown }).limits).toEqual({
      maxOrderNotional: '1000', maxPositionNotional: '5000', maxExposure: '8000', maxSubmitsPerSecond: 5, maxDrawdownBps: 1_000, reduceAtDrawdownBps: 500,
      stopLossBps: 200, takeProfitBps: 400, exitOrderType: 'market', exitSlippageBps: 20,
    });
    // What the form's lot caps count in: the RiskManager's instruments.
    expect((p.risk!() as { instruments: unknown }).instruments).toEqual([{ symbol: 'ETH/USDT', base: 'ETH', lotSize: '0.0001' }]);
    p.training!();
    // The list is read from disk in the background: wait for it (bounded), not for a fixed number of turns.
    for (let i = 0; i < 1_000_000 && p.training!()!.checkpoints.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(p.training!()).toEqual({
      jobs: [{ model: 'cnn', status: 'in the blend as v000001 (active)' }],
      checkpoints: [expect.objectContaining({ model: 'cnn', version: 'v000001', active: true })],
    });
    expect(p.status!['inference pool']!()).toBe('no pool (no ONNX model loaded)');
    expect(p.status!['inference history']!()).toEqual({ recorded: 0, failedWrites: 0, keep: '10000 per model and symbol, 30 days', retention: 'off (a backtest keeps no history)' });
    expect(p.thresholds!()).toBeUndefined();
    orchestrator.current = { thresholds: { buy: 0.62, sell: 0.6, minConfidence: 0.1 } };
    expect(p.thresholds!()).toEqual({ buy: 0.62, sell: 0.6, minConfidence: 0.1 });
  });

  it('says why online learning is off, and lists promoted online versions with the held-out log loss they won on', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-dash-'));
    const clock = new SimulatedClock(1_723_161_300_000);
    // Two promoted versions as the learner writes them; the older one's online.json is gone.
    for (const [v, at] of [['online-v000001', 1_723_150_000_000], ['online-v000002', 1_723_160_000_000]] as const) {
      // The store names a checkpoint vNNNNNN; the registry runs it as online-vNNNNNN.
      const stored = v.slice('online-'.length);
      const dir = join(root, 'online', 'cnn', stored);
      cpSync(BUNDLED_CNN_DIR, dir, { recursive: true });
      const meta = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ ...meta, version: stored, createdAt: at, metric: { name: 'promotedAt', value: at, higherIsBetter: true } }));
      if (v === 'online-v000002') writeFileSync(join(dir, 'online.json'), JSON.stringify({ base: 'v000001', parent: 'online-v000001', promotedAt: at, candidate: { logLoss: 0.7123 } }));
    }
    const registry = new ModelRegistry();
    registry.register('cnn', { version: 'online-v000002', run: async () => { throw new Error('not run'); } }, clock.now());
    const { config } = loadConfig('configs/default.yaml', {});
    const sys = {
      config: { ...config, models: { ...config.models, checkpointDir: root, online: { ...config.models.online, enabled: true } } }, clock,
      handles: { risk: () => undefined, orchestrator: {} } as unknown as System['handles'],
      models: { registry, pool: undefined, ownsPool: false, loaded: ['cnn@online-v000002'], skipped: [], cnnBound: [] },
      online: undefined, onlineOff: 'dqn@bundled-v000001 was trained on the outputs of cnn@bundled-v000001',
    };
    const p = dashboardProviders(sys);
    p.training!();
    for (let i = 0; i < 1_000_000 && p.training!()!.checkpoints.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(p.training!()).toEqual({
      jobs: [
        { model: 'cnn', status: 'in the blend as online-v000002 (active)' },
        { model: 'cnn (online)', status: 'off: dqn@bundled-v000001 was trained on the outputs of cnn@bundled-v000001' },
      ],
      checkpoints: [
        { model: 'cnn', version: 'online-v000002', metric: 0.7123, metricName: 'held-out log loss (online)', active: true, ts: 1_723_160_000_000 },
        { model: 'cnn', version: 'online-v000001', metric: Number.NaN, metricName: 'held-out log loss (online)', active: false, ts: 1_723_150_000_000 },
      ],
    });
  });
});
