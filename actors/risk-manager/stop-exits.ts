// Stop-loss / take-profit exits, one episode per symbol (`stopRetry`): from its first exit until a fill of the symbol,
// or a mark that no longer calls for the exit. STOP_LOSS / TAKE_PROFIT is raised once per episode (again when more
// cancels of held sells are asked, and at most once a minute while they go unanswered), and an exit rejected with lots
// still held is sent again after a backoff (1 s doubling to 60 s, as a flatten's) rather than at every mark.
import type { TsMs } from '../../engine/types/time.ts';
import {
  dustText, exitLots, exitTrigger, FLATTEN_ALERT_EVERY_MS, flattenBackoffMs, isDust, sendExit, submitsInWindow, withExitFired,
} from './exits.ts';
import { freeHeldLots, heldText } from './held-sells.ts';
import type { RiskOut, RiskState } from './state.ts';

/**
 * Builds the stop's exit of one position: a stop-loss frees the lots of open strategy sells (freeHeldLots), and either
 * sells what is free now, or alerts when nothing can ever be sold (dust below min notional). A take-profit cancels no
 * strategy sell: each already sells its lots at its own price, and cancelling one would sell them at about the mark.
 */
function closePosition(s0: RiskState, symbol: string, why: 'stop-loss' | 'take-profit', nowMs: TsMs, out: RiskOut[]): RiskState {
  const inst = s0.instruments[symbol];
  const p = s0.portfolio.positions[symbol];
  if (!inst || !p) return s0;
  const { state: s, asked, pending, stuck } = why === 'stop-loss' ? freeHeldLots(s0, symbol, why, nowMs, out) : { state: s0, asked: [], pending: undefined, stuck: [] };
  const { lots, openSells } = exitLots(s, inst, symbol, p, nowMs);
  const mark = s.marks[symbol];
  const code = why === 'take-profit' ? 'TAKE_PROFIT' : 'STOP_LOSS';
  const dust = isDust(inst, lots, mark);
  if (dust && openSells === 0) {
    // Once per position (its exits stay fired): a venue refuses such an order, so sending it again would only loop.
    out.push({ type: 'risk.alert', code, message: `${why} on ${symbol} stops at dust: ${dustText(inst, p, lots, mark)}`, ts: nowMs });
    return withExitFired(s, symbol, p);
  }
  const episode = s.stopRetry[symbol];
  // Cancels that stay unanswered are said again at most once a minute: the exit still waits on their lots.
  const late = pending !== undefined && episode !== undefined && nowMs - (episode.heldAlertedAt ?? -Infinity) >= FLATTEN_ALERT_EVERY_MS;
  let retry = episode ?? { refusals: 0, retryAt: 0 as TsMs };
  if (episode === undefined || asked.length > 0 || late) {
    const besides = openSells === 0 ? ''
      : why === 'take-profit' ? `; ${openSells} lots held by open strategy sells are left resting (a take-profit cancels none: each sells at its own price)`
      : heldText(openSells, asked, late ? pending : undefined, nowMs, pending, stuck);
    out.push({ type: 'risk.alert', code, message: `${why} on ${symbol} at mark ${mark}: selling ${dust ? 0 : lots} lots${besides}`, ts: nowMs });
    if (pending !== undefined) retry = { ...retry, heldAlertedAt: nowMs };
  }
  const started = retry === episode ? s : { ...s, stopRetry: { ...s.stopRetry, [symbol]: retry } };
  // Everything free is held: the exits stay armed, and the sells' ends (onOrderEnd) or the next mark send the exit.
  return dust ? started : sendExit(started, symbol, p, lots, mark, why, nowMs, out);
}

export const withoutStopRetry = (s: RiskState, symbol: string): RiskState => {
  if (s.stopRetry[symbol] === undefined) return s;
  const { [symbol]: _ended, ...stopRetry } = s.stopRetry;
  return { ...s, stopRetry };
};

// Fires the stop-loss / take-profit exit of `symbol` its last mark calls for (onMark), or ends the stop's episode.
export function driveStop(s: RiskState, symbol: string, nowMs: TsMs, out: RiskOut[]): RiskState {
  const p = s.portfolio.positions[symbol];
  const mark = s.marks[symbol];
  if (!p || mark === undefined || s.flatten[symbol] !== undefined || s.exitOrders[symbol] !== undefined) return s;
  const why = exitTrigger(s.instruments[symbol], p, mark, s.limits);
  const retry = s.stopRetry[symbol];
  // A mark that no longer calls for an exit ends the episode: the next one is alerted and sent at once.
  if (why === undefined && retry !== undefined && !p.exitFired) return withoutStopRetry(s, symbol);
  // A full submit window defers the exit to a later mark (it stays armed): an exit armed again after a rejection
  // cannot then go out faster than any other order. After a refusal it waits its backoff too.
  if (why && submitsInWindow(s.submits, nowMs) < s.limits.maxSubmitsPerSecond && nowMs >= (retry?.retryAt ?? 0)) {
    return closePosition(s, symbol, why, nowMs, out);
  }
  return s;
}

// A stop's exit was rejected (by the executor or the venue) with lots still held: its next exit waits 1 s, doubling to
// 60 s (flattenBackoffMs). An IOC exit that expired or was cancelled unfilled found no liquidity at its price: the next
// mark sends another at the new price, as fast as the submit window lets it (sending it later would only sell lower).
export function stopRefused(s: RiskState, symbol: string, held: number, nowMs: TsMs): RiskState {
  const episode = s.stopRetry[symbol];
  if (episode === undefined || held <= 0) return withoutStopRetry(s, symbol);
  const refusals = episode.refusals + 1;
  return { ...s, stopRetry: { ...s.stopRetry, [symbol]: { refusals, retryAt: (nowMs + flattenBackoffMs(refusals)) as TsMs } } };
}
