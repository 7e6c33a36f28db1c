import type { TsMs } from '../types/time.ts';

export type Action = 'BUY' | 'SELL' | 'HOLD';
/** Index order of action probabilities and Q-values everywhere: BUY, SELL, HOLD. */
export const ACTIONS: readonly Action[] = ['BUY', 'SELL', 'HOLD'];

/** One model's output; extensible through `extra`. */
export interface ModelOutput {
  readonly model: string;
  readonly version: string;
  readonly symbol: string;
  readonly ts: TsMs;
  readonly action: Action;
  /** [BUY, SELL, HOLD] */
  readonly probabilities: readonly [number, number, number];
  readonly confidence: number;
  readonly hidden?: Float32Array;
  readonly extra?: Readonly<Record<string, unknown>>;
}

export interface ModelOutputMsg { readonly type: 'signal.modelOutput'; readonly output: ModelOutput }
/** The orchestrator's blended decision. */
export interface Decision {
  readonly type: 'signal.decision';
  readonly symbol: string;
  readonly action: Action;
  readonly confidence: number;
  readonly weights: Readonly<Record<string, number>>;
  /**
   * Models whose output this tick was left out of the blend, and why ('lowConfidence': below minConfidence,
   * 'notGated': no gating weight, 'badProbabilities'); absent when none was.
   */
  readonly ignored?: Readonly<Record<string, string>>;
  readonly ts: TsMs;
}

export type SignalMsg = ModelOutputMsg | Decision;
