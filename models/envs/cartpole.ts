import { InputValidationError } from '../../engine/types/errors.ts';
import type { Env, StepResult } from '../dqn/env.ts';
import { Rng } from '../dqn/rng.ts';

// Constants of Gym's CartPole-v1 (Barto, Sutton & Anderson 1983), explicit Euler integration.
const GRAVITY = 9.8;
const MASS_CART = 1.0;
const MASS_POLE = 0.1;
const TOTAL_MASS = MASS_CART + MASS_POLE;
const HALF_LENGTH = 0.5;
const POLE_MASS_LENGTH = MASS_POLE * HALF_LENGTH;
const FORCE = 10.0;
const TAU = 0.02;
const THETA_LIMIT = (12 * 2 * Math.PI) / 360;
const X_LIMIT = 2.4;

/**
 * Cart-pole balancing, as Gym's CartPole-v1: state [x, ẋ, θ, θ̇], action 0 pushes left and 1 right,
 * reward 1 per step (the failing step included), terminated when |θ| > 12° or |x| > 2.4, truncated at
 * `maxSteps` (500). Starts uniformly in ±0.05 on every component, from a seeded generator.
 */
export class CartPole implements Env {
  readonly stateSize = 4;
  readonly actionCount = 2;
  private readonly rng: Rng;
  private s = new Float64Array(4);
  private t = 0;
  private over = true;

  constructor(seed: number, private readonly maxSteps = 500) {
    this.rng = new Rng(seed);
  }

  reset(): Float32Array {
    for (let i = 0; i < 4; i++) this.s[i] = this.rng.uniform(-0.05, 0.05);
    this.t = 0;
    this.over = false;
    return Float32Array.from(this.s);
  }

  step(action: number): StepResult {
    if (this.over) throw new InputValidationError('CartPole.step after the episode ended: call reset()');
    if (action !== 0 && action !== 1) throw new InputValidationError(`CartPole action must be 0 or 1, got ${action}`);
    const [x, xDot, theta, thetaDot] = this.s;
    const force = action === 1 ? FORCE : -FORCE;
    const cos = Math.cos(theta), sin = Math.sin(theta);
    const temp = (force + POLE_MASS_LENGTH * thetaDot * thetaDot * sin) / TOTAL_MASS;
    const thetaAcc = (GRAVITY * sin - cos * temp) / (HALF_LENGTH * (4 / 3 - (MASS_POLE * cos * cos) / TOTAL_MASS));
    const xAcc = temp - (POLE_MASS_LENGTH * thetaAcc * cos) / TOTAL_MASS;
    this.s[0] = x + TAU * xDot;
    this.s[1] = xDot + TAU * xAcc;
    this.s[2] = theta + TAU * thetaDot;
    this.s[3] = thetaDot + TAU * thetaAcc;
    this.t++;
    const terminated = Math.abs(this.s[0]) > X_LIMIT || Math.abs(this.s[2]) > THETA_LIMIT;
    const truncated = !terminated && this.t >= this.maxSteps;
    this.over = terminated || truncated;
    return { state: Float32Array.from(this.s), reward: 1, terminated, truncated };
  }

  /** Returns the raw state in float64 (for tests). */
  rawState(): Float64Array {
    return this.s.slice();
  }
}
