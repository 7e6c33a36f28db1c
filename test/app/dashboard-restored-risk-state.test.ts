// Review (s19, F7): after `POST /api/control/stop`, Ctrl-C and a restart on the same store the RiskManager came back
// halted with its kill switch on (restored from LMDB, announced on no bus message) and denied every intent KILL_SWITCH,
// while /api/state said risk active, killSwitch false and /metrics cobalt_trading_state 0: the view model began at
// 'active' and moved only on risk.stateChanged / risk.killSwitch. The risk provider now reads the RiskManager's own
// state. A denial's row in the orders table also had no symbol or side (risk.orderDenied names only the intent).
import path from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { dashboardProviders } from '../../app/dashboard-providers.ts';
import { buildSystem, type System } from '../../app/system.ts';
import { DashboardMetrics } from '../../engine/dashboard/metrics.ts';
import { DashboardViewModel, type DashboardProviders, type OrderRow } from '../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { TradingState } from '../../engine/messages/risk.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { IntentId } from '../../engine/types/ids.ts';
import type { Lots } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { Config } from '../../engine/config/schema.ts';
import { testConfig } from '../e2e/helpers.ts';

const T0 = 1_723_161_253_937;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// A paper system over the store of `c` with no market data; the children only (readiness would wait on candle history
// retried on a clock that does not move here).
async function start(c: Config): Promise<System> {
  const sys = await buildSystem(c, { clock: new SimulatedClock(T0), mode: 'paper', noSync: true, maintenanceMs: 0, dataOverride: () => undefined });
  sys.supervisor.start();
  return sys;
}

// The dashboard of `sys` as app/run.ts wires it: the view model with the system's providers, and its metrics.
function dashboard(sys: System): { view: DashboardViewModel; metrics: DashboardMetrics } {
  const view = new DashboardViewModel({ bus: sys.bus, providers: dashboardProviders(sys) });
  view.start();
  return { view, metrics: new DashboardMetrics({ bus: sys.bus, view, wsClients: () => 0 }) };
}

const tradingStateMetric = async (m: DashboardMetrics): Promise<string | undefined> =>
  (await m.text()).split('\n').find((l) => l.startsWith('cobalt_trading_state '));

const intent = (id: string, ts: number) => ({
  id: id as IntentId, symbol: 'ETH/USDT', side: 'buy' as const, orderType: 'market' as const, lots: 100 as Lots,
  timeInForce: 'IOC' as const, reduceOnly: false, reason: 'test', ts: ts as TsMs,
});

describe('dashboard after a restart of a halted engine', () => {
  it('shows the restored kill switch and halted state in /api/state and the trading-state metric, and denials with their symbol and side', async () => {
    const c = testConfig({ mode: 'paper', data: { replayFiles: [] } });
    dirs.push(path.dirname(c.store.path));
    const first = await start(c);
    first.bus.publish({ type: 'risk.killSwitch', on: true, reason: 'operator stop', source: 'operator', ts: first.clock.now() });
    const before = first.handles.risk();
    await first.stop('test');

    const second = await start(c);
    const { view, metrics } = dashboard(second);
    const risk = view.snapshot().risk as { state: TradingState; reason: string; killSwitch: boolean };
    const metric = await tradingStateMetric(metrics);
    second.bus.publish({ type: 'risk.intent', intent: intent('intent-1', second.clock.now()) });
    const orders = (view.snapshot().orders as { orders: { items: OrderRow[] } }).orders.items;
    metrics.close();
    view.stop();
    await second.stop('test');

    expect([before?.tradingState, before?.killSwitch]).toEqual(['halted', true]);
    expect(risk).toMatchObject({ state: 'halted', reason: 'kill switch: operator stop', killSwitch: true });
    expect(metric).toBe('cobalt_trading_state 2');
    expect(orders).toEqual([expect.objectContaining({ id: 'intent-1', status: 'denied', detail: 'KILL_SWITCH', symbol: 'ETH/USDT', side: 'buy' })]);
  }, 60_000);

  it.each([
    ['reducing', 'drawdown 612 bps >= 500', false, 1],
    ['halted', 'drawdown 1034 bps >= 1000', false, 2],
  ] as const)('shows a restored %s state (%s) that no bus message announced', async (state, reason, killSwitch, code) => {
    const providers: DashboardProviders = { risk: () => ({ state, reason, killSwitch }) };
    const bus = new Bus<EngineMsg>();
    const view = new DashboardViewModel({ bus, providers });
    view.start();
    const metrics = new DashboardMetrics({ bus, view, wsClients: () => 0 });
    const risk = view.snapshot().risk;
    const metric = await tradingStateMetric(metrics);
    metrics.close();
    expect(risk).toMatchObject({ state, reason, killSwitch });
    expect(metric).toBe(`cobalt_trading_state ${code}`);
  });

  it('keeps the state last read while the RiskManager cannot be read, and follows it when it moves', async () => {
    let read: { state: TradingState; reason: string; killSwitch: boolean } | undefined = { state: 'halted', reason: 'kill switch: operator', killSwitch: true };
    const bus = new Bus<EngineMsg>();
    const view = new DashboardViewModel({ bus, providers: { risk: () => read } });
    view.start();
    const restored = view.state;
    read = undefined; // the risk child restarting
    const whileDown = [view.state, view.snapshot().risk];
    read = { state: 'active', reason: 'resume', killSwitch: false };
    const resumed = view.snapshot().risk;
    expect(restored).toBe('halted');
    expect(whileDown).toEqual(['halted', expect.objectContaining({ state: 'halted', reason: 'kill switch: operator', killSwitch: true })]);
    expect(resumed).toMatchObject({ state: 'active', reason: 'resume', killSwitch: false });
  });
});
