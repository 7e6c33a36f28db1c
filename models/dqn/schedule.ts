import { InputValidationError } from '../../engine/types/errors.ts';

/** Exploration schedule: ε as a function of the environment step. */
export type EpsilonSchedule =
  | { kind: 'linear'; start: number; end: number; steps: number }
  | { kind: 'exponential'; start: number; end: number; /** ε − end shrinks by this factor per step */ decay: number };

/** Returns ε at `step`: linear falls from start to end over `steps`, exponential approaches end geometrically. */
export function epsilonAt(s: EpsilonSchedule, step: number): number {
  if (step < 0) throw new InputValidationError(`epsilon step must be ≥ 0, got ${step}`);
  switch (s.kind) {
    case 'linear':
      return step >= s.steps ? s.end : s.start + (s.end - s.start) * (step / s.steps);
    case 'exponential':
      return s.end + (s.start - s.end) * Math.pow(s.decay, step);
  }
}

/** Returns the importance-sampling exponent β at `step`, annealed linearly from beta0 to 1 over `steps`. */
export function betaAt(beta0: number, steps: number, step: number): number {
  return step >= steps ? 1 : beta0 + (1 - beta0) * (step / steps);
}
