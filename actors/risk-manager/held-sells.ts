// Open strategy sells holding the lots a stop-loss or flatten must sell: a resting GTC sell far above the market would
// keep the exit from them while the price falls. Risk asks the executor to cancel them (exec.cancelOrder; risk's own
// exits never, a take-profit none), asks again after a backoff while they stay open, handles the executor's refusals
// (exec.cancelRejected), gives up on the ones the engine can never cancel (a hand at the venue must), and words the
// alerts that name the held lots. Their ends free the lots for the next exit (logic.ts onOrderEnd).
import type { ClientOrderId } from '../../engine/types/ids.ts';
import type { Lots } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { openOrderCid, openOrderIndex, withOrderAt, type CancelAsk, type OpenOrder } from './open-orders.ts';
import { exitTrigger, flattenBackoffMs } from './exits.ts';
import { NO_OUT, withFlatten, type RiskOut, type RiskState, type Step } from './state.ts';

/** Open strategy sells of one symbol whose cancels risk asked and that have not ended yet. */
export interface PendingCancels {
  readonly lots: Lots;
  readonly cids: readonly string[];
  /** When the oldest of them was first asked. */
  readonly since: TsMs;
  /** When the next of them is asked again. */
  readonly retryAt: TsMs;
  /** The latest exec.cancelRejected among them. */
  readonly refused?: { readonly cid: string; readonly reason: string; readonly at: TsMs };
}

/**
 * Asks the executor to cancel the open strategy sells of `symbol` it took up (exec.cancelOrder into `out`): an exit
 * must not wait on them. Risk's own exits are never cancelled. One not yet taken up is asked about at a later call: a
 * cancel that reaches the executor before the order is dropped. A cancel asked before is asked again once its backoff
 * is over (1 s doubling to 60 s, flattenBackoffMs): the venue may refuse it, or keep the order open after answering,
 * and the exit would otherwise wait on those lots for ever. `asked`: the sells asked for the first time;
 * `pending`: every sell whose cancel is asked and that has not ended; `stuck`: the sells the engine can never cancel
 * (onCancelRejected gave up), asked no more: their lots wait for a cancel at the venue by hand.
 */
export function freeHeldLots(
  s: RiskState, symbol: string, why: string, nowMs: TsMs, out: RiskOut[],
): { state: RiskState; asked: readonly string[]; pending: PendingCancels | undefined; stuck: readonly string[] } {
  const exits = Object.values(s.exitOrders);
  let orders: OpenOrder[] | undefined;
  const asked: string[] = [];
  const stuck: string[] = [];
  let pending: PendingCancels | undefined;
  for (let i = 0; i < s.openOrders.length; i++) {
    const o = s.openOrders[i];
    if (o.symbol !== symbol || o.side !== 'sell' || o.exit || !o.seen) continue;
    const cid = openOrderCid(o);
    if (exits.includes(cid)) continue;
    let ask = o.cancelAsked;
    if (ask?.gaveUp !== undefined) {
      stuck.push(cid);
      continue;
    }
    if (ask === undefined || nowMs >= ask.retryAt) {
      const asks = (ask?.asks ?? 0) + 1;
      const again = ask === undefined ? '' : ` (asked again: ${asks} asks in ${nowMs - ask.since} ms)`;
      out.push({ type: 'exec.cancelOrder', clientOrderId: cid, reason: `${why} on ${symbol}: freeing lots for the exit${again}`, ts: nowMs });
      if (ask === undefined) asked.push(cid);
      // What the executor answered before (onCancelRejected) stays: the next alert names it, a second not-open gives up.
      ask = { ...ask, since: ask?.since ?? nowMs, asks, retryAt: (nowMs + flattenBackoffMs(asks)) as TsMs, by: ask?.by ?? why };
      orders ??= s.openOrders.slice();
      orders[i] = { ...o, cancelAsked: ask };
    }
    pending = withPending(pending, cid, o.lots, ask);
  }
  return { state: orders === undefined ? s : { ...s, openOrders: orders }, asked, pending, stuck };
}

function withPending(p: PendingCancels | undefined, cid: string, lots: Lots, ask: CancelAsk): PendingCancels {
  const mine = ask.refused === undefined ? undefined : { cid, ...ask.refused };
  if (p === undefined) return { lots, cids: [cid], since: ask.since, retryAt: ask.retryAt, ...(mine === undefined ? {} : { refused: mine }) };
  const refused = mine === undefined || (p.refused !== undefined && p.refused.at > mine.at) ? p.refused : mine;
  return {
    lots: (p.lots + lots) as Lots, cids: [...p.cids, cid],
    since: Math.min(p.since, ask.since) as TsMs, retryAt: Math.min(p.retryAt, ask.retryAt) as TsMs,
    ...(refused === undefined ? {} : { refused }),
  };
}

// Names the lots open sells hold for an alert, and the cancels asked for them; `late`: cancels asked long unanswered.
// The executor's last refusal of one of them says why they hold; sells the engine gave up on need a hand at the venue.
export function heldText(
  openSells: Lots, asked: readonly string[], late: PendingCancels | undefined, nowMs: TsMs, pending?: PendingCancels, stuck: readonly string[] = [],
): string {
  const cancels = late !== undefined
    ? `cancels asked for ${nowMs - late.since} ms without an end: ${late.cids.join(', ')}; asked again`
    : asked.length > 0 ? `cancels asked: ${asked.join(', ')}` : 'their cancels were asked before';
  const refused = pending?.refused === undefined ? '' : `; last refused: ${pending.refused.cid} ${pending.refused.reason}`;
  const byHand = stuck.length === 0 ? '' : `; the engine cannot cancel ${stuck.join(', ')}: cancel them at the venue by hand`;
  return `; ${openSells} lots held by open strategy sells (${cancels}${refused}${byHand}); the lots they free are sold when they end`;
}

// A sell whose cancel risk asked (`by` a stop-loss, or a flatten since ended) ended, and the mark no longer calls for an
// exit: its lots are neither sold nor offered any more. Said once, at its end: nothing else would say it, the stop
// staying armed for them. Not when an exit was sent now, nor when the mark still calls for one (the exit in flight's
// end arms the next).
export function freedUnprotected(s: RiskState, symbol: string, cid: ClientOrderId, lots: Lots, by: string, nowMs: TsMs, out: RiskOut[]): void {
  const p = s.portfolio.positions[symbol];
  const inst = s.instruments[symbol];
  const mark = s.marks[symbol];
  if (!p || !inst || mark === undefined || p.lots <= 0 || out.some((o) => o.type === 'risk.orderApproved')) return;
  if (exitTrigger(inst, { ...p, exitFired: false }, mark, s.limits) !== undefined) return;
  const message = `${by} on ${symbol} no longer called for at mark ${mark}: the ${lots} lots freed by cancelling ${cid} are held unprotected `
    + `by any resting sell (${p.lots} lots held)`;
  out.push({ type: 'risk.alert', code: by === 'flatten' ? 'FLATTEN_INCOMPLETE' : 'STOP_LOSS', message, ts: nowMs });
}

/**
 * Handles `exec.cancelRejected`: a cancel risk asked (freeHeldLots) did not happen; the sell stays open and keeps its
 * lots. Orders whose cancel risk did not ask (a halt round's, a protective stop's) are not its business. CANCEL_FAILED
 * (every attempt failed; a timeout may still have cancelled): the next ask comes one backoff step after the failure
 * (flattenBackoffMs of the failures so far), sooner than the asks' own backoff when that grew while the executor was
 * still trying (it joins asks to a cancel it is running); no alert of its own, the held-lots alert (at most once a
 * minute) names it. UNTRADED_SYMBOL, or CANCEL_NOT_OPEN_BUT_OPEN a second time: the engine can never cancel it, so it is
 * asked no more (freeHeldLots skips it), said once, and the exits sell only the free lots. Kept on the open order
 * (OpenOrder.cancelAsked), never stored: a start asks afresh.
 */
export function onCancelRejected(s: RiskState, cid: ClientOrderId, reason: string, nowMs: TsMs): Step {
  const i = openOrderIndex(s.openOrders, cid);
  const o = i < 0 ? undefined : s.openOrders[i];
  const ask = o?.cancelAsked;
  if (o === undefined || ask === undefined || ask.gaveUp !== undefined) return { state: s, out: NO_OUT };
  const code = reason.split(':', 1)[0];
  const notOpen = (ask.notOpen ?? 0) + (code === 'CANCEL_NOT_OPEN_BUT_OPEN' ? 1 : 0);
  const refused = { reason, at: nowMs };
  if (code === 'UNTRADED_SYMBOL' || notOpen >= 2) {
    const next = { ...s, openOrders: withOrderAt(s.openOrders, i, { ...o, cancelAsked: { ...ask, refused, notOpen, gaveUp: reason } }) };
    const flattening = s.flatten[o.symbol] !== undefined;
    const what = flattening ? `flatten of ${o.symbol} incomplete` : `${ask.by} on ${o.symbol}`;
    const message = `${what}: the ${o.lots} lots held by ${cid} cannot be freed by the engine (${reason}); cancel it at the venue by hand; `
      + 'the exits sell only the free lots';
    return { state: next, out: [{ type: 'risk.alert', code: flattening ? 'FLATTEN_INCOMPLETE' : 'STOP_LOSS', message, ts: nowMs }] };
  }
  const failures = (ask.failures ?? 0) + (code === 'CANCEL_FAILED' ? 1 : 0);
  const retryAt = code === 'CANCEL_FAILED' ? Math.min(ask.retryAt, nowMs + flattenBackoffMs(failures)) as TsMs : ask.retryAt;
  let next: RiskState = { ...s, openOrders: withOrderAt(s.openOrders, i, { ...o, cancelAsked: { ...ask, refused, notOpen, failures, retryAt } }) };
  // A standing flatten asks again only when nextFlattenCheck wakes it: its wake-up moves with the earlier ask.
  const req = next.flatten[o.symbol];
  if (req?.held?.cancelAt !== undefined && retryAt < req.held.cancelAt) next = withFlatten(next, o.symbol, { ...req, held: { ...req.held, cancelAt: retryAt } });
  return { state: next, out: NO_OUT };
}
