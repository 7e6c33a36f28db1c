import { InputValidationError } from '../../engine/types/errors.ts';

/** Class ids shared by labels, baselines and the trading DQN's actions. */
export const BUY = 0;
export const SELL = 1;
export const HOLD = 2;
/** Number of label classes. */
export const NUM_CLASSES = 3;
export type LabelClass = typeof BUY | typeof SELL | typeof HOLD;

/** Bars the labeller reads; index i is one bar in time order. */
export type Bars = {
  readonly open: ArrayLike<number>;
  readonly high: ArrayLike<number>;
  readonly low: ArrayLike<number>;
  readonly close: ArrayLike<number>;
};

export type TripleBarrierOptions = {
  /** Bars of log returns in the rolling volatility (σ_t uses returns ending at bar t). */
  volWindow: number;
  /** Vertical (time) barrier: bars after t0. */
  horizon: number;
  /** Upper barrier = close·(1 + ptMult·σ). */
  ptMult: number;
  /** Lower barrier = close·(1 − slMult·σ). */
  slMult: number;
};

/** Labels as parallel arrays, one entry per labelled bar, ascending t0. */
export type TripleBarrierLabels = {
  /** Bar the label starts at (the decision bar). */
  readonly t0: Int32Array;
  /** Bar where the label resolved: the barrier-touching bar, or t0 + horizon. */
  readonly t1: Int32Array;
  readonly label: Uint8Array;
  /** close[t1] / close[t0] − 1: what a long held over [t0, t1] earned, before fees. */
  readonly ret: Float64Array;
  readonly sigma: Float64Array;
  /** Labels where both barriers were inside one bar and the open did not decide it (labelled HOLD). */
  readonly ambiguous: number;
};

/**
 * Returns σ_t, the sample standard deviation of the `window` log returns ending at bar t
 * (ln(c_i / c_{i−1}) for i in (t − window, t]); NaN for t < window. Reads no bar after t.
 */
export function rollingVolatility(close: ArrayLike<number>, window: number): Float64Array {
  if (!Number.isInteger(window) || window < 2) throw new InputValidationError(`volatility window must be an integer ≥ 2, got ${window}`);
  const n = close.length;
  const out = new Float64Array(n).fill(NaN);
  // Recomputed per bar (O(n·window)) rather than a running sum: a running sum carries rounding from
  // old bars, and exact per-bar values make the "σ_t reads nothing after t" test a strict equality.
  for (let t = window; t < n; t++) {
    let mean = 0;
    for (let i = t - window + 1; i <= t; i++) mean += Math.log(close[i] / close[i - 1]);
    mean /= window;
    let ss = 0;
    for (let i = t - window + 1; i <= t; i++) {
      const d = Math.log(close[i] / close[i - 1]) - mean;
      ss += d * d;
    }
    out[t] = Math.sqrt(ss / (window - 1));
  }
  return out;
}

/**
 * Returns triple-barrier labels (López de Prado, AFML ch. 3) for every bar t with a full volatility
 * window behind it and a full horizon ahead of it (t + horizon < n), so every label is final.
 * Bars t+1..t+horizon are scanned in order; the first bar whose high reaches the upper barrier gives
 * BUY, whose low reaches the lower barrier gives SELL; none gives HOLD at t1 = t + horizon.
 * Same-bar rule: when one bar touches both barriers, its open decides if it already gapped past one
 * of them; otherwise the intrabar order is unknowable from OHLC and neither a long nor a short was
 * safely profitable, so the label is HOLD with t1 at that bar (counted in `ambiguous`).
 * A bar with σ_t = 0 (flat market) gets barriers at the close itself: a barrier of zero width is touched only by a
 * price beyond the close, so any move resolves the label and a market that stays flat ends HOLD at the time barrier.
 */
export function tripleBarrierLabels(bars: Bars, opts: TripleBarrierOptions): TripleBarrierLabels {
  const { volWindow, horizon, ptMult, slMult } = opts;
  if (!Number.isInteger(horizon) || horizon < 1) throw new InputValidationError(`horizon must be an integer ≥ 1, got ${horizon}`);
  if (!(ptMult > 0) || !(slMult > 0)) throw new InputValidationError(`barrier multipliers must be > 0, got pt ${ptMult} sl ${slMult}`);
  const n = bars.close.length;
  if (bars.open.length !== n || bars.high.length !== n || bars.low.length !== n) {
    throw new InputValidationError(`bars have unequal lengths: open ${bars.open.length} high ${bars.high.length} low ${bars.low.length} close ${n}`);
  }
  const sigma = rollingVolatility(bars.close, volWindow);
  const first = volWindow;
  const count = Math.max(0, n - horizon - first);
  const t0 = new Int32Array(count), t1 = new Int32Array(count), label = new Uint8Array(count);
  const ret = new Float64Array(count), sig = new Float64Array(count);
  let ambiguous = 0;
  for (let k = 0; k < count; k++) {
    const t = first + k;
    const c = bars.close[t];
    const s = sigma[t];
    const upper = c * (1 + ptMult * s);
    const lower = c * (1 - slMult * s);
    // Zero width (σ_t = 0): with `>=` a flat next bar would touch both barriers and its open, at the close, would
    // call it BUY, so live accuracy would score BUY as right in a halted market. Only a move past the close counts.
    const upStrict = !(upper > c), downStrict = !(lower < c);
    let end = t + horizon;
    let cls: LabelClass = HOLD;
    for (let j = t + 1; j <= t + horizon; j++) {
      const h = bars.high[j], l = bars.low[j];
      const up = upStrict ? h > upper : h >= upper;
      const down = downStrict ? l < lower : l <= lower;
      if (!up && !down) continue;
      end = j;
      if (up && down) {
        const o = bars.open[j];
        if (upStrict ? o > upper : o >= upper) cls = BUY;
        else if (downStrict ? o < lower : o <= lower) cls = SELL;
        else { cls = HOLD; ambiguous++; }
      } else cls = up ? BUY : SELL;
      break;
    }
    t0[k] = t; t1[k] = end; label[k] = cls; sig[k] = s;
    ret[k] = bars.close[end] / c - 1;
  }
  return { t0, t1, label, ret, sigma: sig, ambiguous };
}

/** Returns how many labels of each class (index BUY, SELL, HOLD). */
export function classCounts(labels: ArrayLike<number>): [number, number, number] {
  const out: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < labels.length; i++) out[labels[i] as LabelClass]++;
  return out;
}
