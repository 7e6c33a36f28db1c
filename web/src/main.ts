// The dashboard page: one read-only WebSocket (/ws) feeding the store; panels redrawn at most once per frame;
// operator controls go through POST /api/control/<action> with the token kept in sessionStorage.
import { EquityChart, ModelChart, PriceChart } from './charts.ts';
import { Heatmap } from './heatmap.ts';
import {
  renderHeader, renderLadder, renderModels, renderOrders, renderPortfolio, renderRisk, renderStops, renderSystem, renderTraining,
} from './panels.ts';
import { Store, type Change } from './store.ts';
import type { Topic, WsFrame } from './types.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const TOKEN_KEY = 'cobalt.dashboardToken';

// The daemon prints the dashboard link as http://host:port/#token=…: take the token into this tab's sessionStorage
// and drop it from the address bar (a fragment never reaches the server or its logs).
const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
if (fromHash) {
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromHash[1]!));
  history.replaceState(null, '', location.pathname + location.search);
}

let store = new Store();
const price = new PriceChart($('price-chart'));
const equity = new EquityChart($('equity-chart'));
const models = new ModelChart($('model-chart'));
const heat = new Heatmap($<HTMLCanvasElement>('heatmap'));
let symbol = sessionStorage.getItem('cobalt.symbol') ?? '';
let tf = '1s';
const dirty = new Set<Topic | 'all'>();
let seriesChanges = new Map<string, { reset: boolean; bars: [number, number, number, number, number, number][] }>();
let frameRequested = false;

// Read by the browser test; harmless otherwise.
const hooks = { get store() { return store; }, price, heat, models, get symbol() { return symbol; }, get tf() { return tf; }, frames: 0, renders: 0 };
(window as unknown as { __cobalt: typeof hooks }).__cobalt = hooks;

function connect(attempt = 0): void {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  setConn('connecting', attempt > 0 ? `reconnecting (${attempt})` : 'connecting');
  ws.onopen = () => setConn('live', 'live');
  ws.onmessage = (ev) => {
    const f = JSON.parse(String(ev.data)) as WsFrame;
    hooks.frames++;
    if (f.type === 'snapshot') {
      store = new Store();
      seriesChanges = new Map();
      dirty.add('all');
    }
    const ch = store.apply(f.topics);
    note(ch, f.type === 'snapshot');
    attempt = 0;
  };
  ws.onclose = () => {
    setConn('down', 'disconnected');
    setTimeout(() => connect(attempt + 1), Math.min(5000, 250 * 2 ** attempt));
  };
}

function setConn(state: string, text: string): void {
  $('conn').className = `conn ${state}`;
  $('conn-text').textContent = text;
}

function note(ch: Change, snapshot: boolean): void {
  for (const t of ch.topics) dirty.add(t);
  for (const [k, v] of ch.series) {
    const prev = seriesChanges.get(k);
    if (snapshot || v.reset || !prev) seriesChanges.set(k, { reset: snapshot || v.reset || (prev?.reset ?? false), bars: [...(prev && !v.reset ? prev.bars : []), ...v.bars] });
    else prev.bars.push(...v.bars);
  }
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(render);
  }
}

function render(): void {
  frameRequested = false;
  hooks.renders++;
  const all = dirty.has('all');
  const syms = store.symbols();
  if (syms.length > 0 && !syms.includes(symbol)) {
    symbol = syms.includes('ETH/USDT') ? 'ETH/USDT' : syms[0]!;
    dirty.add('all');
  }
  fillSymbols(syms);
  const key = `${symbol}|${tf}`;
  const ch = seriesChanges.get(key);
  if (all || ch?.reset) price.setBars(store.candles.get(key) ?? []);
  else if (ch) price.update(ch.bars);
  seriesChanges = new Map();
  const bars = store.candles.get(key)?.length ?? 0;
  $('chart-note').textContent = bars === 0 ? `no ${tf} candles for ${symbol || '—'} yet` : `${bars} bars`;
  if (all || dirty.has('orders') || dirty.has('candles')) price.setFills(store.fills, symbol, tf);
  if (all || dirty.has('heatmap')) {
    const cols = store.heat.get(symbol) ?? [];
    const bs = cols[cols.length - 1]?.bucketSize ?? 1;
    heat.draw(cols, (p) => p.toFixed(bs < 1 ? 2 : 0));
    $('heat-meta').textContent = cols.length ? `${cols.length}s × ±${cols[cols.length - 1]!.range} buckets of ${bs}` : '';
  }
  if (all || dirty.has('cob')) renderLadder(store.books[symbol]);
  if (all || dirty.has('models')) {
    renderModels(store, symbol);
    models.set(store.outputs, store.decisions, symbol);
    syncThresholdSliders();
  }
  if (all || dirty.has('portfolio')) {
    renderPortfolio(store);
    equity.set(store.equity);
  }
  if (all || dirty.has('risk')) {
    renderRisk(store);
    renderStops(store);
  }
  if (all || dirty.has('orders')) renderOrders(store);
  if (all || dirty.has('system')) renderSystem(store);
  if (all || dirty.has('training')) renderTraining(store);
  renderHeader(store, symbol);
  dirty.clear();
}

function fillSymbols(syms: string[]): void {
  const sel = $<HTMLSelectElement>('symbol');
  if (sel.options.length === syms.length && Array.from(sel.options).every((o, i) => o.value === syms[i])) {
    sel.value = symbol;
    return;
  }
  sel.innerHTML = '';
  for (const s of syms) sel.add(new Option(s, s));
  sel.value = symbol;
}

$<HTMLSelectElement>('symbol').addEventListener('change', (e) => {
  symbol = (e.target as HTMLSelectElement).value;
  sessionStorage.setItem('cobalt.symbol', symbol);
  dirty.add('all');
  render();
});

for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#tf button'))) {
  b.addEventListener('click', () => {
    tf = b.dataset.tf!;
    for (const o of Array.from(document.querySelectorAll('#tf button'))) o.classList.toggle('on', o === b);
    dirty.add('all');
    render();
  });
}

// Controls.
const tokenInput = $<HTMLInputElement>('token');
tokenInput.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
tokenInput.addEventListener('change', () => sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim()));

/** Sends one control action; resolves with whether the engine took it. */
async function control(action: string, body: unknown = {}): Promise<boolean> {
  const out = $('ctl-result');
  const token = tokenInput.value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    const res = await fetch(`/api/control/${action}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const j = (await res.json()) as { error?: string; message?: string };
    out.className = res.ok ? 'ok' : 'err';
    // 202: a kill held while the RiskManager is not running (it goes to it when it runs): not to be read as done.
    const sent = res.status === 202 ? `${action}: ${j.message ?? 'held until the engine runs'}` : `${action}: sent`;
    out.textContent = res.ok ? sent : res.status === 401 ? 'refused: enter the dashboard token' : `${action}: ${j.error ?? res.status}`;
    return res.ok;
  } catch (e) {
    out.className = 'err';
    out.textContent = `${action}: ${(e as Error).message}`;
    return false;
  }
}

// The threshold sliders show the engine's thresholds in force, except one the trader has moved and not yet applied;
// Apply sends only those, so a threshold nobody touched is never overwritten with whatever the slider happened to show.
const SLIDERS = [['th-buy', 'th-buy-v', 'buy'], ['th-sell', 'th-sell-v', 'sell'], ['th-conf', 'th-conf-v', 'minConfidence']] as const;
type ThresholdKey = (typeof SLIDERS)[number][2];
const edited = new Set<ThresholdKey>();
for (const [id, v, key] of SLIDERS) {
  const input = $<HTMLInputElement>(id);
  input.addEventListener('input', () => {
    edited.add(key);
    $(v).textContent = Number(input.value).toFixed(2);
  });
}

function syncThresholdSliders(): void {
  const th = store.models?.thresholds ?? {};
  for (const [id, v, key] of SLIDERS) {
    const x = th[key];
    if (x === undefined || edited.has(key)) continue;
    $<HTMLInputElement>(id).value = String(x);
    $(v).textContent = x.toFixed(2);
  }
}
$('btn-start').addEventListener('click', () => void control('start'));
$('btn-stop').addEventListener('click', () => void control('stop'));
$('btn-kill').addEventListener('click', () => {
  if (confirm('Kill switch: halt trading and close every position?')) void control('kill');
});
$('btn-thresholds').addEventListener('click', () => {
  const body: Partial<Record<ThresholdKey, number>> = {};
  for (const [id, , key] of SLIDERS) if (edited.has(key)) body[key] = Number($<HTMLInputElement>(id).value);
  const sent = [...edited];
  if (sent.length === 0) {
    const out = $('ctl-result');
    out.className = 'err';
    out.textContent = 'thresholds: no slider moved; nothing to apply';
    return;
  }
  void control('thresholds', body).then((ok) => {
    if (!ok) return;
    // Applied: these sliders follow the engine again from its next models push (a value moved again meanwhile stays
    // the trader's). Not synced here: the store may still hold the thresholds from before the change.
    for (const k of sent) if (Number($<HTMLInputElement>(SLIDERS.find((x) => x[2] === k)![0]).value) === body[k]) edited.delete(k);
  });
});
// Quote amounts go as the strings typed (the engine keeps 9 decimals exactly); drawdown, stop loss, take profit and exit
// slippage as integers of bps, lot caps as integers of the traded symbol's lots (with that symbol: the first of the
// RiskManager's instruments), the market breaker's move and spread limits in bps and its times in ms. A bad value goes
// as typed and is refused by the engine with its reason, shown beside the buttons (as a number, NaN would reach JSON
// as null and remove the limit). "off" in a field whose limit may be absent sends null, which removes it.
$('btn-limits').addEventListener('click', () => {
  const body: Record<string, string | number | null> = {};
  const text = (id: string): string => $<HTMLInputElement>(id).value.trim();
  const quote = (id: string, key: string, offable = false): void => {
    const t = text(id);
    if (t) body[key] = offable && t.toLowerCase() === 'off' ? null : t;
  };
  const bps = (id: string, key: string, offable = false): void => {
    const t = text(id);
    if (t) body[key] = offable && t.toLowerCase() === 'off' ? null : /^\d+$/.test(t) ? Number(t) : t;
  };
  quote('lim-order', 'maxOrderNotional');
  quote('lim-position', 'maxPositionNotional');
  quote('lim-exposure', 'maxExposure');
  bps('lim-dd', 'maxDrawdownBps');
  bps('lim-sl', 'stopLossBps', true);
  bps('lim-tp', 'takeProfitBps', true);
  quote('lim-var99-warn', 'warnVar99', true);
  quote('lim-var99-max', 'maxVar99', true);
  quote('lim-var95-warn', 'warnVar95', true);
  quote('lim-var95-max', 'maxVar95', true);
  const exit = $<HTMLSelectElement>('lim-exit-type').value;
  if (exit) body.exitOrderType = exit;
  bps('lim-exit-slip', 'exitSlippageBps');
  bps('lim-order-lots', 'maxOrderLots', true);
  bps('lim-position-lots', 'maxPositionLots', true);
  bps('lim-move', 'maxMoveBps', true);
  bps('lim-move-window', 'moveWindowMs');
  bps('lim-move-cooldown', 'moveCooldownMs');
  bps('lim-stale', 'markStaleMs', true);
  bps('lim-spread', 'maxSpreadBps', true);
  bps('lim-spread-ms', 'spreadMs');
  if ('maxOrderLots' in body || 'maxPositionLots' in body) {
    const traded = store.risk?.instruments?.[0]?.symbol;
    if (!traded) {
      const out = $('ctl-result');
      out.className = 'err';
      out.textContent = 'limits: the traded symbol is not known yet (no risk figures received); try again';
      return;
    }
    body.symbol = traded;
  }
  void control('limits', body);
});
$('btn-rollback').addEventListener('click', () => {
  const model = $<HTMLSelectElement>('rollback-model').value;
  if (model) void control('rollback', { model });
});
window.addEventListener('resize', () => { dirty.add('heatmap'); render(); });

connect();
