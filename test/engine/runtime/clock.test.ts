import { describe, expect, it } from 'vitest';
import { createActor, setup } from 'xstate';
import { LiveClock, SimulatedClock } from '../../../engine/runtime/clock.ts';

describe('SimulatedClock', () => {
  it('fires due timers in time order, then creation order, with now() at each due time', () => {
    const clock = new SimulatedClock(100);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`late@${clock.now()}`), 31);
    clock.advance(30);
    expect(fired).toEqual(['a@110', 'b@110', 'c@130']);
    expect(clock.now()).toBe(130);
    expect(clock.pendingCount).toBe(1);
  });

  it('fires timers scheduled while firing if they fall due within the same advance', () => {
    const clock = new SimulatedClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 0);
      clock.setTimeout(() => fired.push(clock.now()), 5);
      clock.setTimeout(() => fired.push(clock.now()), 50);
    }, 10);
    clock.advance(20);
    expect(fired).toEqual([10, 10, 15]);
    expect(clock.pendingCount).toBe(1);
  });

  it('does not fire a cleared timer, and ignores unknown handles', () => {
    const clock = new SimulatedClock();
    let fired = 0;
    const h = clock.setTimeout(() => fired++, 5);
    clock.clearTimeout(h);
    clock.clearTimeout(undefined);
    clock.clearTimeout({ id: 999 });
    clock.advance(10);
    expect(fired).toBe(0);
    expect(clock.pendingCount).toBe(0);
  });

  it('never moves backwards, even when a timer callback advances the clock past the outer target', () => {
    const clock = new SimulatedClock();
    const seen: number[] = [];
    clock.setTimeout(() => clock.advance(100), 10); // e.g. a replay driver stepping time from inside a timer
    clock.advance(20);
    seen.push(clock.now());
    clock.set(50);
    seen.push(clock.now());
    expect(seen).toEqual([110, 110]);
  });

  it('treats a NaN or negative delay as zero rather than never firing', () => {
    const clock = new SimulatedClock();
    let fired = 0;
    clock.setTimeout(() => fired++, Number.NaN);
    clock.setTimeout(() => fired++, -5);
    clock.advance(0);
    expect(fired).toBe(2);
  });

  it("drives xstate delayed transitions when passed as createActor's clock", () => {
    const clock = new SimulatedClock();
    const m = setup({}).createMachine({ initial: 'a', states: { a: { after: { 1000: 'b' } }, b: {} } });
    const actor = createActor(m, { clock }).start();
    clock.advance(999);
    expect(actor.getSnapshot().value).toBe('a');
    clock.advance(1);
    expect(actor.getSnapshot().value).toBe('b');
  });
});

describe('SimulatedClock set() between timers', () => {
  it('fires nothing before the earliest due time, then fires in order after clears and re-arms', () => {
    const c = new SimulatedClock(0);
    const fired: string[] = [];
    const a = c.setTimeout(() => fired.push('a'), 100);
    c.setTimeout(() => fired.push('b'), 300);
    c.set(50);
    expect(fired).toEqual([]);
    c.clearTimeout(a);
    c.set(150); // the cleared timer's time passes: nothing due
    expect(fired).toEqual([]);
    c.setTimeout(() => fired.push('c'), 10); // due at 160, earlier than b
    c.set(159);
    expect(fired).toEqual([]);
    c.set(160);
    expect(fired).toEqual(['c']);
    c.set(400);
    expect(fired).toEqual(['c', 'b']);
    expect(c.now()).toBe(400);
    // A timer armed from a callback, due before the target, still fires within the same set().
    c.setTimeout(() => c.setTimeout(() => fired.push('e'), 5), 10);
    c.set(420);
    expect(fired).toEqual(['c', 'b', 'e']);
  });
});

describe('LiveClock', () => {
  it('cancels a timer before it can fire and tolerates foreign handles', () => {
    const clock = new LiveClock();
    let fired = false;
    const h = clock.setTimeout(() => { fired = true; }, 0);
    clock.clearTimeout(h);
    clock.clearTimeout(undefined);
    clock.clearTimeout({});
    return new Promise<void>((resolve) => setImmediate(() => setImmediate(() => { expect(fired).toBe(false); resolve(); })));
  });
});

describe('ScaledClock', () => {
  it('starts at the given time and runs speed times faster than the wall clock it reads', async () => {
    const { ScaledClock } = await import('../../../engine/runtime/clock.ts');
    let wall = 1_000;
    const c = new ScaledClock(1_723_161_253_000, 20, () => wall);
    expect(c.now()).toBe(1_723_161_253_000);
    wall += 50;
    expect(c.now()).toBe(1_723_161_254_000);
  });

  it('is the live clock at speed 1 from now', async () => {
    const { ScaledClock } = await import('../../../engine/runtime/clock.ts');
    let wall = 5_000;
    const c = new ScaledClock(undefined, 1, () => wall);
    wall += 7;
    expect(c.now()).toBe(5_007);
    expect(() => new ScaledClock(0, 0)).toThrow('clock speed 0 must be a finite number > 0');
  });
});
