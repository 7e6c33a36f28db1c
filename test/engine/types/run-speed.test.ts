import { describe, expect, it } from 'vitest';
import { RUN_SPEED_MAX as CONFIG_MAX, RUN_SPEED_MIN as CONFIG_MIN } from '../../../engine/config/schema.ts';
import { isRunSpeed, RUN_SPEED_MAX, RUN_SPEED_MIN } from '../../../engine/types/run-speed.ts';

describe('isRunSpeed', () => {
  it.each([0.01, 0.5, 1, 20, 1000])('takes %s', (v) => {
    expect(isRunSpeed(v)).toBe(true);
  });

  it.each([0, 0.009, 1000.5, 1e9, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %s', (v) => {
    expect(isRunSpeed(v)).toBe(false);
  });

  it('holds the flags to the bounds the config holds data.speed to', () => {
    expect([RUN_SPEED_MIN, RUN_SPEED_MAX]).toEqual([CONFIG_MIN, CONFIG_MAX]);
  });
});
