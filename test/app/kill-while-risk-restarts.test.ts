// A dashboard kill pressed while the RiskManager restarts (a real paper system with its store, the dashboard wired as
// `cobalt run` wires it: killTaken, applyHeldKill). The kill is held (202) and published from the RiskManager's start
// (sys.onRiskRunning), before anything else reaches it: it is saved, and a whole restart comes back halted. When
// another actor fails for good meanwhile, the held kill still goes to the RiskManager as it comes back, and so does the
// engine's own kill switch for the halt (it was published to nobody, and the RiskManager came back active). Any other
// control is refused while its actor is down (it was answered 200 and published to nobody).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RISK_ID } from '../../app/risk-child.ts';
import { applyHeldKill, controlRefusal } from '../../app/run.ts';
import { ORCHESTRATOR_ID } from '../../actors/orchestrator/index.ts';
import { buildSystem, type System } from '../../app/system.ts';
import { startDashboard, type DashboardHandle } from '../../engine/dashboard/index.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { Lots } from '../../engine/types/price.ts';
import { capturingLogger, limitIntent } from '../actors/trading-executor/helpers.ts';
import type { Logger } from '../../engine/log.ts';
import { testConfig } from '../e2e/helpers.ts';

const T0 = 1_723_161_253_937;
const TOKEN = 'tok-kill-restart';
const dirs: string[] = [];
const open: { sys: System; dash: DashboardHandle }[] = [];
afterEach(async () => {
  for (const { sys, dash } of open.splice(0)) {
    await dash.close();
    await sys.stop('test');
  }
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const sleep = (ms: number): Promise<unknown> => new Promise((r) => setTimeout(r, ms));

async function daemon(config: ReturnType<typeof testConfig>, clock: SimulatedClock, logger?: Logger) {
  const sys = await buildSystem(config, { clock, mode: 'paper', noSync: true, maintenanceMs: 0, dataOverride: () => undefined, ...(logger ? { logger } : {}) });
  const starting = sys.start();
  const dash = await startDashboard({
    bus: sys.bus, clock: sys.clock, wallClock: new SimulatedClock(T0), config: { host: '127.0.0.1', port: 0 }, token: { token: TOKEN, generated: false },
    // As `cobalt run` wires it once its engine runs.
    controlsRefusal: (action) => controlRefusal(sys, true, action), killTaken: () => sys.handles.risk() !== undefined,
  });
  applyHeldKill(sys, dash.heldKill);
  // Every actor runs once start() returns; readiness (the history load) is not what these tests are about.
  void starting.catch(() => undefined);
  await sleep(50);
  const control = async (action: string, body: object): Promise<{ status: number; error?: string }> => {
    const res = await fetch(new URL(`/api/control/${action}`, dash.url), {
      method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    });
    return { status: res.status, ...((await res.json()) as { error?: string }) };
  };
  const kill = async (): Promise<number> => (await control('kill', { reason: 'test' })).status;
  return { sys, dash, kill, control };
}

function paperConfig() {
  const config = testConfig({ mode: 'paper', data: { replayFiles: [] } });
  dirs.push(path.dirname(config.store.path));
  return config;
}

describe('a dashboard kill while the RiskManager restarts', () => {
  it('is held, taken as the RiskManager comes back (an intent then is denied), and saved', async () => {
    const config = paperConfig();
    const clock = new SimulatedClock(T0);
    const d = await daemon(config, clock);
    const verdicts: string[] = [];
    d.sys.bus.subscribe('risk.orderApproved', () => void verdicts.push('approved'));
    d.sys.bus.subscribe('risk.orderDenied', (m) => void verdicts.push(`denied ${m.reason.code}`));
    d.sys.supervisor.reportFailure(RISK_ID, new Error('injected: the risk child failed'));
    const answer = await d.kill();
    const held = d.dash.heldKill.pending();
    clock.advance(60_000);
    const back = d.sys.handles.risk();
    d.sys.bus.publish({ type: 'risk.intent', intent: limitIntent('after-restart', 6_000_000, { symbol: d.sys.traded.symbol, lots: 1 as Lots, ts: clock.now() }) });
    await d.dash.close();
    await d.sys.stop('test');
    const again = await daemon(config, new SimulatedClock(T0 + 120_000));
    open.push(again);

    expect(answer).toBe(202);
    expect(held?.asks).toBe(1);
    expect(back).toMatchObject({ killSwitch: true, tradingState: 'halted' });
    expect(verdicts).toEqual(['denied KILL_SWITCH']);
    expect(again.sys.handles.risk()).toMatchObject({ killSwitch: true, tradingState: 'halted' });
  }, 60_000);

  it('still goes to the RiskManager when another actor fails for good meanwhile, with the engine\'s own kill', async () => {
    const config = paperConfig();
    const clock = new SimulatedClock(T0);
    const d = await daemon(config, clock);
    open.push(d);
    const engineKills: string[] = [];
    // Who published each kill switch, and whether the RiskManager was there to take it.
    d.sys.bus.subscribe('risk.killSwitch', (m: Extract<EngineMsg, { type: 'risk.killSwitch' }>) =>
      void engineKills.push(`${m.source ?? 'operator'} ${d.sys.handles.risk() !== undefined ? 'taken' : 'to nobody'}`));
    const other = 'dataProvider';
    const status = () => d.sys.supervisor.status().find((s) => s.id === other)!;
    // All but the last of its restart budget.
    while (status().recentFailures.length < 5) {
      if (status().state === 'running') d.sys.supervisor.reportFailure(other, new Error('injected: the provider failed'));
      clock.advance(1_000);
    }
    while (status().state !== 'running') clock.advance(500);
    d.sys.supervisor.reportFailure(RISK_ID, new Error('injected: the risk child failed'));
    const answer = await d.kill();
    d.sys.supervisor.reportFailure(other, new Error('injected: the provider failed for good'));
    const haltedWithKillHeld = d.dash.heldKill.pending() !== undefined;
    clock.advance(60_000);
    await sleep(20);

    expect(answer).toBe(202);
    expect(d.sys.supervisor.halted).toBeDefined();
    expect(haltedWithKillHeld).toBe(true);
    expect(d.sys.handles.risk()).toMatchObject({ killSwitch: true, tradingState: 'halted' });
    expect(d.dash.heldKill.pending()).toBeUndefined();
    expect(engineKills).toEqual(expect.arrayContaining(['operator taken', 'engine taken']));
    expect(engineKills).not.toContain('engine to nobody');
  }, 60_000);

  it('says so when the RiskManager fails for good: nothing will take the engine\'s kill, nobody manages the positions', async () => {
    const clock = new SimulatedClock(T0);
    const log = capturingLogger();
    const d = await daemon(paperConfig(), clock, log.logger);
    open.push(d);
    const risk = () => d.sys.supervisor.status().find((s) => s.id === RISK_ID)!;
    while (risk().state !== 'failed') {
      if (risk().state === 'running') d.sys.supervisor.reportFailure(RISK_ID, new Error('injected: the risk child failed'));
      clock.advance(500);
    }
    const answer = await d.kill();
    const stop = await d.control('stop', {});

    expect(d.sys.supervisor.halted?.actor).toBe(RISK_ID);
    expect(log.codes()).toContain('RISK_MANAGER_DOWN');
    expect(answer).toBe(503);
    expect(stop.status).toBe(503);
    expect(stop.error).toMatch(/the RiskManager failed for good.*flatten at the venue by hand/);
  }, 60_000);
});

describe('other dashboard controls while their actor restarts', () => {
  it('are refused (503, nothing sent) until it runs again, then taken', async () => {
    const clock = new SimulatedClock(T0);
    const d = await daemon(paperConfig(), clock);
    open.push(d);
    d.sys.supervisor.reportFailure(RISK_ID, new Error('injected: the risk child failed'));
    const limitsDown = await d.control('limits', { maxSubmitsPerSecond: 3 });
    const stopDown = await d.control('stop', {});
    const thresholdsMeanwhile = await d.control('thresholds', { buy: 0.9 });
    clock.advance(60_000);
    const limitsBack = await d.control('limits', { maxSubmitsPerSecond: 3 });
    await sleep(50);
    const limits = d.sys.handles.risk()?.limits;
    d.sys.supervisor.reportFailure(ORCHESTRATOR_ID, new Error('injected: the orchestrator failed'));
    const thresholdsDown = await d.control('thresholds', { sell: 0.9 });

    expect(limitsDown.status).toBe(503);
    expect(limitsDown.error).toMatch(/the RiskManager is restarting: 'limits' would reach nobody/);
    expect(stopDown.status).toBe(503);
    expect(thresholdsMeanwhile.status).toBe(200);
    expect(limitsBack.status).toBe(200);
    expect(limits?.maxSubmitsPerSecond).toBe(3);
    expect(thresholdsDown.status).toBe(503);
    expect(thresholdsDown.error).toMatch(/the Orchestrator is restarting/);
    expect(d.sys.handles.risk()).toMatchObject({ killSwitch: false });
  }, 60_000);
});
