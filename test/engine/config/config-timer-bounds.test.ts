// Periods of engine timers have upper bounds (runtime review finding 3): store.retention.everyMinutes 43200 (monthly)
// was accepted, and the daemon's clock ran the retention every ~2 ms (Node's setTimeout takes no delay over
// 2^31−1 ms; the clock now waits in parts, test/engine/runtime/clock-long-timers.test.ts). A period past these bounds
// is a typo or a unit mistake (ms for minutes) rather than a plan, and is refused naming the key.
import { describe, expect, it } from 'vitest';
import { parseEnvOverrides, validateConfig } from '../../../engine/config/index.ts';

const problemsOf = (doc: unknown): string[] => {
  const r = validateConfig(doc, parseEnvOverrides({}));
  return r.ok ? [] : r.problems;
};

describe('timer periods in the config', () => {
  it.each([
    ['a monthly retention pass', { store: { retention: { everyMinutes: 43_200 } } }, 'store.retention.everyMinutes: expected <= 10080, received 43200'],
    ['a fallback cool-down of a day', { venues: { fallback: { cooldownMs: 86_400_000 } } }, 'venues.fallback.cooldownMs: expected <= 3600000, received 86400000'],
    ['online labelling every two days', { models: { online: { pollMs: 172_800_000, retrainEveryMs: 604_800_000 } } }, 'models.online.pollMs: expected <= 86400000, received 172800000'],
    ['online training every thirty days', { models: { online: { retrainEveryMs: 2_592_000_000 } } }, 'models.online.retrainEveryMs: expected <= 604800000, received 2592000000'],
  ])('refuses %s', (_name, doc, problem) => {
    expect(problemsOf(doc)).toEqual([problem]);
  });

  it('accepts each at its bound', () => {
    expect(problemsOf({
      store: { retention: { everyMinutes: 10_080 } }, venues: { fallback: { cooldownMs: 3_600_000 } },
      models: { online: { pollMs: 86_400_000, retrainEveryMs: 604_800_000 } },
    })).toEqual([]);
  });
});
