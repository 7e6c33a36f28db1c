// Marks arrive at trade rate, and DESIGN keeps the hot path off machine events (an xstate event costs ~5 µs here, the
// mark's logic ~1 µs). While the portfolio holds nothing, equity is cash whatever the price, so most marks change
// only `marks[symbol]`: no exit, no drawdown move, no VaR sample. Those are held back and only the latest per symbol
// reaches the machine, before the next event it handles. The machine applies a mark at the mark's own time, so the
// state after the held marks equals the state after every mark applied one by one.
import type { RiskMark } from '../../engine/messages/risk.ts';
import { onMark, type RiskState } from './logic.ts';

/** Returns true when equity does not depend on marks: no position holds any base asset or lots. */
export function holdsNothing(s: RiskState): boolean {
  const ps = s.portfolio.positions;
  for (const sym in ps) {
    const p = ps[sym];
    if (p.lots !== 0 || p.base9 !== 0n) return false;
  }
  return true;
}

/**
 * Returns true when applying `m` to `s` would change nothing but `marks[m.symbol]`, and would keep doing so after
 * any other such mark: the portfolio holds nothing (equity is independent of every mark), and the mark fires no
 * exit, alert or state move, samples no VaR and leaves the equity peak.
 */
export function markIsQuiet(s: RiskState, m: RiskMark): boolean {
  if (!holdsNothing(s)) return false;
  const step = onMark(s, m.symbol, m.price, m.ts);
  return step.out.length === 0 && step.to === undefined && step.state.var === s.var && step.state.peakEquity === s.peakEquity;
}

/** The held-back quiet marks: the latest per symbol, in the order their symbols were first held. */
export class QuietMarks {
  private readonly held = new Map<string, RiskMark>();

  /** Holds `m` and returns true when it is quiet against `s` (the machine's state with nothing held since). */
  hold(s: RiskState, m: RiskMark): boolean {
    if (!markIsQuiet(s, m)) return false;
    this.held.set(m.symbol, m);
    return true;
  }

  /** Number of symbols with a held mark. */
  get size(): number {
    return this.held.size;
  }

  /** Passes every held mark to `send`, oldest symbol first, and forgets them. */
  drain(send: (m: RiskMark) => void): void {
    if (this.held.size === 0) return;
    const marks = [...this.held.values()];
    this.held.clear();
    for (const m of marks) send(m);
  }
}
