// The reference 1s window is anchored to the primary 1s: on a decision tick it moves whether or not a reference bar
// came. The incremental assembler must shift it (not walk its 300 bars again) while it lags or leads the primary,
// and still equal a from-scratch assembly when a bar entering the window is off the grid, malformed or past a gap.
import { describe, expect, it } from 'vitest';
import { assembleBaseDataInput, BdiAssembler, type BdiSources } from '../../../engine/market/base-data-input.ts';
import { CandleSeries } from '../../../engine/market/candles.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { bars, NOW, world } from './bdi-synthetic.ts';

// The bar `step` seconds after `c`, its prices moved a little (deterministic).
const after = (c: Candle, step = 1, tweak: Partial<Candle> = {}): Candle => {
  const px = c.close * (1 + Math.sin(c.openTime / 7_000) * 0.001);
  return { ...c, openTime: Math.floor(c.openTime / 1_000) * 1_000 + step * 1_000, open: c.close, close: px, high: Math.max(c.close, px) * 1.0005, low: Math.min(c.close, px) * 0.9995, volume: 1 + (c.openTime / 1_000) % 9, ...tweak };
};

describe('BdiAssembler on an anchored reference window', () => {
  it('shifts a lagging, then leading reference every tick, and walks only for a bar it must count', () => {
    const base = world(NOW);
    const p1s = new CandleSeries('1s');
    p1s.pushAll(bars('1s', NOW, 400));
    const ref = new CandleSeries('1s');
    // The reference starts 3 bars behind the primary.
    ref.pushAll(bars('1s', NOW, 400, 60000, 7).slice(0, -3));
    const asm = new BdiAssembler();
    const walks = (): number => asm.stats.seriesBuilt - asm.stats.seriesShifted;
    const tick = (refBars: (last: Candle) => Candle[]): void => {
      p1s.push(after(p1s.last()!));
      for (const c of refBars(ref.last()!)) ref.push(c);
      const src: BdiSources = { ...base, now: p1s.last()!.openTime + 1_001, primary: { ...base.primary, '1s': p1s }, reference1s: ref };
      const inc = asm.assemble(src);
      const full = assembleBaseDataInput(src);
      expect(Buffer.from(inc.data.buffer).equals(Buffer.from(full.data.buffer))).toBe(true);
      expect(inc.validation).toEqual(full.validation);
    };
    tick(() => []);
    const w0 = walks();
    // 0, 1 or 2 reference bars a tick: it lags 2 to 4 bars (empty newest slots), catches up, then leads by up to
    // 3 (bars above the window, unchecked until they enter it).
    const refTicks = (pattern: number[], ticks: number): void => {
      for (let i = 0; i < ticks; i++) tick((l) => Array.from({ length: pattern[i % pattern.length]! }, (_, j) => after(l, j + 1)));
    };
    refTicks([0, 2, 1, 1, 2, 0, 1, 1], 80);
    refTicks([2, 2, 1, 1], 8);
    refTicks([0, 2, 1, 1, 2, 0, 1, 1], 80);
    expect(walks()).toBe(w0);
    expect(asm.stats.seriesMoved).toBeGreaterThan(20);
    // Off the grid and malformed bars above the window are counted once they enter it: walked, then clean again.
    tick((l) => [after(l, 1), after(l, 2, { openTime: l.openTime + 2_007 })]);
    tick((l) => [after(l, 1, { low: l.close * 2 })]);
    tick((l) => [after(l, 3)]);
    for (let i = 0; i < 8; i++) tick((l) => [after(l)]);
    expect(walks()).toBeGreaterThan(w0);
  });

  it('finds the pivots right on a series shifted while they were found on another', () => {
    // A shift keeps the pivots' columns only on the pivot series; the 1s ones are rebuilt when the 1s becomes it.
    const base = world(NOW);
    const p1s = new CandleSeries('1s');
    p1s.pushAll(bars('1s', NOW, 400));
    const asm = new BdiAssembler();
    const at = (pivotTimeframe: '1s' | '1m'): BdiSources => ({ ...base, now: p1s.last()!.openTime + 1_001, primary: { ...base.primary, '1s': p1s }, pivotTimeframe });
    asm.assemble(at('1s'));
    for (let i = 0; i < 40; i++) {
      p1s.push(after(p1s.last()!));
      asm.assemble(at('1m'));
    }
    const inc = asm.assemble(at('1s'));
    expect(Buffer.from(inc.data.buffer).equals(Buffer.from(assembleBaseDataInput(at('1s')).data.buffer))).toBe(true);
  });
});
