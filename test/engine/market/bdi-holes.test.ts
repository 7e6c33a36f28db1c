// Holes in the series the models read: training (models/train/bdi-dataset.ts) keeps no decision whose 300 1m bars
// have a gap, so a serving input mostly of empty 1m slots is one the CNN never saw. And the reference 1s window is
// aligned to the primary's, so a lagging reference shows as missing frames instead of sliding under the primary.
import { describe, expect, it } from 'vitest';
import { BDI_FRAMES } from '../../../engine/market/base-data-input.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { assembleBoth, bars, column, NOW, pivots, world } from './bdi-synthetic.ts';

describe('BaseDataInput with holes', () => {
  it('cannot infer on a 1m series with 101 of 300 frames', () => {
    const m1 = bars('1m', NOW, 300).filter((_, i) => i % 3 === 0 || i >= 299);
    const b = assembleBoth(world(NOW, { '1m': m1 }));
    expect(b.validation.frames.primary1m).toBe(101);
    expect(b.validation.canInfer).toBe(false);
    expect(b.validation.message).toMatch(/ETH\/USDT 1m series lacks 199 of 300 frames/);
  });

  it('still infers with a few 1m bars missing (a reconnect before the backfill fills it)', () => {
    const m1 = bars('1m', NOW, 400).filter((_, i) => i < 390 || i > 394);
    const b = assembleBoth(world(NOW, { '1m': m1 }));
    expect(b.validation.frames.primary1m).toBe(295);
    expect(b.validation.canInfer).toBe(true);
  });

  it('cannot infer on a 1h series with 20 holes, but accepts a short 1h history', () => {
    const holey = assembleBoth(world(NOW, { '1h': bars('1h', NOW, 400).filter((_, i) => i < 300 || i >= 320) }));
    expect(holey.validation.canInfer).toBe(false);
    expect(holey.validation.message).toMatch(/ETH\/USDT 1h series lacks 20 of 300 frames/);
    const short = assembleBoth(world(NOW, { '1h': bars('1h', NOW, 200) }));
    expect(short.validation.canInfer).toBe(true);
  });

  it('finds the pivots only on the bars inside the 300 slots', () => {
    // 150 bars over the newest 300 minutes (every other one), then 150 older bars, one with a towering high.
    const all = bars('1m', NOW, 600);
    const m1 = all.filter((_, i) => i < 300 || i % 2 === 1);
    const spike = 200;
    m1[spike] = { ...m1[spike]!, high: m1[spike]!.high * 1.5 };
    const b = assembleBoth(world(NOW, { '1m': m1 }));
    const clean = all.filter((_, i) => i % 2 === 1);
    const c = assembleBoth(world(NOW, { '1m': clean }));
    expect(pivots(b.data)).toEqual(pivots(c.data));
    // No level's last or previous high is the spike's (+50%).
    const rel = pivots(b.data).filter((_, k) => [3, 5].includes(k % 10));
    expect(Math.max(...rel)).toBeLessThan(0.3);
  });

  it('aligns the reference 1s to the primary 1s: 90 s behind leaves its newest 90 slots empty', () => {
    const ref: Candle[] = bars('1s', NOW - 90_000, 400, 60000, 7);
    const b = assembleBoth(world(NOW, { ref }));
    expect(b.validation.frames.reference1s).toBe(BDI_FRAMES - 90);
    const present = column(b.data, 4, 5);
    expect(present.slice(0, 210).every((x) => x === 1)).toBe(true);
    expect(present.slice(210).every((x) => x === 0)).toBe(true);
    // Slot 209 is the reference bar that opened 90 s before the primary's newest; its close is the reference.
    expect(column(b.data, 4, 3)[209]).toBe(0);
    expect(b.validation.completeness).toBeLessThan(1);
  });
});
