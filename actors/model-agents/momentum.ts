// A rule model: momentum of the primary 1m closes over the last `lookback` bars of the packed input. It needs no
// training, so it is a baseline expert for the blend and a check that any function can join as a model.
import { bdiSeriesFeature, BDI_FRAMES } from '../../engine/market/base-data-input.ts';
import type { ModelOutput } from '../../engine/messages/signals.ts';
import { InputValidationError } from '../../engine/types/errors.ts';
import type { ModelRunner, RunContext } from '../orchestrator/registry.ts';

/** Options of the momentum rule. */
export interface MomentumOptions {
  /** Bars back the move is measured over. */
  readonly lookback: number;
  /** A move of this many bps gives a probability of about 0.73 to its side (logistic scale). */
  readonly scaleBps: number;
}

/**
 * Returns a runner: r = return of the primary 1m close over `lookback` bars in bps; P(BUY) ∝ σ(r / scale),
 * P(SELL) ∝ σ(−r / scale), P(HOLD) ∝ 1 − |2σ(r / scale) − 1|, normalised; action = most probable.
 */
export function momentumRunner(opts: MomentumOptions = { lookback: 15, scaleBps: 10 }): ModelRunner {
  if (!Number.isInteger(opts.lookback) || opts.lookback < 1 || opts.lookback >= BDI_FRAMES) throw new InputValidationError(`momentum lookback must be 1..${BDI_FRAMES - 1}, got ${opts.lookback}`);
  if (!(opts.scaleBps > 0)) throw new InputValidationError(`momentum scaleBps must be > 0, got ${opts.scaleBps}`);
  return async (input: Float32Array, ctx: RunContext): Promise<ModelOutput> => {
    const close = bdiSeriesFeature(input, 'primary1m', 'close');
    const present = bdiSeriesFeature(input, 'primary1m', 'present');
    const then = BDI_FRAMES - 1 - opts.lookback;
    // Closes are packed relative to the newest close (newest = 0): the return since `then` is 1 / (1 + c_then) − 1.
    const bps = present[BDI_FRAMES - 1] === 1 && present[then] === 1 ? (1 / (1 + close[then]!) - 1) * 10_000 : 0;
    const s = 1 / (1 + Math.exp(-bps / opts.scaleBps));
    const raw = [s, 1 - s, 1 - Math.abs(2 * s - 1)];
    const sum = raw[0]! + raw[1]! + raw[2]!;
    const probabilities = raw.map((v) => v / sum) as [number, number, number];
    let best = 0;
    for (let k = 1; k < 3; k++) if (probabilities[k]! > probabilities[best]!) best = k;
    return {
      model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts,
      action: (['BUY', 'SELL', 'HOLD'] as const)[best]!,
      probabilities,
      confidence: probabilities[best]!,
      extra: { momentumBps: bps },
    };
  };
}
