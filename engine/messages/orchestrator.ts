import type { TsMs } from '../types/time.ts';
import type { Action } from './signals.ts';

/** Health of a registered model in the blend: active, failed (dropped until its cool-down probe), probing (probe running). */
export type ModelHealth = 'active' | 'failed' | 'probing';

/** A model's health or active version changed (dropped after repeated failures, re-admitted, rolled back, activated). */
export interface ModelStatusMsg {
  readonly type: 'signal.modelStatus';
  readonly model: string;
  /** The active version after the change. */
  readonly version: string;
  readonly state: ModelHealth;
  /** Failures in a row when the change happened (0 after a success or an activation). */
  readonly consecutiveFailures: number;
  readonly reason: string;
  /** Set by a rollback: the version taken out of the blend. */
  readonly rolledBackFrom?: string;
  readonly ts: TsMs;
}

/**
 * How a model's judged predictions compare with the naive baseline (actors/orchestrator/model-health.ts): `degraded`
 * when it is significantly worse than always predicting the most frequent realised move, `recovered` when that stopped
 * holding for a while, `overconfident` / `calibrated` when its mean confidence left / came back within the allowed gap
 * above its accuracy, `reset` when a new version started its window over (it was flagged before).
 */
export type ModelHealthChange = 'degraded' | 'recovered' | 'overconfident' | 'calibrated' | 'reset';

/** A model's prediction quality changed (published on each change only, never per outcome). */
export interface ModelHealthMsg {
  readonly type: 'signal.modelHealth';
  readonly model: string;
  /** The active version the figures are of. */
  readonly version: string;
  readonly change: ModelHealthChange;
  /** After the change. */
  readonly state: 'ok' | 'degraded';
  readonly overconfident: boolean;
  /** Over the last `judged` outcomes (0..1); 0 with a reset. */
  readonly accuracy: number;
  /** Accuracy of always predicting `baselineAction` on the same outcomes. */
  readonly baseline: number;
  readonly baselineAction?: Action;
  readonly meanConfidence: number;
  readonly judged: number;
  /** One-sided p-value that the model is no worse than the baseline. */
  readonly pValue: number;
  /** With `reset`: the flags the previous version's window had when it was dropped. */
  readonly was?: { readonly degraded: boolean; readonly overconfident: boolean };
  readonly ts: TsMs;
}

/** Replaces the mixture-of-experts thresholds at run time; an absent field keeps its value. Each is a probability 0..1. */
export interface SetThresholds {
  readonly type: 'orchestrator.setThresholds';
  readonly buy?: number;
  readonly sell?: number;
  readonly minConfidence?: number;
}

/** Re-activates the version of `model` that was active before the current one. */
export interface RollbackModel {
  readonly type: 'orchestrator.rollback';
  readonly model: string;
}

/** Control messages the Orchestrator takes (from the dashboard). */
export type OrchestratorCommand = SetThresholds | RollbackModel;

/** Every orchestrator message. */
export type OrchestratorMsg = ModelStatusMsg | ModelHealthMsg | OrchestratorCommand;
