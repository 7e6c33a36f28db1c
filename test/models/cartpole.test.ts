import { describe, expect, it } from 'vitest';
import { CartPole } from '../../models/envs/cartpole.ts';
import { Rng } from '../../models/dqn/rng.ts';
import { InputValidationError } from '../../engine/types/errors.ts';

const THETA_LIMIT = (12 * 2 * Math.PI) / 360;

describe('CartPole-v1', () => {
  it('one Euler step matches the Gym equations, written out here independently', () => {
    const env = new CartPole(1);
    env.reset();
    const [x, xd, th, thd] = env.rawState();
    const r = env.step(1);
    const cos = Math.cos(th), sin = Math.sin(th);
    const temp = (10 + 0.05 * thd * thd * sin) / 1.1;
    const thAcc = (9.8 * sin - cos * temp) / (0.5 * (4 / 3 - (0.1 * cos * cos) / 1.1));
    const xAcc = temp - (0.05 * thAcc * cos) / 1.1;
    const s = env.rawState();
    expect(s[0]).toBeCloseTo(x + 0.02 * xd, 12);
    expect(s[1]).toBeCloseTo(xd + 0.02 * xAcc, 12);
    expect(s[2]).toBeCloseTo(th + 0.02 * thd, 12);
    expect(s[3]).toBeCloseTo(thd + 0.02 * thAcc, 12);
    // From exact rest a right push gives ẍ ≈ 9.7561 and θ̈ ≈ −14.634 (worked by hand from the constants).
    const temp0 = 10 / 1.1, thAcc0 = -temp0 / (0.5 * (4 / 3 - 0.1 / 1.1));
    expect(thAcc0).toBeCloseTo(-14.634, 3);
    expect(temp0 - (0.05 * thAcc0) / 1.1).toBeCloseTo(9.7561, 3);
    expect(r.reward).toBe(1);
    expect(Array.from(r.state)).toEqual(Array.from(Float32Array.from(s)));
  });

  it('starts within ±0.05 and a random policy lasts ~22 steps on average, as in Gym', () => {
    const env = new CartPole(3);
    const rng = new Rng(4);
    let total = 0;
    for (let e = 0; e < 400; e++) {
      const s0 = env.reset();
      expect(s0.every((v) => Math.abs(v) <= 0.05)).toBe(true);
      for (;;) {
        const r = env.step(rng.int(2));
        total += r.reward;
        if (r.terminated || r.truncated) break;
      }
    }
    expect(total / 400).toBeGreaterThan(18);
    expect(total / 400).toBeLessThan(27);
  });

  it('terminates exactly when the pole passes 12° or the cart leaves ±2.4', () => {
    const env = new CartPole(5);
    for (let e = 0; e < 20; e++) {
      env.reset();
      for (;;) {
        const r = env.step(e % 2);
        const [x, , th] = env.rawState();
        const out = Math.abs(th) > THETA_LIMIT || Math.abs(x) > 2.4;
        expect(r.terminated).toBe(out);
        if (r.terminated) break;
      }
    }
    expect(() => env.step(0)).toThrow(InputValidationError);
  });

  it('truncates (not terminates) at 500 steps under a balancing controller', () => {
    const env = new CartPole(6);
    let s = env.reset();
    let steps = 0;
    for (;;) {
      const r = env.step(s[2] + 0.5 * s[3] > 0 ? 1 : 0);
      steps++;
      s = r.state;
      if (r.terminated || r.truncated) {
        expect(r.truncated).toBe(true);
        expect(r.terminated).toBe(false);
        break;
      }
    }
    expect(steps).toBe(500);
  });

  it('is deterministic for a seed and rejects invalid actions', () => {
    const a = new CartPole(9), b = new CartPole(9);
    expect(a.reset()).toEqual(b.reset());
    expect(a.step(1).state).toEqual(b.step(1).state);
    expect(() => a.step(2)).toThrow(InputValidationError);
  });
});
