// Marks arrive at trade rate and intents on every decision, and DESIGN keeps the hot path off machine events. An
// xstate event costs the RiskManager ~2 µs hot and ~20 µs in a backtest's tick (cold code and caches), and ~6 KB of
// short-lived objects; the logic itself is a fraction of a µs. Neither kind ever moves the trading state (only
// drawdown, kill switch and resume do, and onIntent never transitions), and most marks emit nothing. So the risk
// child applies the same pure `onMark` / `onIntent` to a shadow of the machine's state: a mark that emits nothing and
// an intent (whose verdict the child publishes itself, as the machine would emit it) and an order's exec.orderSubmitted
// (it only marks an open order taken up) are held; a mark with an exit,
// alert or transition goes to the machine. The machine receives the held steps' result as one `risk.held` event:
// carrying the next event it handles (one machine step for both), before anyone reads its state, and at least once a
// second of mark time. Each step is applied at its own time, in order, from the state the machine had, so the
// machine's state is the one it would reach from every event sent alone. Nothing is held while a flatten stands: the
// machine then changes its state on its own timer (risk.flattenCheck: a backoff ended, an exit in flight became late),
// and held steps computed from the state before it could no longer be applied (the machine refuses them and stops).
import type { IntentProposed, RiskMark } from '../../engine/messages/risk.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { OrderSubmitted } from '../../engine/messages/orders.ts';
import { onIntent, onMark, onOrderSeen, type RiskOut, type RiskState } from './logic.ts';
import type { RiskIn, RiskTransition } from './machine.ts';

/**
 * Internal machine event: the state reached from `base` (the machine's state when the first step was held) by `count`
 * held marks and intents, the last of them at `ts`; then, in the same machine step, the event `then` when there is one.
 */
export interface HeldStepsApplied {
  readonly type: 'risk.held';
  readonly base: RiskState;
  readonly state: RiskState;
  readonly count: number;
  readonly ts: TsMs;
  readonly then?: Exclude<RiskIn, HeldStepsApplied | RiskTransition>;
}

/** The marks and intents held back from the machine, applied to a shadow of its state. */
export class HeldSteps {
  private base: RiskState | undefined;
  private shadow: RiskState | undefined;
  private count = 0;
  private lastTs = 0 as TsMs;

  /**
   * Applies `m` to the shadow and returns true when it emits nothing and moves no state; otherwise returns false and
   * changes nothing (the caller drains, then sends `m` itself). `machine` is the machine's current state.
   */
  hold(machine: RiskState, m: RiskMark): boolean {
    if (flattening(machine)) return false;
    const step = onMark(this.shadow ?? machine, m.symbol, m.price, m.ts, m);
    if (step.out.length > 0 || step.to !== undefined) return false;
    this.keep(machine, step.state, m.ts);
    return true;
  }

  /**
   * Decides `m` on the shadow at `now` (the machine's clock) and returns the verdict for the caller to publish, as
   * the machine would emit it; returns undefined and changes nothing while a flatten stands (the caller drains, then
   * sends `m` itself). `machine` is the machine's current state.
   */
  holdIntent(machine: RiskState, m: IntentProposed, now: TsMs): readonly RiskOut[] | undefined {
    if (flattening(machine)) return undefined;
    const from = this.shadow ?? machine;
    const step = onIntent(from, m.intent, now);
    // onIntent never moves the trading state; were that to change, this must not hold the intent.
    if (step.to !== undefined) throw new Error(`risk intent ${m.intent.id} moved the trading state; it cannot be held`);
    // A denial leaves the state as it was: nothing to hold.
    if (step.state !== from) this.keep(machine, step.state, now);
    return step.out;
  }

  /**
   * Marks the order of `m` taken up by the executor (exec.orderSubmitted: onOrderSeen emits nothing and moves no state) on
   * the shadow, at its time; returns false and changes nothing while a flatten stands (the caller drains, then sends it). The
   * executor publishes it while handling the approval, on the tick's path: as a machine event it cost that tick ~20 µs.
   */
  holdSeen(machine: RiskState, m: OrderSubmitted): boolean {
    if (flattening(machine)) return false;
    const from = this.shadow ?? machine;
    const next = onOrderSeen(from, m.clientOrderId, m.intentId);
    if (next !== from) this.keep(machine, next, m.ts);
    return true;
  }

  /** The machine's state after the held steps, when any are held. */
  get state(): RiskState | undefined {
    return this.shadow;
  }

  /** Number of steps held. */
  get size(): number {
    return this.count;
  }

  /**
   * Passes the held steps' result to `send` as one event, with `then` to handle after them, and forgets them; returns
   * false (and sends nothing) when none are held.
   */
  drain(send: (e: HeldStepsApplied) => void, then?: HeldStepsApplied['then']): boolean {
    if (this.shadow === undefined) return false;
    const e: HeldStepsApplied = { type: 'risk.held', base: this.base!, state: this.shadow, count: this.count, ts: this.lastTs, ...(then ? { then } : {}) };
    this.base = undefined;
    this.shadow = undefined;
    this.count = 0;
    send(e);
    return true;
  }

  private keep(machine: RiskState, state: RiskState, ts: TsMs): void {
    if (this.shadow === undefined) this.base = machine;
    this.shadow = state;
    this.count++;
    this.lastTs = ts;
  }
}

/** True while a flatten stands: the machine's flattenCheck timer may then change its state between events. */
function flattening(s: RiskState): boolean {
  for (const _ in s.flatten) return true;
  return false;
}
