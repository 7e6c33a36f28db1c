// applyHeldKill (app/run.ts): a kill the dashboard held goes to the RiskManager the moment it runs: at once when it
// runs already (sys.start() has started every actor when it returns), else when it comes up (its first start failed,
// or it restarted later, the engine running), before anything else reaches it. At a shutdown or a failed start a kill
// still held goes to it if it runs, else is dropped; so is one held when the engine halts without it.
import { describe, expect, it } from 'vitest';
import { applyHeldKill } from '../../app/run.ts';
import type { RiskState } from '../../actors/risk-manager/index.ts';
import type { HeldKill } from '../../engine/dashboard/index.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';

// A HeldKill holding one kill (`ask()` holds another) and recording what was done with it; a System whose RiskManager
// runs while `risk.on` (`up()` brings it up as a restart does), with its start, halts and shutdown in hand.
function rig(riskOn: boolean) {
  const done: string[] = [];
  let holding = false;
  const held: HeldKill & { ask(): void } = {
    ask: () => void (holding = true),
    pending: () => (holding ? { sinceMs: 0, asks: 1 } : undefined),
    apply: () => {
      if (!holding) return false;
      holding = false;
      done.push('apply');
      return true;
    },
    drop: (why) => {
      done.push(`drop: ${why}`);
      const was = holding;
      holding = false;
      return was;
    },
  };
  let fail!: (e: Error) => void;
  const readyP = new Promise<void>((_res, rej) => (fail = rej));
  const intake: (() => void)[] = [];
  const lifecycle = { shuttingDown: false, onStopIntake: (_name: string, fn: () => void) => void intake.push(fn) };
  const risk = { on: riskOn };
  const running = new Set<() => void>();
  const bus = new Bus<EngineMsg>();
  const sys = {
    ready: () => readyP,
    lifecycle: lifecycle as never,
    bus,
    handles: { risk: () => (risk.on ? ({} as RiskState) : undefined) } as never,
    onRiskRunning: (fn: () => void) => (running.add(fn), () => void running.delete(fn)),
  };
  const up = (): void => {
    risk.on = true;
    for (const fn of running) fn();
  };
  const stopIntake = (): void => {
    lifecycle.shuttingDown = true;
    for (const fn of intake) fn();
  };
  const halt = (actor: string | undefined): void =>
    bus.publish({ type: 'sys.halted', ...(actor ? { actor } : {}), reason: actor ? `${actor} failed 6 times in 60 s` : 'supervisor failed', ts: 0 } as EngineMsg);
  const start = (): void => applyHeldKill(sys, held);
  return { done, held, risk, up, start, fail, stopIntake, halt, listeners: () => running.size };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('applyHeldKill', () => {
  it('applies a kill held before the start at once when the RiskManager runs', () => {
    const r = rig(true);
    r.held.ask();
    r.start();

    expect(r.done).toEqual(['apply']);
  });

  it('holds a kill while the RiskManager is down and applies it the moment it comes up', () => {
    const r = rig(false);
    r.held.ask();
    r.start();
    const whileDown = [...r.done];
    r.up();

    expect(whileDown).toEqual([]);
    expect(r.done).toEqual(['apply']);
  });

  it('gives a kill held when the RiskManager restarts later, the engine running, to it as it comes back', () => {
    const r = rig(true);
    r.start();
    r.risk.on = false;
    r.held.ask();
    const whileDown = [...r.done];
    r.up();

    expect(whileDown).toEqual([]);
    expect(r.done).toEqual(['apply']);
  });

  it('drops a kill still held on a shutdown while the RiskManager is down, and gives nothing after', () => {
    const r = rig(false);
    r.held.ask();
    r.start();
    r.stopIntake();
    r.up();

    expect(r.done).toEqual(['drop: the engine is stopping (nothing trades)']);
    expect(r.listeners()).toBe(0);
  });

  it('at a shutdown, gives a kill still held to the RiskManager when it runs', () => {
    const r = rig(true);
    r.start();
    r.held.ask();
    r.stopIntake();

    expect(r.done).toEqual(['apply', 'drop: the engine is stopping (nothing trades)']);
  });

  it('drops the holding when the start fails, naming the failure', async () => {
    const r = rig(false);
    r.held.ask();
    r.start();
    r.fail(new Error('the exec store cannot be read'));
    await settle();

    expect(r.done).toEqual(['drop: the engine failed to start (nothing trades): the exec store cannot be read']);
  });

  it('drops the holding when the engine halts with the RiskManager failed for good, not for another actor', () => {
    const r = rig(true);
    r.start();
    r.halt('executor');
    const otherActor = [...r.done];
    r.risk.on = false;
    r.held.ask();
    r.halt('risk');

    expect(otherActor).toEqual([]);
    expect(r.done).toEqual(['drop: the RiskManager is down for good (risk failed 6 times in 60 s): the engine is halted; flatten at the venue by hand, or restart']);
  });

  it('drops the holding when the supervisor itself fails with the RiskManager down (nothing restarts it)', () => {
    const r = rig(false);
    r.start();
    r.held.ask();
    r.halt(undefined);

    expect(r.done).toEqual(['drop: the RiskManager is down for good (supervisor failed): the engine is halted; flatten at the venue by hand, or restart']);
  });
});
