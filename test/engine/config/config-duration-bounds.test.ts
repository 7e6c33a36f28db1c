// Durations of the execution and the market breaker have upper bounds (re-review finding 3): 300000000 (≈3.5 days,
// a unit mistake) passed `config check` for the simulated latency, the retry delays and the breaker's windows. A
// value past these bounds is refused naming the key, as models.timeoutMs and the timer periods are
// (config-timer-bounds.test.ts).
import { describe, expect, it } from 'vitest';
import { parseEnvOverrides, validateConfig } from '../../../engine/config/index.ts';

const problemsOf = (doc: unknown): string[] => {
  const r = validateConfig(doc, parseEnvOverrides({}));
  return r.ok ? [] : r.problems;
};
const BIG = 300_000_000;

describe('durations in the config', () => {
  it.each([
    [{ execution: { latencyMs: BIG } }, 'execution.latencyMs: expected <= 60000, received 300000000'],
    [{ execution: { retry: { baseDelayMs: BIG } } }, 'execution.retry.baseDelayMs: expected <= 60000, received 300000000'],
    [{ execution: { retry: { maxDelayMs: BIG } } }, 'execution.retry.maxDelayMs: expected <= 300000, received 300000000'],
    [{ risk: { breaker: { moveWindowMs: BIG } } }, 'risk.breaker.moveWindowMs: expected <= 86400000, received 300000000'],
    [{ risk: { breaker: { cooldownMs: BIG } } }, 'risk.breaker.cooldownMs: expected <= 86400000, received 300000000'],
    [{ risk: { breaker: { staleMs: BIG } } }, 'risk.breaker.staleMs: expected <= 3600000, received 300000000'],
    [{ risk: { breaker: { spreadMs: BIG } } }, 'risk.breaker.spreadMs: expected <= 3600000, received 300000000'],
  ])('refuses %j', (doc, problem) => {
    expect(problemsOf(doc)).toEqual([problem]);
  });

  it('accepts each at its bound, and the breaker\'s guards switched off', () => {
    expect(problemsOf({
      execution: { latencyMs: 60_000, retry: { baseDelayMs: 60_000, maxDelayMs: 300_000 } },
      risk: { breaker: { moveWindowMs: 86_400_000, cooldownMs: 86_400_000, staleMs: 3_600_000, spreadMs: 3_600_000 } },
    })).toEqual([]);
    expect(problemsOf({ risk: { breaker: { staleMs: false, maxSpreadBps: false } } })).toEqual([]);
  });
});
