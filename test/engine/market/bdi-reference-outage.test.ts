// The reference (BTC) 1s is aligned to the primary's newest 1s, so an outage of its feed empties one slot per second.
// No model reads it (models/cnn/bdi-adapter.ts leaves both 1s series out), and the 1s is never backfilled: an outage
// must lower the quality scores, never stop inference for its whole length.
import { describe, expect, it } from 'vitest';
import { BDI_FRAMES } from '../../../engine/market/base-data-input.ts';
import { assembleBoth, bars, NOW, world } from './bdi-synthetic.ts';

describe('BaseDataInput with the reference 1s feed down', () => {
  it.each([201, 600, 3_600])('still infers with the reference %i s behind, and reports the lag, not holes', (s) => {
    const b = assembleBoth(world(NOW, { ref: bars('1s', NOW - s * 1_000, 400, 60000, 7) }));
    expect(b.validation.frames.reference1s).toBe(Math.max(0, BDI_FRAMES - s));
    expect(b.validation.canInfer).toBe(true);
    // NOW is half a second into a second: the newest reference bar closed s + 0.5 s ago.
    expect(b.validation.reasons).toContain(`BTC/USDT 1s series is ${(s + 0.5).toFixed(1)} s behind`);
    expect(b.validation.reasons.join('; ')).not.toMatch(/BTC\/USDT 1s series has \d+ holes?/);
    expect(b.validation.completeness).toBeLessThan(1);
  });

  it('still infers when the reference outage alone takes the completeness below 0.8', () => {
    // A 1d history of 150 days (a young listing) is accepted; with the reference window empty too, 4.5 of 6 shares.
    const b = assembleBoth(world(NOW, { '1d': bars('1d', NOW, 150), ref: bars('1s', NOW - 600_000, 400, 60000, 7) }));
    expect(b.validation.completeness).toBeCloseTo(4.5 / 6, 12);
    expect(b.validation.canInfer).toBe(true);
    const noCob = assembleBoth({ ...world(NOW, { '1d': bars('1d', NOW, 150) }), cob: undefined });
    expect(noCob.validation.canInfer).toBe(false);
    expect(noCob.validation.message).toMatch(/^cannot infer: completeness 0\.75 < 0\.8; /);
  });

  it('counts the holes between the oldest and the newest reference bar of a lagging reference', () => {
    const ref = bars('1s', NOW - 50_000, 400, 60000, 7).filter((_, i) => i < 390 || i > 392);
    const b = assembleBoth(world(NOW, { ref }));
    expect(b.validation.reasons).toContain('BTC/USDT 1s series has 3 holes');
    expect(b.validation.canInfer).toBe(true);
  });

  it('counts a missing newest slot as a hole when a newer reference bar sits above the window', () => {
    // The reference leads the primary by 2 s and misses the bar at the primary's newest second.
    const lead = bars('1s', NOW + 2_000, 400, 60000, 7);
    const ref = lead.filter((_, i) => i !== lead.length - 3);
    const b = assembleBoth(world(NOW, { ref }));
    expect(b.validation.reasons).toContain('BTC/USDT 1s series has 1 hole');
  });

  it('still refuses a primary 1s shorter than 100 frames (warm-up)', () => {
    const b = assembleBoth(world(NOW, { '1s': bars('1s', NOW, 99) }));
    expect(b.validation.canInfer).toBe(false);
    expect(b.validation.message).toMatch(/ETH\/USDT 1s series has 99 frames, needs 100/);
  });
});
