export { riskManager, snapshotRiskState, restoreRiskState, type FlattenCheck, type RiskIn, type RiskMachineInput, type RiskTransition } from './machine.ts';
export {
  checkIntent, createRiskState, drawdownBps, exitIntent, exitTrigger, flattenBackoffMs, nextFlattenCheck, onExecFill, onFill, onFills,
  onFlatten, onFlattenCheck, onIntent, onKillSwitch, onMark, onOrderEnd, onOrderEnded, onResume, onSetLimits, recordSubmit, resumeRefusal,
  submitsInWindow,
  type FlattenRequest, type RiskInput, type RiskOut, type StartPosition, type RiskState, type Step, type Transition, type Verdict,
} from './logic.ts';
export { DEFAULT_LIMITS, operatorLimits, validateLimits, type OperatorLimits } from './limits.ts';
export {
  applyFill, averageEntry, emptyPortfolio, equity, exposure, holdingValue, lot9, sellableLots, unrealised, valueOfBase9,
  type Portfolio, type Position,
} from './positions.ts';
export { capLots, capsFor, fixedFractionLots, volatilityScaledLots, type SizingCaps } from './sizing.ts';
export { EMPTY_VAR, historicalVar, holdingsReturns, lossQuantile, observeMark, quantileRank, type VarSample, type VarState } from './var.ts';
