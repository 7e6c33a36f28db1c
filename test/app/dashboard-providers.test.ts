import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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
      stopLossBps: 200, takeProfitBps: 400,
    });
    p.training!();
    // The list is read from disk in the background: wait for it (bounded), not for a fixed number of turns.
    for (let i = 0; i < 1_000_000 && p.training!()!.checkpoints.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(p.training!()).toEqual({
      jobs: [{ model: 'cnn', status: 'in the blend as v000001 (active)' }],
      checkpoints: [expect.objectContaining({ model: 'cnn', version: 'v000001', active: true })],
    });
    expect(p.status!['inference pool']!()).toBe('no pool (no ONNX model loaded)');
    expect(p.thresholds!()).toBeUndefined();
    orchestrator.current = { thresholds: { buy: 0.62, sell: 0.6, minConfidence: 0.1 } };
    expect(p.thresholds!()).toEqual({ buy: 0.62, sell: 0.6, minConfidence: 0.1 });
  });
});
