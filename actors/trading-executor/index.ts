// TradingExecutor as a supervised child: a `fromCallback` actor around the TradingExecutor class. A restart makes
// a fresh executor that reloads its orders from the exec store and reconciles with the venue before trading.
import { fromCallback, type EventObject } from 'xstate';
import { TradingExecutor, type TradingExecutorOptions } from './executor.ts';

export { TradingExecutor, type ExecRetry, type ExecutorState, type ExecutorStore, type RiskStateView, type TradingExecutorOptions } from './executor.ts';
export { reconcile, type PositionMismatch, type ReconcileHost, type ReconcileOptions, type ReconcileReport } from './reconcile.ts';
export {
  clientOrderIdFor, emptyPosition, isRiskExit, isTerminal, isValidClientOrderId, newOrder, positionAfterFill, transition,
  type OrderEvent, type OrderRecord, type PositionRecord, type TransitionResult,
} from './logic.ts';

/** Returns the supervisor child logic: starts an executor with `input` (the options) and stops it on cleanup. */
export function tradingExecutorActor(onStarted?: (ex: TradingExecutor) => void) {
  return fromCallback<EventObject, TradingExecutorOptions>(({ input }) => {
    const ex = new TradingExecutor(input);
    onStarted?.(ex);
    // start() retries reconciliation by itself and only rejects once stopped, so nothing escapes here.
    void ex.start().catch(() => undefined);
    return () => ex.stop();
  });
}
