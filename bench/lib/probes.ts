// Shared by the loop benchmarks (bench/loop.ts, bench/decide.ts): percentiles of µs samples and the alternating rule
// model that makes an intent on nearly every tick (so a tick -> intent p99 has hundreds of samples).
import type { RunContext } from '../../actors/orchestrator/registry.ts';
import type { ModelOutput } from '../../engine/messages/signals.ts';

/** Returns the p-th percentile of `xs` rounded to 0.1, or null when there are no samples. */
export function pct(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
}

/** p50, p99, max and count of `xs`. */
export const stats = (xs: readonly number[]) => ({ p50: pct(xs, 50), p99: pct(xs, 99), max: pct(xs, 100), n: xs.length });

/** A registry runner saying BUY, SELL, BUY, … one per tick, with certainty. */
export function alternate() {
  let k = 0;
  return async (_x: Float32Array, ctx: RunContext): Promise<ModelOutput> => {
    const buy = k++ % 2 === 0;
    return { model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: buy ? 'BUY' : 'SELL', probabilities: buy ? [1, 0, 0] : [0, 1, 0], confidence: 1 };
  };
}
