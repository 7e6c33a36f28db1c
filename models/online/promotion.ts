import { InputValidationError } from '../../engine/types/errors.ts';
import type { ClassFigures } from '../train/report.ts';

/** When a candidate replaces the live model. */
export interface PromotionPolicy {
  /** The candidate's held-out log loss must be lower than the live model's by more than this. */
  readonly minLogLossGain: number;
  /** Also require held-out accuracy at least the live model's. */
  readonly requireAccuracyNotWorse: boolean;
  /** Held-out pairs needed before any verdict. */
  readonly minHeldOut: number;
}

/** Default: any log-loss gain above 0.001 nats, accuracy not worse, at least 50 held-out pairs. */
export const DEFAULT_PROMOTION: PromotionPolicy = { minLogLossGain: 0.001, requireAccuracyNotWorse: true, minHeldOut: 50 };

/** A promotion verdict and why. */
export interface PromotionDecision {
  readonly promote: boolean;
  readonly reason: string;
}

/** Returns whether `candidate` beats `live` on the same held-out pairs under `policy`. */
export function decidePromotion(live: ClassFigures, candidate: ClassFigures, policy: PromotionPolicy = DEFAULT_PROMOTION): PromotionDecision {
  if (live.n !== candidate.n) throw new InputValidationError(`live and candidate were scored on different pairs (${live.n} vs ${candidate.n})`);
  if (live.n < policy.minHeldOut) return { promote: false, reason: `only ${live.n} held-out pairs, need ${policy.minHeldOut}` };
  const gain = live.logLoss - candidate.logLoss;
  if (!(gain > policy.minLogLossGain)) {
    return { promote: false, reason: `held-out log loss ${candidate.logLoss.toFixed(5)} vs live ${live.logLoss.toFixed(5)}: gain ${gain.toFixed(5)} ≤ ${policy.minLogLossGain}` };
  }
  if (policy.requireAccuracyNotWorse && candidate.accuracy < live.accuracy) {
    return { promote: false, reason: `held-out accuracy ${candidate.accuracy.toFixed(4)} < live ${live.accuracy.toFixed(4)}` };
  }
  return { promote: true, reason: `held-out log loss ${candidate.logLoss.toFixed(5)} < live ${live.logLoss.toFixed(5)}, accuracy ${candidate.accuracy.toFixed(4)} vs ${live.accuracy.toFixed(4)}` };
}
