export { orchestratorActor, orchestratorChild, OrchestratorHandle, ORCHESTRATOR_ID, type OrchestratorInput } from './actor.ts';
export { horizonVolatility, Orchestrator, type OrchestratorOptions, type OrchestratorStats, type TradingOptions } from './orchestrator.ts';
export {
  feedModelOutputs, InferenceCoordinator, ModelOutputError, ModelTimeoutError,
  type CoordinatorOptions, type CoordinatorStats, type InferenceRecorder, type InferenceTick, type TickResult,
} from './coordinator.ts';
export {
  DEFAULT_HEALTH_POLICY, ModelRegistry,
  type HealthPolicy, type InputKind, type ModelInfo, type ModelRunner, type ModelVersion, type ModelVersionSpec, type RunContext, type Runnable,
} from './registry.ts';
export {
  AccuracyTracker, DEFAULT_GATING, gatingConfig, gatingWeights, type AccuracyStat, type GatingConfig, type OutcomeSink,
} from './gating.ts';
export {
  InMemoryOrchestratorMemory, lmdbOrchestratorMemory, type OrchestratorMemory, type OrchestratorSaved, type SavedOutcomes,
} from './memory.ts';
export {
  DEFAULT_HORIZON, HorizonOutcomeEvaluator, realisedAction, type HorizonConfig, type HorizonStats, type OutcomeBase, type PricePoint,
} from './outcomes.ts';
export {
  DEFAULT_SUBSCRIPTIONS, SubscriptionManager, type ReadyTick, type StreamStatus, type SubscriptionConfig, type SubscriptionStatus,
} from './subscriptions.ts';
