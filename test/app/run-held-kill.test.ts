// applyHeldKill (app/run.ts): a kill the dashboard held goes to the RiskManager as soon as it runs: at once when it
// runs already (sys.start() has started every actor when it returns), else at the first poll that finds it running
// (its first start failed, or it restarted later, the engine running). At a shutdown or a failed start a kill still
// held goes to it if it runs, else is dropped; the polling ends there.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { applyHeldKill, HELD_KILL_POLL_MS } from '../../app/run.ts';
import type { HeldKill } from '../../engine/dashboard/index.ts';
import type { RiskState } from '../../actors/risk-manager/index.ts';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

// A HeldKill holding one kill (`ask()` holds another) and recording what was done with it; a System whose RiskManager
// runs while `risk.on`, with its start and shutdown in hand.
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
  const sys = {
    ready: () => readyP,
    lifecycle: lifecycle as never,
    handles: { risk: () => (risk.on ? ({} as RiskState) : undefined) } as never,
  };
  const stopIntake = (): void => {
    lifecycle.shuttingDown = true;
    for (const fn of intake) fn();
  };
  const start = (): void => applyHeldKill(sys, held);
  return { done, held, risk, start, fail, stopIntake };
}

describe('applyHeldKill', () => {
  it('applies a kill held before the start at once when the RiskManager runs', () => {
    const r = rig(true);
    r.held.ask();
    r.start();

    expect(r.done).toEqual(['apply']);
  });

  it('holds a kill while the RiskManager is down and applies it at the first poll that finds it running', async () => {
    const r = rig(false);
    r.held.ask();
    r.start();
    await vi.advanceTimersByTimeAsync(HELD_KILL_POLL_MS * 4);
    const whileDown = [...r.done];
    r.risk.on = true;
    await vi.advanceTimersByTimeAsync(HELD_KILL_POLL_MS);

    expect(whileDown).toEqual([]);
    expect(r.done).toEqual(['apply']);
  });

  it('drops a kill still held on a shutdown, and offers nothing after', async () => {
    const r = rig(false);
    r.held.ask();
    r.start();
    r.stopIntake();
    r.risk.on = true;
    await vi.advanceTimersByTimeAsync(HELD_KILL_POLL_MS * 4);

    expect(r.done).toEqual(['drop: the engine is stopping (nothing trades)']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('drops the holding when the start fails, naming the failure', async () => {
    const r = rig(false);
    r.held.ask();
    r.start();
    r.fail(new Error('the exec store cannot be read'));
    await vi.advanceTimersByTimeAsync(HELD_KILL_POLL_MS);

    expect(r.done).toEqual(['drop: the engine failed to start (nothing trades): the exec store cannot be read']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('at a shutdown, gives a kill still held to the RiskManager when it runs, then stops polling', async () => {
    const r = rig(true);
    r.start();
    // Held later, while the RiskManager restarted: the poll has not come round yet.
    r.held.ask();
    r.stopIntake();
    await vi.advanceTimersByTimeAsync(HELD_KILL_POLL_MS * 2);

    expect(r.done).toEqual(['apply', 'drop: the engine is stopping (nothing trades)']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps polling while the engine runs: a kill held when the RiskManager restarts later goes once it is back', async () => {
    const r = rig(true);
    r.start();
    await vi.advanceTimersByTimeAsync(HELD_KILL_POLL_MS * 20);
    r.risk.on = false;
    r.held.ask();
    await vi.advanceTimersByTimeAsync(HELD_KILL_POLL_MS * 4);
    const whileDown = [...r.done];
    r.risk.on = true;
    await vi.advanceTimersByTimeAsync(HELD_KILL_POLL_MS);

    expect(whileDown).toEqual([]);
    expect(r.done).toEqual(['apply']);
  });
});
