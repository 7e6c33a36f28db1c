// applyHeldKill (app/run.ts): a kill the dashboard held while `cobalt run` started goes to the RiskManager as soon as
// it runs. Normally that is at once (sys.start() has started every actor when it returns); when the RiskManager is not
// running then, the kill waits for the start to be ready, and a start that fails or a shutdown first drops it.
import { describe, expect, it } from 'vitest';
import { applyHeldKill } from '../../app/run.ts';
import type { HeldKill } from '../../engine/dashboard/index.ts';
import type { RiskState } from '../../actors/risk-manager/index.ts';

// A HeldKill recording what was done with it, and a System with the RiskManager running or not and a start in hand.
function rig(riskRunning: boolean) {
  const done: string[] = [];
  const held: HeldKill = {
    pending: () => undefined,
    apply: () => (done.push('apply'), true),
    drop: (why) => (done.push(`drop: ${why}`), true),
  };
  let ready!: () => void;
  let fail!: (e: Error) => void;
  const readyP = new Promise<void>((res, rej) => { ready = res; fail = rej; });
  const intake: (() => void)[] = [];
  const lifecycle = { shuttingDown: false, onStopIntake: (_name: string, fn: () => void) => void intake.push(fn) };
  const sys = {
    ready: () => readyP,
    lifecycle: lifecycle as never,
    handles: { risk: () => (riskRunning ? ({} as RiskState) : undefined) } as never,
  };
  const stopIntake = (): void => {
    lifecycle.shuttingDown = true;
    for (const fn of intake) fn();
  };
  return { done, held, sys, ready, fail, stopIntake };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('applyHeldKill', () => {
  it('applies at once when the RiskManager runs, and nothing more comes of the start', async () => {
    const r = rig(true);
    applyHeldKill(r.sys, r.held);
    const atOnce = [...r.done];
    r.ready();
    r.stopIntake();
    await settle();

    expect(atOnce).toEqual(['apply']);
    expect(r.done).toEqual(['apply']);
  });

  it('without the RiskManager running, applies when the start is ready', async () => {
    const r = rig(false);
    applyHeldKill(r.sys, r.held);
    const before = [...r.done];
    r.ready();
    await settle();

    expect(before).toEqual([]);
    expect(r.done).toEqual(['apply']);
  });

  it('without the RiskManager running, drops the kill when the start fails, naming the failure', async () => {
    const r = rig(false);
    applyHeldKill(r.sys, r.held);
    r.fail(new Error('the exec store cannot be read'));
    await settle();

    expect(r.done).toEqual(['drop: the engine failed to start (nothing traded): the exec store cannot be read']);
  });

  it('without the RiskManager running, drops the kill on a shutdown before the start is ready', async () => {
    const r = rig(false);
    applyHeldKill(r.sys, r.held);
    r.stopIntake();
    r.ready();
    await settle();

    expect(r.done[0]).toBe('drop: a shutdown began before the RiskManager ran (nothing traded)');
    expect(r.done.filter((d) => d === 'apply')).toEqual([]);
  });
});
