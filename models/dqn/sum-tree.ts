import { InputValidationError } from '../../engine/types/errors.ts';

/**
 * Sum tree (and min tree) over `capacity` non-negative priorities: O(log n) update, prefix-sum
 * search and total. Capacity is rounded up to a power of two internally; padding leaves stay 0.
 * Each parent is recomputed from its children on every update, so sums never drift.
 */
export class SumTree {
  readonly capacity: number;
  private readonly size: number;
  private readonly sums: Float64Array;
  private readonly mins: Float64Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new InputValidationError(`sum tree capacity must be an integer ≥ 1, got ${capacity}`);
    this.capacity = capacity;
    let size = 1;
    while (size < capacity) size *= 2;
    this.size = size;
    this.sums = new Float64Array(2 * size);
    this.mins = new Float64Array(2 * size).fill(Infinity);
  }

  /** Sets the priority of slot i. */
  set(i: number, priority: number): void {
    if (!(priority >= 0) || !Number.isFinite(priority)) throw new InputValidationError(`priority must be finite and ≥ 0, got ${priority} at slot ${i}`);
    if (i < 0 || i >= this.capacity) throw new InputValidationError(`slot ${i} outside sum tree of capacity ${this.capacity}`);
    let n = i + this.size;
    this.sums[n] = priority;
    this.mins[n] = priority;
    for (n >>= 1; n >= 1; n >>= 1) {
      this.sums[n] = this.sums[2 * n] + this.sums[2 * n + 1];
      this.mins[n] = Math.min(this.mins[2 * n], this.mins[2 * n + 1]);
    }
  }

  /** Returns the priority of slot i. */
  get(i: number): number {
    return this.sums[i + this.size];
  }

  /** Returns the sum of all priorities. */
  total(): number {
    return this.sums[1];
  }

  /** Returns the smallest priority among slots that were ever set (Infinity if none). */
  min(): number {
    return this.mins[1];
  }

  /**
   * Returns the slot where the running sum of priorities passes u (0 ≤ u < total): slot i is found
   * for u in a sub-interval of length priority(i), so uniform u samples proportionally to priority.
   * Never returns a zero-priority slot while the total is positive (guards rounding at the edges).
   */
  find(u: number): number {
    let n = 1;
    while (n < this.size) {
      const left = this.sums[2 * n];
      if (u < left || this.sums[2 * n + 1] <= 0) n = 2 * n;
      else { u -= left; n = 2 * n + 1; }
    }
    return n - this.size;
  }
}
