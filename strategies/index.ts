export {
  blend, closableLots, decisionOf, DEFAULT_POLICY, intentFor, marketableLimit, mergeThresholds, riskPrice,
  type Blend, type IgnoredReason, type MoeThresholds, type PolicyConfig, type PolicyResult, type PolicyState, type PositionMode,
} from './moe.ts';
