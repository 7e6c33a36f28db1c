// Table and stat panels, rendered from the store (at most a few times per second).
import { amount, cls, esc, num, pct, qty, signed, time } from './format.ts';
import type { Store } from './store.ts';
import type {
  BreakerView, Ladder, ModelsPayload, ProtectiveStopOrderView, ProtectiveStopRow, ProtectiveStopsView, RiskInstrumentView, RiskLimitsView,
} from './types.ts';

const $ = (id: string): HTMLElement => document.getElementById(id)!;
const tbody = (id: string): HTMLElement => $(id).querySelector('tbody')!;
const LADDER_SIDE = 10;
const empty = (cols: number, text: string): string => `<tr><td class="empty" colspan="${cols}">${esc(text)}</td></tr>`;

export function renderHeader(store: Store, symbol: string): void {
  const book = store.books[symbol];
  const series = store.candles.get(`${symbol}|1s`) ?? store.candles.get(`${symbol}|1m`);
  const last = series?.[series.length - 1]?.[4] ?? book?.mid ?? null;
  $('kpi-last').textContent = num(last);
  // A book that is not live (stale, crossed, re-syncing, no live venue) is greyed and says so: its spread and
  // imbalance are the last ones seen, not the market's.
  const off = book !== undefined && !book.live;
  const note = off ? ` (${bookWord(book)})` : '';
  const spread = $('kpi-spread');
  spread.textContent = book ? `${num(book.spread)} · ${num(book.spreadBps, 2)}bp${note}` : '—';
  spread.className = `kpi-value${off ? ' book-off' : ''}`;
  spread.title = off ? book.status : '';
  const imb = $('kpi-imb');
  imb.textContent = book ? `${signed(book.imbalanceNear, 3)}${note}` : '—';
  imb.className = `kpi-value ${book && !off ? cls(book.imbalanceNear) : ''}${off ? ' book-off' : ''}`;
  imb.title = off ? book.status : '';
  const p = store.portfolio?.books;
  $('kpi-equity').textContent = p ? num(p.equity) : '—';
  const pnl = $('kpi-pnl');
  const total = p ? p.realized + p.unrealized - p.fees : NaN;
  pnl.textContent = p ? signed(total) : '—';
  pnl.className = `kpi-value ${cls(total)}`;
  const st = store.risk?.state ?? '—';
  const badge = $('trading-state');
  badge.textContent = store.risk?.killSwitch ? `${st} · kill switch` : st;
  badge.className = `badge ${st}`;
  if (book) $('data-time').textContent = `${time(book.ts)} UTC`;
}

// The one word the header shows for a book that is not live (the ladder shows the whole status).
function bookWord(book: Ladder): string {
  if (book.flags.crossed) return 'crossed';
  if (/resyncing|syncing/.test(book.status)) return 'resyncing';
  if (/stale|no live venue/.test(book.status)) return 'stale';
  return 'partial';
}

export function renderLadder(book: Ladder | undefined): void {
  const el = $('ladder');
  const status = $('ladder-status');
  const panel = el.closest('.ladder-panel');
  panel?.classList.toggle('book-off', book !== undefined && !book.live);
  // A live book whose window reaches past its depth snapshot: there it knows only levels diffs touched since.
  const beyond = book?.flags.beyondSnapshot;
  const partial = book?.live && beyond && beyond.bid + beyond.ask > 0
    ? `${beyond.bid} bid / ${beyond.ask} ask buckets beyond the depth snapshot: resting levels there may be missing` : '';
  status.textContent = book && !book.live ? book.status : partial;
  status.className = book && !book.live ? 'book-status' : partial ? 'muted' : '';
  if (!book) {
    el.innerHTML = '<div class="muted">waiting for cob.snapshot…</div>';
    return;
  }
  // The snapshot carries ±range buckets (41 by default); the ladder shows the ±LADDER_SIDE nearest the mid.
  const c = Math.floor(book.rows.length / 2);
  const rows = book.rows.slice(Math.max(0, c - LADDER_SIDE), c + LADDER_SIDE + 1);
  let max = 0;
  for (const r of rows) max = Math.max(max, r.bid, r.ask);
  const mid = book.mid ?? NaN;
  const html: string[] = [];
  for (const r of rows) {
    const isMid = mid >= r.price && mid < r.price + book.bucketSize;
    const bw = max > 0 ? (r.bid / max) * 100 : 0;
    const aw = max > 0 ? (r.ask / max) * 100 : 0;
    html.push(`<div class="lrow${isMid ? ' mid' : ''}"><div class="q bid"><i class="bar" style="width:${bw.toFixed(1)}%"></i><span>${r.bid > 0 ? qty(r.bid) : ''}</span></div>`
      + `<div class="px">${num(r.price, book.bucketSize < 1 ? 2 : 0)}</div>`
      + `<div class="q ask"><i class="bar" style="width:${aw.toFixed(1)}%"></i><span>${r.ask > 0 ? qty(r.ask) : ''}</span></div></div>`);
  }
  el.innerHTML = html.join('');
  $('ladder-meta').textContent = `bucket ${book.bucketSize} · mid ${num(book.mid)}`;
  $('imb-mas').innerHTML = book.imbalanceMa.map((v, i) => `<span class="${cls(v ?? 0)}">${(book.maWindowsMs[i] ?? 0) / 1000}s ${v === null ? '—' : signed(v, 2)}</span>`).join(' · ');
}

// The model's health beside its name: degraded (worse than always predicting the most frequent move), overconfident,
// or ok; the title gives the figures of the window.
function healthPill(h: NonNullable<ModelsPayload['health']>[string] | undefined): string {
  if (!h) return '';
  const title = `accuracy ${pct(h.accuracy, 1)} vs baseline ${pct(h.baseline, 1)} over ${h.judged} judged`;
  const pills = [h.state === 'degraded' ? '<span class="pill bad">degraded</span>' : '<span class="pill ok">ok</span>'];
  if (h.overconfident) pills.push('<span class="pill mid">overconfident</span>');
  return ` <span title="${esc(title)}">${pills.join(' ')}</span>`;
}

export function renderModels(store: Store, symbol: string): void {
  const m = store.models;
  const body = tbody('models-table');
  const lastDecision = [...store.decisions].reverse().find((d) => d.symbol === symbol);
  $('decision').innerHTML = lastDecision
    ? `decision <b class="${lastDecision.action === 'BUY' ? 'up' : lastDecision.action === 'SELL' ? 'down' : ''}">${lastDecision.action}</b> ${pct(lastDecision.confidence, 0)} · ${time(lastDecision.t)}`
    : 'no decision yet';
  const names = new Set([...Object.keys(m?.latest ?? {}), ...Object.keys(m?.status ?? {}), ...Object.keys(lastDecision?.weights ?? {})]);
  if (names.size === 0) {
    body.innerHTML = empty(8, 'no model output yet');
  } else {
    body.innerHTML = [...names].sort().map((name) => {
      const o = m?.latest[name];
      const s = m?.status[name];
      const w = lastDecision?.weights[name];
      const bar = o ? `<span class="pbar"><i class="b" style="width:${o.p[0] * 100}%"></i><i class="s" style="width:${o.p[1] * 100}%"></i><i class="h" style="width:${o.p[2] * 100}%"></i></span> ${o.p.map((x) => x.toFixed(2)).join('/')}` : '—';
      const state = s ? `<span class="pill ${s.state === 'active' ? 'ok' : s.state === 'failed' ? 'bad' : 'mid'}">${esc(s.state)}</span>` : '—';
      return `<tr><td>${esc(name)}${healthPill(m?.health?.[name])}</td><td>${esc(o?.version ?? s?.version ?? '—')}</td><td class="${o?.action === 'BUY' ? 'up' : o?.action === 'SELL' ? 'down' : ''}">${esc(o?.action ?? '—')}</td><td>${bar}</td><td>${o ? pct(o.confidence, 0) : '—'}</td><td>${w === undefined ? '—' : w.toFixed(2)}</td><td>${o?.accuracy === undefined ? '—' : pct(o.accuracy, 1)}</td><td>${state}</td></tr>`;
    }).join('');
  }
  const sel = $('rollback-model') as HTMLSelectElement;
  const have = new Set(Array.from(sel.options).map((o) => o.value));
  for (const n of names) if (!have.has(n)) sel.add(new Option(n, n));
  const th = m?.thresholds ?? {};
  $('th-current').textContent = `buy ${th.buy ?? '—'} · sell ${th.sell ?? '—'} · conf ${th.minConfidence ?? '—'}`;
}

// The RiskManager's own books: what it restored at start (paper) or read from the venue (live), and every fill since.
export function renderPortfolio(store: Store): void {
  const p = store.portfolio?.books;
  const body = tbody('positions-table');
  if (!p) body.innerHTML = empty(6, store.portfolio?.error ? `books unreadable: ${store.portfolio.error}` : 'no books: the risk manager is not running');
  else if (p.positions.length === 0) body.innerHTML = empty(6, 'flat: no position');
  else {
    body.innerHTML = p.positions.map((r) => `<tr><td>${esc(r.symbol)}</td><td class="${cls(r.qty)}">${qty(r.qty)}</td><td>${num(r.avgPrice)}</td><td>${num(r.mark)}</td>`
      + `<td class="${cls(r.unrealized)}">${signed(r.unrealized)}</td><td class="${cls(r.realized)}">${signed(r.realized)}</td></tr>`).join('');
  }
  const other = p ? Object.entries(p.otherFees).map(([asset, v]) => ` + ${amount(v)} ${asset}`).join('') : '';
  $('pnl-meta').textContent = p ? `equity ${num(p.equity)} · cash ${num(p.cash)} ${p.quote} · fees ${num(p.fees, 4)}${other}` : '';
}

// The market circuit breaker: each symbol's state (what denies entries now), then its settings.
function breakerStats(b: BreakerView | undefined, stat: (k: string, v: string, c?: string) => string): string {
  if (!b) return '';
  const perSymbol = Object.entries(b.symbols).map(([sym, s]) => {
    const v = s.move ? `MOVE ${s.move.moveBps} bps until ${time(s.move.until)}` : s.stale ? `STALE ${Math.round(s.stale.lastMarkAgoMs / 1000)} s`
      : s.spread ? `SPREAD ${s.spread.spreadBps} bps for ${Math.round(s.spread.wideForMs / 1000)} s` : 'ok';
    return stat(`${esc(sym)} breaker`, esc(v), s.move || s.stale || s.spread ? 'down' : '');
  }).join('');
  const move = b.maxMoveBps === undefined ? 'off' : `${b.maxMoveBps / 100}% / ${(b.moveWindowMs ?? 0) / 60_000} min, cooldown ${(b.moveCooldownMs ?? 0) / 60_000} min`;
  const stale = b.markStaleMs === undefined ? 'off' : `${b.markStaleMs / 1000} s`;
  const spread = b.maxSpreadBps === undefined ? 'off' : `${b.maxSpreadBps} bps for ${(b.spreadMs ?? 0) / 1000} s`;
  return perSymbol + stat('breaker move', move) + stat('breaker stale', stale) + stat('breaker spread', spread);
}

export function renderRisk(store: Store): void {
  const r = store.risk;
  const stat = (k: string, v: string, c = ''): string => `<div class="stat"><div class="k">${k}</div><div class="v ${c}">${v}</div></div>`;
  $('risk-stats').innerHTML = r
    ? stat('trading', esc(r.state), r.state === 'active' ? 'up' : r.state === 'halted' ? 'down' : '')
      + stat('kill switch', r.killSwitch ? 'ON' : 'off', r.killSwitch ? 'down' : '')
      + stat('exposure', num(r.exposure))
      + stat('drawdown', `${num(r.drawdownPct, 2)}%`, r.drawdownPct >= 0.005 ? 'down' : '')
      + stat('VaR 95', r.var95 === undefined ? 'n/a' : num(r.var95))
      + stat('VaR 99', r.var99 === undefined ? 'n/a' : num(r.var99))
      + (r.limits
        ? stat('max order', esc(r.limits.maxOrderNotional)) + stat('max position', esc(r.limits.maxPositionNotional))
          + stat('max exposure', esc(r.limits.maxExposure)) + stat('max drawdown', `${r.limits.maxDrawdownBps / 100}%`)
          + stat('stop loss', r.limits.stopLossBps === undefined ? 'off' : `${r.limits.stopLossBps / 100}%`)
          + stat('take profit', r.limits.takeProfitBps === undefined ? 'off' : `${r.limits.takeProfitBps / 100}%`)
          + stat('VaR 99 warn/max', `${esc(r.limits.warnVar99 ?? 'off')} / ${esc(r.limits.maxVar99 ?? 'off')}`)
          + (r.limits.warnVar95 !== undefined || r.limits.maxVar95 !== undefined
            ? stat('VaR 95 warn/max', `${esc(r.limits.warnVar95 ?? 'off')} / ${esc(r.limits.maxVar95 ?? 'off')}`) : '')
          + stat('exits', r.limits.exitOrderType === 'limit' ? `limit, ${r.limits.exitSlippageBps} bps` : 'market')
          + lotCaps(r.limits.symbols ?? {}, r.instruments ?? [])
        : '')
      + breakerStats(r.breaker, stat)
    : '';
  // The lot-cap fields count in the traded instrument's lots: say which.
  const inst = r?.instruments?.[0];
  for (const id of ['lim-order-lots', 'lim-position-lots']) {
    const input = document.getElementById(id) as HTMLInputElement | null;
    if (input && inst) input.placeholder = `lots of ${inst.lotSize} ${inst.base}`;
  }
  const halted = r?.halted ? `<li><span class="code">HALTED</span>${esc(r.halted.reason)}</li>` : '';
  $('alerts').innerHTML = halted + ([...store.alerts].reverse().slice(0, 30).map((a) => `<li><span class="code">${esc(a.code)}</span>${esc(a.message)} <span class="muted">${time(a.t)}</span></li>`).join('') || (halted ? '' : '<li class="muted">no alerts</li>'));
}

// Lot caps per symbol as quantity and lots ('0.5 ETH (5000 lots)'), or one 'off' when no symbol has one.
function lotCaps(symbols: NonNullable<RiskLimitsView['symbols']>, instruments: RiskInstrumentView[]): string {
  const stat = (k: string, v: string): string => `<div class="stat"><div class="k">${k}</div><div class="v">${v}</div></div>`;
  const cap = (base: string, lots?: number, q?: string): string =>
    lots === undefined ? 'off' : `${q === undefined ? '' : `${esc(q)} ${esc(base)} `}(${lots} lots)`;
  const rows = Object.entries(symbols);
  if (rows.length === 0) return stat('lot caps', 'off');
  return rows.map(([sym, c]) => {
    const base = instruments.find((i) => i.symbol === sym)?.base ?? '';
    return stat(`${esc(sym)} max order`, cap(base, c.maxOrderLots, c.maxOrderQty))
      + stat(`${esc(sym)} max position`, cap(base, c.maxPositionLots, c.maxPositionQty));
  }).join('');
}

// The word and colour of each stop state: green only when a stop of ours protects the position at the venue.
type StopLook = { word: string; pill: 'ok' | 'mid' | 'bad' };
const STOP_STATES: Record<ProtectiveStopRow['state'], StopLook> = {
  resting: { word: 'resting', pill: 'ok' }, pending: { word: 'sent', pill: 'mid' }, triggered: { word: 'triggered', pill: 'mid' },
  stale: { word: 'stale', pill: 'bad' }, unresolved: { word: 'unresolved', pill: 'bad' }, refused: { word: 'refused', pill: 'bad' },
  through: { word: 'through', pill: 'bad' }, missing: { word: 'none', pill: 'bad' }, unpriced: { word: 'no price', pill: 'bad' },
  dust: { word: 'dust', pill: 'mid' }, flat: { word: 'flat', pill: 'mid' }, unverified: { word: 'unverified', pill: 'mid' },
};

// A stop whose cancel failed still rests, but its fills are unread: it protects, yet the position may be smaller.
const cancelFailed = (r: ProtectiveStopRow): boolean => r.stop !== undefined && (r.unresolved?.clientOrderIds.includes(r.stop.clientOrderId) ?? false);

// How a row's state looks; a state from a newer engine shows as its name in red rather than breaking every panel.
function stopLook(r: ProtectiveStopRow): StopLook {
  const known = Object.hasOwn(STOP_STATES, r.state) ? STOP_STATES[r.state] : { word: esc(String(r.state)), pill: 'bad' as const };
  return cancelFailed(r) && known.pill === 'ok' ? { ...known, pill: 'mid' } : known;
}

// A refusal in words. With a stop shown beside it, what was refused is that stop's replacement, and the stop still
// rests. No retry time (Infinity, null once sent as JSON): refused for good (the order's shape), not sent again until
// the position or the stop-loss changes; else tried again at its time (every 5 min when the price is through it).
function refusalDetail(r: ProtectiveStopRow, f: NonNullable<ProtectiveStopRow['refusal']>): string {
  if (f.through) {
    const what = r.stop ? `the replacement of this stop (${f.code}): it still rests;` : `the stop (${f.code}):`;
    return `the price is through ${what} tried again every 5 min, next ${time(f.retryAt)}`;
  }
  const what = r.stop ? `the venue refused the replacement of this stop (${f.code}): it still rests` : `refused by the venue (${f.code})`;
  if (!Number.isFinite(f.retryAt)) return `${what}; not sent again until the position or the stop-loss changes`;
  return `${what}${r.stop ? ';' : ':'} tried again at ${time(f.retryAt)}`;
}

// What holds a stop back or what it is doing, in words (the states besides the columns).
function stopDetail(r: ProtectiveStopRow): string {
  const why: string[] = [];
  const order = (o: ProtectiveStopOrderView): string => `${o.clientOrderId} (stop ${o.stopPrice ?? '—'}, ${o.qty})`;
  if (r.state === 'pending') why.push('sent, no answer from the venue yet');
  if (r.state === 'triggered' && r.stop) why.push(`triggered: ${r.stop.filledQty} of ${r.stop.qty} sold`);
  if (r.refusal) why.push(refusalDetail(r, r.refusal));
  if (r.refusal?.message) why.push(`the venue said: ${r.refusal.message}`);
  if (r.stale) why.push(`stale: ${r.stale.map(order).join(', ')} no longer fits and could not be cancelled; tried again`);
  if (r.unresolved && cancelFailed(r)) {
    why.push(`cancel failed: the stop still rests; its fills are unread (${r.unresolved.clientOrderIds.join(', ')} may have sold up to ${r.unresolved.qty})`);
  } else if (r.unresolved) {
    why.push(`trades unread: ${r.unresolved.clientOrderIds.join(', ')} may have sold up to ${r.unresolved.qty}; no stop until they are read`);
  }
  if (r.state === 'missing') why.push('no stop at the venue: being placed or tried again');
  if (r.state === 'dust') why.push('below the venue minimum: no stop');
  if (r.state === 'unpriced') why.push('no stop price can be set for this position');
  if (r.state === 'unverified') {
    why.push(r.stop ? 'last known before reconciliation with the venue: it may have been cancelled or filled since'
      : 'none known before reconciliation with the venue: none is placed until it succeeds');
  }
  return why.join(' · ');
}

type StopFigures = NonNullable<Extract<ProtectiveStopsView, { enabled: true }>['figures']>;

// The head's count of the stops at the venue now. Before reconciliation the stored stops are only the last run's (the
// rows say unverified): the head says so rather than counting them resting.
function stopsNow(f: StopFigures): string {
  if (f.unverified !== undefined) return `unverified ${f.unverified}: not yet checked at the venue`;
  return `resting ${f.resting}${f.open ? ` · open ${f.open}` : ''}`;
}

/**
 * Returns the protective-stops panel for the risk topic's `protectiveStops`: one line when they are off or cannot be
 * read, else a row per symbol (the executor's exact decimals) and the counters for the panel head.
 */
export function protectiveStopsHtml(v: ProtectiveStopsView | undefined): { meta: string; html: string } {
  const line = (text: string): { meta: string; html: string } => ({ meta: '', html: `<div class="muted">${esc(text)}</div>` });
  if (!v) return line('no protective-stop figures from the engine yet');
  if (!v.enabled) return line('protective stops off (execution.protectiveStop.enabled is false): none rests at the venue');
  if (!v.figures) return line(v.error ? `protective stops unreadable: ${v.error}` : 'no executor running: no protective stops to show');
  const f = v.figures;
  const rows = (f.symbols ?? []).map((r) => {
    const st = stopLook(r);
    return `<tr><td>${esc(r.symbol)}</td><td>${esc(r.positionQty)}</td><td title="${esc(r.stop?.clientOrderId ?? '')}"><span class="pill ${st.pill}">${st.word}</span></td>`
      + `<td>${esc(r.stop?.stopPrice ?? '—')}</td><td>${esc(r.stop?.price ?? '—')}</td><td>${esc(r.stop?.qty ?? '—')}</td>`
      + `<td class="stop-detail" title="${esc(stopDetail(r))}">${esc(stopDetail(r))}</td></tr>`;
  }).join('');
  const head = '<tr><th>symbol</th><th>position</th><th>stop</th><th>stop price</th><th>limit</th><th>size</th><th>detail</th></tr>';
  return {
    meta: `${stopsNow(f)} · placed ${f.placed} · cancelled ${f.cancelled}${f.skippedDust > 0 ? ` · dust ${f.skippedDust}` : ''}`,
    html: `<table class="tbl" id="stops-table"><thead>${head}</thead><tbody>${rows || empty(7, 'flat: no position to protect')}</tbody></table>`,
  };
}

export function renderStops(store: Store): void {
  const { meta, html } = protectiveStopsHtml(store.risk?.protectiveStops);
  $('stops').innerHTML = html;
  $('stops-meta').textContent = meta;
}

export function renderOrders(store: Store): void {
  const fills = [...store.fills].reverse().slice(0, 50);
  tbody('fills-table').innerHTML = fills.length === 0 ? empty(8, 'no fills yet') : fills.map((f) =>
    `<tr><td>${time(f.t)}</td><td>${esc(f.symbol)}</td><td class="${f.side === 'buy' ? 'up' : 'down'}">${f.side}</td><td>${num(f.price)}</td><td>${qty(f.qty)}</td><td>${amount(f.fee)} ${esc(f.feeAsset)}</td><td>${esc(f.liquidity)}</td><td>${esc(f.orderId)}</td></tr>`).join('');
  const orders = store.orders.slice(0, 50);
  tbody('orders-table').innerHTML = orders.length === 0 ? empty(6, 'no orders yet') : orders.map((o) =>
    `<tr><td>${esc(o.id)}</td><td>${esc(o.symbol ?? '')}</td><td class="${o.side === 'buy' ? 'up' : o.side === 'sell' ? 'down' : ''}">${esc(o.side ?? '')}</td><td>${esc(o.status)}</td><td>${qty(o.filledQty)}</td><td>${esc(o.detail ?? '')}</td></tr>`).join('');
}

export function renderSystem(store: Store): void {
  const s = store.system;
  const body = tbody('system-table');
  if (!s) return;
  const pill = (st: string): string => {
    const good = ['running', 'live', 'up', 'active'].includes(st);
    const bad = ['failed', 'stopped', 'stale', 'banned', 'circuitOpen', 'ended'].includes(st);
    return `<span class="pill ${good ? 'ok' : bad ? 'bad' : 'mid'}">${esc(st)}</span>`;
  };
  const rows: string[] = [];
  for (const [id, a] of Object.entries(s.actors)) rows.push(`<tr><td>actor ${esc(id)}</td><td>${pill(a.status)}</td><td>${a.restarts} restarts${a.lastError ? ` · ${esc(a.lastError)}` : ''}</td></tr>`);
  for (const [id, f] of Object.entries(s.feeds)) rows.push(`<tr><td>feed ${esc(id)}</td><td>${pill(f.status)}</td><td>${esc(f.source)}${f.detail ? ` · ${esc(f.detail)}` : ''}</td></tr>`);
  for (const [id, b] of Object.entries(s.books)) rows.push(`<tr><td>book ${esc(id)}</td><td>${pill(b.status)}</td><td>${esc(b.reason ?? '')}</td></tr>`);
  for (const [id, v] of Object.entries(s.venues)) rows.push(`<tr><td>venue ${esc(id)}</td><td>${pill(v.status)}</td><td>${esc(v.reason)}</td></tr>`);
  for (const [k, v] of Object.entries(s.status)) rows.push(`<tr><td>${esc(k)}</td><td></td><td title="${esc(JSON.stringify(v))}">${esc(summary(v))}</td></tr>`);
  body.innerHTML = rows.join('') || empty(3, 'no status yet');
  const total = Object.values(s.messages).reduce((a, b) => a + b, 0);
  $('sys-meta').textContent = `${total.toLocaleString('en-US')} msgs seen`;
}

export function renderTraining(store: Store): void {
  const t = store.training;
  const el = $('training');
  if (!t) {
    el.innerHTML = '<div class="muted">no training pipeline attached</div>';
    return;
  }
  const jobs = t.jobs.map((j) => `<tr><td>${esc(j.model)}</td><td>${esc(j.status)}</td><td>${j.epoch ?? '—'}/${j.epochs ?? '—'}</td><td>${num(j.loss, 4)}</td><td>${num(j.valMetric, 4)}</td></tr>`).join('');
  const cps = t.checkpoints.map((c) => `<tr><td>${esc(c.model)}</td><td>${esc(c.version)}${c.active ? ' <span class="pill ok">active</span>' : ''}</td><td>${esc(c.metricName)}</td><td>${num(c.metric, 4)}</td></tr>`).join('');
  el.innerHTML = `<table class="tbl"><thead><tr><th>job</th><th>status</th><th>epoch</th><th>loss</th><th>val</th></tr></thead><tbody>${jobs || empty(5, 'no jobs')}</tbody></table>`
    + `<table class="tbl"><thead><tr><th>checkpoint</th><th>version</th><th>metric</th><th>value</th></tr></thead><tbody>${cps || empty(4, 'no checkpoints')}</tbody></table>`;
}

function summary(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x)}`).join(' · ');
}
