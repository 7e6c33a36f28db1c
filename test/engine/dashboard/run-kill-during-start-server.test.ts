// Task A (kill switch while `cobalt run` starts), the server's side: with killTaken, a kill asked for while control
// actions are refused is published at once while killTaken() answers true, else held (202) and published once when
// the daemon applies it; a drop forgets it, and a kill after the drop is refused saying why. Without killTaken (and
// for every other action) the refusal stays 503.
import { afterEach, describe, expect, it } from 'vitest';
import { KILL_HELD, startDashboard, type DashboardHandle } from '../../../engine/dashboard/index.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';

const TOKEN = 'test-token-kill-hold';
const STARTING = 'engine starting';
const open: DashboardHandle[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});

// A dashboard whose controls are refused while `gate.refused`, with killTaken when `holdKill` (a kill published while
// `gate.taken`, else held); `published` records the kill switch and flatten messages on its bus.
async function start(holdKill: boolean) {
  const bus = new Bus<EngineMsg>();
  const published: string[] = [];
  bus.subscribe('risk.killSwitch', (m) => void published.push(`killSwitch ${m.on ? 'on' : 'off'}`));
  bus.subscribe('risk.flatten', () => void published.push('flatten'));
  const gate = { refused: true, taken: false };
  const d = await startDashboard({
    bus, clock: new SimulatedClock(1_723_161_000_000), wallClock: new SimulatedClock(1_723_161_000_000),
    config: { host: '127.0.0.1', port: 0 }, token: { token: TOKEN, generated: false },
    controlsRefusal: () => (gate.refused ? STARTING : undefined), ...(holdKill ? { killTaken: () => gate.taken } : {}),
  });
  open.push(d);
  const control = async (action: string, body: unknown = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(new URL(`/api/control/${action}`, d.url), {
      method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const counts = async (): Promise<Record<string, number>> => {
    const { values } = await d.metrics.controls.get();
    return Object.fromEntries(values.filter((v) => v.labels.action === 'kill').map((v) => [String(v.labels.outcome), v.value]));
  };
  const controlsStatus = async (): Promise<unknown> =>
    ((await (await fetch(new URL('/api/state', d.url))).json()) as { system: { status: { controls: unknown } } }).system.status.controls;
  return { d, gate, published, control, counts, controlsStatus };
}

describe('dashboard controls refused while the engine starts, with holdKill', () => {
  it('holds two kills as one, publishes it once when applied, and shows it in /api/state meanwhile', async () => {
    const s = await start(true);
    const first = await s.control('kill', { reason: 'venue looks wrong' });
    const second = await s.control('kill');
    const stop = await s.control('stop');
    const resume = await s.control('start');
    const whileHeld = await s.controlsStatus();
    const beforeApply = [...s.published];

    const applied = s.d.heldKill.apply();
    const afterApply = [...s.published];
    const again = s.d.heldKill.apply();
    // Still refused for the rest, a kill taken now goes straight through (the RiskManager runs).
    s.gate.taken = true;
    const third = await s.control('kill');
    const stopAfter = await s.control('stop');
    s.gate.refused = false;

    expect(first).toEqual({ status: 202, body: expect.objectContaining({ ok: true, action: 'kill', queued: true, asks: 1, message: KILL_HELD }) });
    expect(second.body).toMatchObject({ queued: true, asks: 2 });
    expect([stop, resume]).toEqual([{ status: 503, body: { error: STARTING } }, { status: 503, body: { error: STARTING } }]);
    expect(whileHeld).toEqual({ refused: STARTING, killHeld: { since: expect.any(String), asks: 2 } });
    expect(beforeApply).toEqual([]);
    expect([applied, again]).toEqual([true, false]);
    expect(afterApply).toEqual(['killSwitch on', 'flatten']);
    expect(third).toEqual({ status: 200, body: expect.objectContaining({ ok: true, action: 'kill' }) });
    expect(stopAfter).toEqual({ status: 503, body: { error: STARTING } });
    expect(s.published).toEqual(['killSwitch on', 'flatten', 'killSwitch on', 'flatten']);
    expect(await s.controlsStatus()).toEqual({ refused: null, killHeld: null });
    expect(await s.counts()).toEqual({ queued: 2, ok: 2 });
  });

  it('publishes nothing for a dropped kill, and refuses a kill after the drop saying why', async () => {
    const s = await start(true);
    const held = await s.control('kill');
    const dropped = s.d.heldKill.drop('the start failed');
    const after = await s.control('kill');

    expect(held.status).toBe(202);
    expect(dropped).toBe(true);
    expect(after).toEqual({ status: 503, body: { error: 'kill switch not taken: the start failed' } });
    expect(s.published).toEqual([]);
    expect(await s.counts()).toEqual({ queued: 1, dropped: 1, unavailable: 1 });
  });

  // Final re-review: with the engine running (nothing refused), a kill while the RiskManager restarted was answered
  // 200 and published to no subscriber; and after the stop's intake dropped the holding, a kill was refused though
  // the RiskManager still ran and would have saved it.
  it('holds a kill while the RiskManager is down with nothing refused, and publishes one after a drop while it runs', async () => {
    const s = await start(true);
    s.gate.refused = false;
    const whileDown = await s.control('kill');
    const beforeApply = [...s.published];
    s.d.heldKill.apply();
    s.d.heldKill.drop('the engine is stopping');
    s.gate.taken = true;
    const afterDropRunning = await s.control('kill');
    s.gate.taken = false;
    const afterDropDown = await s.control('kill');

    expect(whileDown).toEqual({ status: 202, body: expect.objectContaining({ queued: true, asks: 1 }) });
    expect(beforeApply).toEqual([]);
    expect(afterDropRunning.status).toBe(200);
    expect(afterDropDown).toEqual({ status: 503, body: { error: 'kill switch not taken: the engine is stopping' } });
    expect(s.published).toEqual(['killSwitch on', 'flatten', 'killSwitch on', 'flatten']);
  });

  it('answers a kill with a malformed body 400 and holds nothing', async () => {
    const s = await start(true);
    const bad = await s.control('kill', { reason: 7 });

    expect(bad.status).toBe(400);
    expect(s.d.heldKill.pending()).toBeUndefined();
    expect(s.d.heldKill.apply()).toBe(false);
    expect(s.published).toEqual([]);
  });

  it('refuses a kill (503) without holdKill', async () => {
    const s = await start(false);
    const kill = await s.control('kill');

    expect(kill).toEqual({ status: 503, body: { error: STARTING } });
    expect(s.d.heldKill.apply()).toBe(false);
    expect(s.published).toEqual([]);
  });
});
