// Reviewer finding (s20r3 breaker-crash): a tripped market circuit breaker was invisible on the dashboard and in
// /metrics (cobalt_trading_state stays 0 while it denies every entry). The risk topic now carries its state and
// settings, /metrics a cobalt_market_breaker gauge and a cobalt_risk_alerts_total counter, and LIMITS_SET its limits.
import { describe, expect, it } from 'vitest';
import { dashboardProviders } from '../../app/dashboard-providers.ts';
import type { System } from '../../app/system.ts';
import { DEFAULT_LIMITS } from '../../actors/risk-manager/limits.ts';
import { createRiskState, onMark, type RiskOut, type RiskState } from '../../actors/risk-manager/logic.ts';
import { ModelRegistry } from '../../actors/orchestrator/registry.ts';
import { DashboardMetrics } from '../../engine/dashboard/metrics.ts';
import { DashboardViewModel } from '../../engine/dashboard/view-model.ts';
import { loadConfig } from '../../engine/config/index.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { RiskLimits } from '../../engine/messages/risk.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, priceToTicks } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';

const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
/** The config defaults (engine/config/schema.ts risk.breaker). */
const BREAKER: RiskLimits = { ...DEFAULT_LIMITS, maxMoveBps: 500, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: 60_000, maxSpreadBps: 50, spreadMs: 2_000 };
const T0 = 1_723_161_253_000;

interface Rig { bus: Bus<EngineMsg>; view: DashboardViewModel; metrics: DashboardMetrics; clock: SimulatedClock; alerts: RiskOut[] }

// The RiskManager marked at 2,683.80, then 6 % lower 90 s later: a move episode until 390 s.
function crashed(): Rig {
  const clock = new SimulatedClock(T0);
  const alerts: RiskOut[] = [];
  let risk: RiskState = createRiskState({ limits: BREAKER, instruments: [eth], cash: money('5000') });
  for (const [ms, px] of [[0, '2683.80'], [90_000, '2522.77']] as const) {
    clock.set(T0 + ms);
    const step = onMark(risk, 'ETH/USDT', priceToTicks(eth, px), clock.now());
    risk = step.state;
    alerts.push(...step.out);
  }
  const { config } = loadConfig('configs/default.yaml', {});
  const sys = {
    config, clock, handles: { risk: () => risk, orchestrator: {}, cob: {} } as unknown as System['handles'],
    models: { registry: new ModelRegistry(), pool: undefined, ownsPool: false, loaded: [], skipped: [], cnnBound: [] },
  };
  const bus = new Bus<EngineMsg>();
  const view = new DashboardViewModel({ bus, providers: dashboardProviders(sys) });
  view.start();
  return { bus, view, metrics: new DashboardMetrics({ bus, view, wsClients: () => 0 }), clock, alerts };
}

function series(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`)) out[line.slice(name.length, line.lastIndexOf(' '))] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

describe('the market circuit breaker on the dashboard', () => {
  it('shows a move episode in the risk topic with its settings, while the trading state stays active', () => {
    const { view, clock } = crashed();
    clock.set(T0 + 100_000);
    const risk = view.build('risk', new Map()) as Record<string, unknown>;
    expect(risk.state).toBe('active');
    expect(risk.breaker).toMatchObject({
      maxMoveBps: 500, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: 60_000,
      symbols: { 'ETH/USDT': { move: { until: T0 + 390_000 }, stale: null } },
    });
  });

  it('sets cobalt_market_breaker per symbol and guard, the stale guard once the feed is silent too', async () => {
    const { metrics, clock } = crashed();
    clock.set(T0 + 100_000);
    const during = series(await metrics.text(), 'cobalt_market_breaker');
    clock.set(T0 + 200_000);
    const silent = series(await metrics.text(), 'cobalt_market_breaker');
    clock.set(T0 + 400_000);
    const over = series(await metrics.text(), 'cobalt_market_breaker');
    expect([during, silent, over]).toEqual([
      { '{symbol="ETH/USDT",guard="move"}': 1, '{symbol="ETH/USDT",guard="stale"}': 0, '{symbol="ETH/USDT",guard="spread"}': 0 },
      { '{symbol="ETH/USDT",guard="move"}': 1, '{symbol="ETH/USDT",guard="stale"}': 1, '{symbol="ETH/USDT",guard="spread"}': 0 },
      { '{symbol="ETH/USDT",guard="move"}': 0, '{symbol="ETH/USDT",guard="stale"}': 1, '{symbol="ETH/USDT",guard="spread"}': 0 },
    ]);
  });

  it('counts risk alerts by code in cobalt_risk_alerts_total', async () => {
    const { bus, metrics, alerts } = crashed();
    for (const a of alerts) if (a.type === 'risk.alert') bus.publish(a);
    bus.publish({ type: 'risk.alert', code: 'MARKET_STALE', message: 'ETH/USDT has had no mark', ts: T0 + 200_000 });
    expect(series(await metrics.text(), 'cobalt_risk_alerts_total')).toEqual({ '{code="MARKET_MOVE"}': 1, '{code="MARKET_STALE"}': 1 });
  });

  it('says the breaker limits in the LIMITS_SET alert, and that a guard is off', () => {
    const { bus, view } = crashed();
    bus.publish({ type: 'risk.limitsChanged', limits: BREAKER, ts: T0 });
    bus.publish({ type: 'risk.limitsChanged', limits: DEFAULT_LIMITS, ts: T0 + 1 });
    const items = (view.build('risk', new Map()) as { alerts: { items: { code: string; message: string }[] } }).alerts.items;
    const [on, off] = items.filter((a) => a.code === 'LIMITS_SET').map((a) => a.message);
    expect(on).toContain('market move breaker 500 bps within 300000 ms (entries denied until 300000 ms without such a move)');
    expect(on).toContain('stale mark breaker entries denied after 60000 ms without a mark');
    expect(on).toContain('spread breaker entries denied while over 50 bps for 2000 ms');
    expect(off).toContain('market move breaker off, stale mark breaker off, spread breaker off');
  });
});
