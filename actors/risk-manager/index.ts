export { riskManager, snapshotRiskState, restoreRiskState, type RiskIn, type RiskMachineInput, type RiskTransition } from './machine.ts';
export {
  checkIntent, createRiskState, drawdownBps, exitIntent, exitTrigger, onFill, onFills, onFlatten, onIntent, onKillSwitch, onMark,
  onOrderEnded, onResume, onSetLimits, recordSubmit, submitsInWindow,
  type RiskInput, type RiskOut, type RiskState, type Step, type Transition, type Verdict,
} from './logic.ts';
export { DEFAULT_LIMITS, operatorLimits, validateLimits, type OperatorLimits } from './limits.ts';
export {
  applyFill, averageEntry, emptyPortfolio, equity, exposure, holdingValue, lot9, sellableLots, unrealised, valueOfBase9,
  type Portfolio, type Position,
} from './positions.ts';
export { capLots, capsFor, fixedFractionLots, volatilityScaledLots, type SizingCaps } from './sizing.ts';
export { EMPTY_VAR, equityReturns, historicalVar, lossQuantile, observeEquity, quantileRank, type VarState } from './var.ts';
