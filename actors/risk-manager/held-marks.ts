// Marks arrive at trade rate, and DESIGN keeps the hot path off machine events. An xstate event costs the RiskManager
// ~5 µs and ~6 KB of short-lived objects here (in a momentum + CNN backtest its marks were a fifth of all the bytes
// allocated and of those surviving a scavenge); the mark's own logic ~1 µs. Most marks emit nothing and move no
// state: no exit, alert or transition. The risk child applies those with the same pure `onMark` to a shadow of the
// machine's state, and the machine receives the result as one `risk.marks` event: carrying the next event it handles
// (one machine step for both: an intent's verdict waits for one xstate event, not two), before anyone reads its state,
// and at least once a second of mark time. Each mark is applied at its own ts, in order, from the state the machine
// had, so the machine's state is the one it would reach from every mark sent alone.
import type { RiskMark } from '../../engine/messages/risk.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { onMark, type RiskState } from './logic.ts';
import type { RiskIn, RiskTransition } from './machine.ts';

/**
 * Internal machine event: the state reached from `base` (the machine's state when the first mark was held) by `count`
 * held marks, the last of them at `ts`; then, in the same machine step, the event `then` when there is one.
 */
export interface HeldMarksApplied {
  readonly type: 'risk.marks';
  readonly base: RiskState;
  readonly state: RiskState;
  readonly count: number;
  readonly ts: TsMs;
  readonly then?: Exclude<RiskIn, HeldMarksApplied | RiskTransition>;
}

/** The marks held back from the machine, applied to a shadow of its state. */
export class HeldMarks {
  private base: RiskState | undefined;
  private shadow: RiskState | undefined;
  private count = 0;
  private lastTs = 0 as TsMs;

  /**
   * Applies `m` to the shadow and returns true when it emits nothing and moves no state; otherwise returns false and
   * changes nothing (the caller drains, then sends `m` itself). `machine` is the machine's current state.
   */
  hold(machine: RiskState, m: RiskMark): boolean {
    const step = onMark(this.shadow ?? machine, m.symbol, m.price, m.ts);
    if (step.out.length > 0 || step.to !== undefined) return false;
    if (this.shadow === undefined) this.base = machine;
    this.shadow = step.state;
    this.count++;
    this.lastTs = m.ts;
    return true;
  }

  /** The machine's state after the held marks, when any are held. */
  get state(): RiskState | undefined {
    return this.shadow;
  }

  /** Number of marks held. */
  get size(): number {
    return this.count;
  }

  /**
   * Passes the held marks' result to `send` as one event, with `then` to handle after them, and forgets them; returns
   * false (and sends nothing) when none are held.
   */
  drain(send: (e: HeldMarksApplied) => void, then?: HeldMarksApplied['then']): boolean {
    if (this.shadow === undefined) return false;
    const e: HeldMarksApplied = { type: 'risk.marks', base: this.base!, state: this.shadow, count: this.count, ts: this.lastTs, ...(then ? { then } : {}) };
    this.base = undefined;
    this.shadow = undefined;
    this.count = 0;
    send(e);
    return true;
  }
}
