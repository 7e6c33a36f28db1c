// Review (first hour, finding 3): /api/state `risk.peakEquity` was the view model's own maximum of the equity samples
// since the process started, while `drawdownPct` beside it was the RiskManager's (its stored peak). After a restart
// they disagreed: 9999.346 shown beside a drawdown measured from the stored 10000.059.
import { describe, expect, it } from 'vitest';
import { dashboardProviders } from '../../app/dashboard-providers.ts';
import type { System } from '../../app/system.ts';
import { DEFAULT_LIMITS } from '../../actors/risk-manager/limits.ts';
import { createRiskState, onMark, type RiskState } from '../../actors/risk-manager/logic.ts';
import { DashboardViewModel } from '../../engine/dashboard/view-model.ts';
import { loadConfig } from '../../engine/config/index.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, priceToTicks, qtyToLots } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';
import { ModelRegistry } from '../../actors/orchestrator/registry.ts';

const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);

describe('risk panel peak equity', () => {
  it('is the RiskManager\'s peak (restored from the store), the one its drawdown is measured from', () => {
    const clock = new SimulatedClock(1_723_161_600_000);
    // 0.1 ETH bought at 2,680 with 9,732 USDT left: equity 10,000 at cost; the peak a previous run stored is 10,100.
    let risk: RiskState = createRiskState({
      limits: DEFAULT_LIMITS, instruments: [eth], cash: money('9732'),
      positions: { 'ETH/USDT': { lots: qtyToLots(eth, '0.1'), cost: money('268') } },
    });
    risk = { ...risk, peakEquity: money('10100') };
    const { config } = loadConfig('configs/default.yaml', {});
    const sys = {
      config, clock,
      handles: { risk: () => risk, orchestrator: {}, cob: {}, provider: () => undefined } as unknown as System['handles'],
      models: { registry: new ModelRegistry(), pool: undefined, ownsPool: false, loaded: [], skipped: [], cnnBound: [] },
    };
    const providers = dashboardProviders(sys);
    const bus = new Bus<EngineMsg>();
    const view = new DashboardViewModel({ bus, instruments: [eth], providers });
    view.start();
    // This process sees the mark at 2,690 then 2,670: its own samples peak at 10,001.
    for (const [px, dt] of [['2690', 0], ['2670', 1_000]] as const) {
      const price = priceToTicks(eth, px);
      risk = onMark(risk, 'ETH/USDT', price, clock.now() + dt).state;
      bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price, ts: clock.now() + dt });
    }
    const state = view.snapshot().risk as { peakEquity: number; drawdownPct: number; equity: number };
    expect(state.equity).toBe(9999);
    expect(state.peakEquity).toBe(10100);
    // 101 below the peak of 10,100: 1 %, measured from that same peak.
    expect(state.drawdownPct).toBe(1);
  });
});
