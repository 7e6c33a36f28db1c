// RiskManager actor (xstate v5). Decisions live in ./logic.ts; this file routes events and holds the state.
//
// States (Nautilus TradingState):
//   init     -(always)-> active | reducing | halted     as the (possibly restored) context says
//   active   -(risk.transition to reducing)-> reducing  drawdown reached reduceAtDrawdownBps
//   active   -(risk.transition to halted)->   halted    drawdown reached maxDrawdownBps, or kill switch on
//   reducing -(risk.transition to halted)->   halted
//   reducing -(risk.transition to active)->   active    risk.resume (refused with an alert while the kill switch is on,
//                                                       after an engine failure, or while drawdown is at or above the
//                                                       maximum or the reducing level without resetPeak:
//                                                       logic.ts resumeRefusal)
//   halted   -(risk.transition to active)->   active    risk.resume (same)
// `risk.transition` is raised internally by the handlers below; every move emits `risk.stateChanged`.
// Handled in every state: risk.intent (→ risk.orderApproved | risk.orderDenied; checkIntent sees the trading state),
// exec.orderFilled / exec.orderPartiallyFilled, exec.orderRejected / orderCancelled / orderExpired (an approved order
// stops counting as open; an exit that ended without closing its position arms the exits again), exec.orderSubmitted
// (the executor took an approved order up: it counts as open until it ends), risk.mark (stops, drawdown, VaR), risk.killSwitch, risk.resume,
// risk.setLimits, risk.flatten, risk.flattenCheck.
// Exits (stop-loss, take-profit, flatten) are emitted directly as `risk.orderApproved` with reduceOnly intents:
// the executor has one path for orders, and risk built them from its own position so they need no second check.
// At most one exit per symbol is in flight. A stop-loss or flatten whose lots open strategy sells hold emits
// `exec.cancelOrder` for those sells (again after a backoff while they stay open; logic.ts freeHeldLots) and sells what
// their ends free; a take-profit cancels none. `exec.cancelRejected` (a cancel it asked did not happen) brings the next
// ask sooner, or stops asking for a sell the engine can never cancel (logic.ts onCancelRejected).
// While halted stop-loss/take-profit stay armed (strategy intents are denied); `risk.flatten` is the explicit way to
// close positions in any state: a standing request
// per symbol driven by fills, exit ends, marks and `risk.flattenCheck` until flat (logic.ts driveFlatten). A refused
// exit waits a backoff; the machine raises `risk.flattenCheck` (a delayed event on its clock) when it ends, so the
// retry does not wait for a mark, and when an exit in flight becomes late (FLATTEN_INCOMPLETE, no second exit).
// Time: `now()` of the clock given to createActor when it has one (engine Clock, SimulatedClock), else the event's ts.
// A mark is applied at its own ts: the price was seen at the mark's time, not at the time the machine got it. The risk
// child applies most marks and every intent to a shadow of this state (publishing the intents' verdicts itself) and
// sends the result as one `risk.held` (held-steps.ts), which may carry the next event to handle in the same step; the
// machine takes it only on top of the state it was computed from, and otherwise fails loudly (the supervisor restarts
// the risk child from the stored fills) rather than drop or reorder steps.
import { enqueueActions, setup, type ActorSystem } from 'xstate';
import type {
  CancelRejected, OrderCancelled, OrderExpired, OrderFilled, OrderPartiallyFilled, OrderRejected, OrderSubmitted,
} from '../../engine/messages/orders.ts';
import type {
  FlattenPositions, IntentProposed, KillSwitch, ResumeTrading, RiskMark, SetLimits, TradingState,
} from '../../engine/messages/risk.ts';
import { assertNever } from '../../engine/types/errors.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { HeldStepsApplied } from './held-steps.ts';
import {
  createRiskState, nextFlattenCheck, onCancelRejected, onExecFill, onFlatten, onFlattenCheck, onIntent, onKillSwitch, onMark, onOrderEnd, onOrderSeen, onResume, onSetLimits,
  type RiskInput, type RiskOut, type RiskState, type Step,
} from './logic.ts';

/** Internal: a trading-state move decided by logic. */
export interface RiskTransition { readonly type: 'risk.transition'; readonly to: TradingState; readonly reason: string; readonly ts: TsMs }

/**
 * Drives the standing flattens: raised by the machine when a flatten's backoff ends, and sent by the risk child when
 * the executor reports its venue up (`venueUp`: after the start-up reconciliation, or the venue answering again; it
 * cuts the backoffs short).
 */
export interface FlattenCheck { readonly type: 'risk.flattenCheck'; readonly venueUp?: boolean; readonly ts: TsMs }

/** Events the RiskManager takes. */
export type RiskIn =
  | IntentProposed | OrderSubmitted | OrderFilled | OrderPartiallyFilled | OrderRejected | OrderCancelled | OrderExpired | CancelRejected | RiskMark
  | HeldStepsApplied
  | KillSwitch | ResumeTrading | SetLimits | FlattenPositions | FlattenCheck | RiskTransition;

/** Input: a fresh start, or a state saved with `snapshotRiskState`. */
export type RiskMachineInput = RiskInput | { readonly restore: RiskState };

const nowOf = (system: ActorSystem<any>, fallback: TsMs): TsMs => {
  const clock = system._clock as { now?: () => TsMs };
  return typeof clock.now === 'function' ? clock.now() : fallback;
};

const tsOf = (e: RiskIn): TsMs => (e.type === 'risk.intent' ? e.intent.ts : e.ts);

const handle = (ctx: RiskState, e: RiskIn, now: TsMs): Step | undefined => {
  switch (e.type) {
    case 'risk.intent': return onIntent(ctx, e.intent, now);
    case 'risk.mark': return onMark(ctx, e.symbol, e.price, now, e);
    case 'risk.held': return undefined; // unwrapped by the route action
    case 'risk.killSwitch': return onKillSwitch(ctx, e.on, e.reason, now, e.source);
    case 'risk.resume': return onResume(ctx, e.resetPeak === true, now);
    case 'risk.setLimits': return onSetLimits(ctx, e.limits, now);
    case 'risk.flatten': return onFlatten(ctx, e.symbol, now, e.reason);
    case 'risk.flattenCheck': return onFlattenCheck(ctx, now, e.venueUp === true);
    // The fill that completes an order ends it; a partial fill does not (the rest may still fill, or expire).
    case 'exec.orderFilled': return onExecFill(ctx, e.fill, true, now);
    case 'exec.orderPartiallyFilled': return onExecFill(ctx, e.fill, false, now);
    case 'exec.orderRejected': return onOrderEnd(ctx, e.clientOrderId, `rejected ${e.code}: ${e.message}`, now);
    case 'exec.orderCancelled': return onOrderEnd(ctx, e.clientOrderId, `cancelled (${e.reason})`, now);
    case 'exec.orderExpired': return onOrderEnd(ctx, e.clientOrderId, 'expired', now);
    case 'exec.cancelRejected': return onCancelRejected(ctx, e.clientOrderId, e.reason, now);
    case 'exec.orderSubmitted': return { state: onOrderSeen(ctx, e.clientOrderId, e.intentId), out: [] };
    case 'risk.transition': return undefined;
    default: return assertNever(e, 'risk manager event');
  }
};

const FLATTEN_CHECK_ID = 'risk.flattenCheck';

/** The RiskManager machine; see the header comment for states and transitions. */
export const riskManager = setup({
  types: {
    input: {} as RiskMachineInput,
    context: {} as RiskState,
    events: {} as RiskIn,
    emitted: {} as RiskOut,
  },
  actions: {
    route: enqueueActions(({ context, event, enqueue, system }) => {
      // Held steps first (their state, computed from this one by the risk child), then the event they carry.
      let ctx = context;
      let e: RiskIn = event;
      // A flatten waiting for a backoff (or the submit window) is checked again when it ends, and one with an exit in
      // flight when that exit becomes late: one timer, re-armed whenever the flattens or the exits in flight changed.
      const armFlattenCheck = (next: RiskState): void => {
        if (next.flatten === context.flatten && next.exitOrders === context.exitOrders) return;
        const now = nowOf(system, tsOf(e));
        enqueue.cancel(FLATTEN_CHECK_ID);
        const at = nextFlattenCheck(next, now);
        if (at !== undefined) enqueue.raise({ type: 'risk.flattenCheck', ts: at }, { delay: at - now, id: FLATTEN_CHECK_ID });
      };
      if (e.type === 'risk.held') {
        if (e.base !== ctx) throw new Error(`risk.held: ${e.count} held steps were applied to another state than the machine's; refusing them`);
        ctx = e.state;
        if (e.then === undefined) {
          enqueue.assign(ctx);
          armFlattenCheck(ctx);
          return;
        }
        e = e.then;
      }
      const now = e.type === 'risk.mark' ? e.ts : nowOf(system, tsOf(e));
      const step = handle(ctx, e, now);
      if (!step) {
        if (ctx !== context) enqueue.assign(ctx);
        armFlattenCheck(ctx);
        return;
      }
      if (step.state !== context) enqueue.assign(step.state);
      armFlattenCheck(step.state);
      for (const o of step.out) enqueue.emit(o);
      if (step.to) enqueue.raise({ type: 'risk.transition', to: step.to.to, reason: step.to.reason, ts: now });
    }),
    enterState: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'risk.transition') return;
      enqueue.assign({ tradingState: event.to, stateReason: event.reason });
      enqueue.emit({ type: 'risk.stateChanged', state: event.to, reason: event.reason, ts: event.ts });
    }),
  },
  guards: {
    restoredHalted: ({ context }) => context.tradingState === 'halted',
    restoredReducing: ({ context }) => context.tradingState === 'reducing',
    toActive: ({ event }) => event.type === 'risk.transition' && event.to === 'active',
    toReducing: ({ event }) => event.type === 'risk.transition' && event.to === 'reducing',
    toHalted: ({ event }) => event.type === 'risk.transition' && event.to === 'halted',
  },
}).createMachine({
  id: 'riskManager',
  context: ({ input }) => ('restore' in input ? input.restore : createRiskState(input)),
  initial: 'init',
  on: {
    'risk.intent': { actions: 'route' },
    'risk.mark': { actions: 'route' },
    'risk.held': { actions: 'route' },
    'exec.orderFilled': { actions: 'route' },
    'exec.orderPartiallyFilled': { actions: 'route' },
    'exec.orderRejected': { actions: 'route' },
    'exec.orderCancelled': { actions: 'route' },
    'exec.orderExpired': { actions: 'route' },
    'exec.cancelRejected': { actions: 'route' },
    'exec.orderSubmitted': { actions: 'route' },
    'risk.killSwitch': { actions: 'route' },
    'risk.resume': { actions: 'route' },
    'risk.setLimits': { actions: 'route' },
    'risk.flatten': { actions: 'route' },
    'risk.flattenCheck': { actions: 'route' },
  },
  states: {
    init: {
      always: [
        { guard: 'restoredHalted', target: 'halted' },
        { guard: 'restoredReducing', target: 'reducing' },
        { target: 'active' },
      ],
    },
    active: {
      on: {
        'risk.transition': [
          { guard: 'toHalted', target: 'halted', actions: 'enterState' },
          { guard: 'toReducing', target: 'reducing', actions: 'enterState' },
        ],
      },
    },
    reducing: {
      on: {
        'risk.transition': [
          { guard: 'toHalted', target: 'halted', actions: 'enterState' },
          { guard: 'toActive', target: 'active', actions: 'enterState' },
        ],
      },
    },
    halted: {
      on: {
        'risk.transition': [{ guard: 'toActive', target: 'active', actions: 'enterState' }],
      },
    },
  },
});

/** Returns the RiskManager's state as plain data (bigint included) for persisting; restore with `{ restore: state }`. */
export function snapshotRiskState(actor: { getSnapshot(): { context: RiskState } }): RiskState {
  return actor.getSnapshot().context;
}

/** Returns machine input that restarts the RiskManager from a saved state. */
export function restoreRiskState(state: RiskState): RiskMachineInput {
  return { restore: state };
}
