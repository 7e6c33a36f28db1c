// A series the models read (the primary 1m, 1h, 1d: the CNN's columns, the DQN's 1m closes) that stopped updating
// blocks inference: the models would otherwise read a frozen block as the present.
import { describe, expect, it } from 'vitest';
import { assembleBoth, bars, NOW, world } from './bdi-synthetic.ts';

describe('BaseDataInput with a stale series', () => {
  it('cannot infer when the primary 1m is 45 minutes behind, and says which series and how far', () => {
    const b = assembleBoth(world(NOW, { '1m': bars('1m', NOW - 45 * 60_000, 400) }));
    expect(b.validation.completeness).toBe(1);
    expect(b.validation.canInfer).toBe(false);
    expect(b.validation.message).toMatch(/ETH\/USDT 1m series is 2700\.5 s behind/);
  });

  it('cannot infer when the primary 1h is 6 hours behind', () => {
    const b = assembleBoth(world(NOW, { '1h': bars('1h', NOW - 6 * 3_600_000, 400) }));
    expect(b.validation.canInfer).toBe(false);
    expect(b.validation.message).toMatch(/ETH\/USDT 1h series is 23400\.5 s behind/);
  });

  it('still infers with the 1m two bars behind within the backfill\'s reach (stream down, REST filling each minute)', () => {
    // The newest 1m bar closed 2 min 4.5 s before the input: the next one is missed by one maintenance pass at most.
    const b = assembleBoth(world(NOW, { '1m': bars('1m', NOW - 64_000, 400) }));
    expect(b.validation.reasons.join()).toMatch(/1m series is 1\d\d\.\d s behind/);
    expect(b.validation.canInfer).toBe(true);
  });

  it('does not block on a stale 1s series: no model reads it (freshness reports it)', () => {
    const b = assembleBoth(world(NOW, { '1s': bars('1s', NOW - 60_000, 400) }));
    expect(b.validation.quality.freshness).toBeLessThan(1);
    expect(b.validation.canInfer).toBe(true);
  });
});
