import type { TsMs } from '../types/time.ts';

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
export type OrchestratorMsg = ModelStatusMsg | OrchestratorCommand;
