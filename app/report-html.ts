// A self-contained HTML report of a backtest: summary table, equity and drawdown as inline SVG, each model's figures
// and their agreement, each model's rolling accuracy and gating weight over time, the models' training spans, the book's downtime and the orders left open, the fills in the instrument's decimals.
// No scripts, no CDN: the file opens anywhere, offline.
import type { Fill } from '../engine/messages/orders.ts';
import { notional, type Instrument } from '../engine/types/instrument.ts';
import { formatMoney } from '../engine/types/money.ts';
import { feedSkipped, type BacktestResult, type BacktestSummary } from './backtest.ts';
import { formatSteps } from '../engine/types/price.ts';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Returns an SVG line chart of `ys` over `ts` (ms), `w`×`h` pixels, with min/max labels. */
export function svgLine(ts: readonly number[], ys: readonly number[], opts: { w?: number; h?: number; color?: string; label: string; fmt?: (v: number) => string }): string {
  const w = opts.w ?? 900;
  const h = opts.h ?? 220;
  const pad = 40;
  const fmt = opts.fmt ?? ((v: number) => v.toFixed(2));
  if (ys.length < 2) return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><text x="10" y="20">${esc(opts.label)}: not enough samples</text></svg>`;
  const t0 = ts[0]!;
  const t1 = ts[ts.length - 1]!;
  // A loop, not Math.min(...ys): spreading one argument per 1 s sample overflows the stack past ~1.5 days.
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of ys) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const x = (t: number): number => pad + ((t - t0) / Math.max(1, t1 - t0)) * (w - 2 * pad);
  const y = (v: number): number => h - pad + ((lo - v) / (hi - lo)) * (h - 2 * pad);
  const pts = chartPoints(ts, ys, w - 2 * pad).map((i) => `${x(ts[i]!).toFixed(1)},${y(ys[i]!).toFixed(1)}`).join(' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="${esc(opts.label)}">`
    + `<rect x="${pad}" y="${pad}" width="${w - 2 * pad}" height="${h - 2 * pad}" fill="none" stroke="#ccc"/>`
    + `<polyline fill="none" stroke="${opts.color ?? '#2962ff'}" stroke-width="1.5" points="${pts}"/>`
    + `<text x="${pad}" y="${pad - 8}" font-size="12">${esc(opts.label)}</text>`
    + `<text x="2" y="${y(hi) + 4}" font-size="10">${esc(fmt(hi))}</text><text x="2" y="${y(lo) + 4}" font-size="10">${esc(fmt(lo))}</text>`
    + `<text x="${pad}" y="${h - 8}" font-size="10">${esc(new Date(t0).toISOString())}</text>`
    + `<text x="${w - pad - 150}" y="${h - 8}" font-size="10">${esc(new Date(t1).toISOString())}</text></svg>`;
}

/**
 * Returns the indexes of the samples to draw, in order: all of them when they fit two per pixel column, else the
 * first, the lowest and the highest and the last of each column (a week of 1 s samples is 604,800 points in a
 * 820-pixel chart; the extremes keep every spike and drawdown visible).
 */
export function chartPoints(ts: readonly number[], ys: readonly number[], columns: number): number[] {
  const n = ys.length;
  if (n <= 2 * columns) return Array.from({ length: n }, (_, i) => i);
  const t0 = ts[0]!;
  const span = Math.max(1, ts[n - 1]! - t0);
  const out: number[] = [];
  let i = 0;
  while (i < n) {
    const col = Math.min(columns - 1, Math.floor(((ts[i]! - t0) / span) * columns));
    let lo = i;
    let hi = i;
    let j = i + 1;
    for (; j < n && Math.min(columns - 1, Math.floor(((ts[j]! - t0) / span) * columns)) === col; j++) {
      if (ys[j]! < ys[lo]!) lo = j;
      if (ys[j]! > ys[hi]!) hi = j;
    }
    for (const k of [...new Set([i, lo, hi, j - 1])].sort((a, b) => a - b)) out.push(k);
    i = j;
  }
  return out;
}

// Summary fields with tables of their own below the summary table.
const OWN_TABLES = new Set<string>(['modelSpans', 'openOrders', 'modelFigures', 'modelAgreement', 'modelTimeline']);

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);

/** Returns the report page. */
export function backtestReportHtml(r: BacktestResult): string {
  const s = r.summary;
  const ts = r.equity.map((p) => p.t);
  // The lists have tables of their own below.
  const rows = Object.entries(s).filter(([k]) => !OWN_TABLES.has(k))
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))}</td></tr>`).join('');
  const fills = r.fills.slice(0, 500).map((f) => fillRow(f, r.instrument)).join('');
  const states = r.stateChanges.map((c) => `<li>${esc(new Date(c.t).toISOString())}: ${esc(c.state)} (${esc(c.reason)})</li>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>cobalt backtest ${esc(s.symbol)} ${esc(s.from)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f5f5f5}</style></head><body>
<h1>Backtest ${esc(s.symbol)}</h1><p>${esc(s.from)} → ${esc(s.to)}, seed ${s.seed}, models ${esc(s.models.join(', ') || 'none')}</p>
<h2>Equity</h2>${svgLine(ts, r.equity.map((p) => p.equity), { label: 'equity (quote)', color: '#2962ff' })}
<h2>Drawdown</h2>${svgLine(ts, r.equity.map((p) => -p.drawdown * 100), { label: 'drawdown (%)', color: '#d50000', fmt: (v) => `${v.toFixed(3)}%` })}
${inSampleBanner(s)}<h2>Summary</h2><table>${rows}</table>
<h2>Models</h2>${modelsTable(s)}
<h2>Model agreement</h2>${agreementTable(s)}
<h2>Model accuracy over time</h2>${timelineChart(s)}
<h2>Model training spans</h2>${spansTable(s)}
<h2>Book</h2>${bookSection(s)}
<h2>Trading state changes</h2><ul>${states || '<li>none</li>'}</ul>
<h2>Fills${r.fills.length > 500 ? ' (first 500)' : ''}</h2><table><tr><th>time</th><th>side</th><th>quantity (${esc(r.instrument.base)})</th><th>price (${esc(r.instrument.quote)})</th><th>value (${esc(r.instrument.quote)})</th><th>fee</th><th>liquidity</th><th>client id</th></tr>${fills}</table>
</body></html>
`;
}

// A fill's table row: quantity and price in the instrument's increments, value and fee exact (to 1e-9).
function fillRow(f: Fill, inst: Instrument): string {
  const cells = [
    new Date(f.ts).toISOString(), f.side, formatSteps(f.lots, inst.lotSize), formatSteps(f.price, inst.tickSize), formatMoney(notional(inst, f.price, f.lots)),
    `${formatMoney(f.fee)} ${f.feeAsset}`, f.liquidity, f.clientOrderId,
  ];
  return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
}

function inSampleBanner(s: BacktestSummary): string {
  if (s.inSample.length === 0) return '';
  return `<p style="color:#b00020;font-weight:bold">In-sample: ${esc(s.inSample.join(', '))} ${s.inSample.length > 1 ? 'were' : 'was'} trained on data reaching into this backtest (run with --allow-in-sample); the figures are not out of sample.</p>\n`;
}

function modelsTable(s: BacktestSummary): string {
  if (s.modelFigures.length === 0) return '<p>No model in the blend.</p>';
  const rows = s.modelFigures.map((m) => `<tr>${[
    m.model, String(m.decisions), String(m.actions.BUY), String(m.actions.SELL), String(m.actions.HOLD), String(m.judged), String(m.correct), pct(m.accuracy),
    m.gatingWeight.toFixed(3), pct(m.gatingAccuracy), String(m.failures), String(m.timeouts),
  ].map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
  return `<p>Judged: answers the orchestrator graded after its outcome horizon (its own rule; HOLD is right inside the dead band). The gating weight at the end follows the smoothed accuracy of the last outcomes in its window.</p>`
    + `<table><tr><th>model</th><th>answers</th><th>BUY</th><th>SELL</th><th>HOLD</th><th>judged</th><th>right</th><th>accuracy</th><th>gating weight</th><th>window accuracy</th><th>failures</th><th>timeouts</th></tr>${rows}</table>`;
}

/** A series of a fixed-scale chart: its values (null: no value there, the line breaks) and how it is drawn. */
export interface ChartSeries {
  readonly label: string;
  readonly ys: readonly (number | null)[];
  readonly color: string;
  readonly dashed?: boolean;
}

/**
 * Returns an SVG chart of several series over `ts` (ms) on one fixed scale [lo, hi], `w`×`h` pixels, with a dotted
 * reference line at `ref` and a legend. Few points (a model timeline's 100–200): every point is drawn.
 */
export function svgSeries(ts: readonly number[], series: readonly ChartSeries[], opts: { lo: number; hi: number; ref: number; label: string; fmt: (v: number) => string; w?: number; h?: number }): string {
  const w = opts.w ?? 900;
  const h = opts.h ?? 260;
  const pad = 40;
  if (ts.length < 2 || series.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><text x="10" y="20">${esc(opts.label)}: not enough samples</text></svg>`;
  const t0 = ts[0]!;
  const t1 = ts[ts.length - 1]!;
  const x = (t: number): string => (pad + ((t - t0) / Math.max(1, t1 - t0)) * (w - 2 * pad)).toFixed(1);
  const y = (v: number): string => (h - pad + ((opts.lo - v) / (opts.hi - opts.lo)) * (h - 2 * pad)).toFixed(1);
  const lines = series.map((s) => segments(ts, s.ys).map((seg) => `<polyline fill="none" stroke="${s.color}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="5,3"' : ''} points="${seg.map((i) => `${x(ts[i]!)},${y(s.ys[i]!)}`).join(' ')}"/>`).join('')).join('');
  // Below the time labels, two entries a row, clear of the lines.
  const legend = series.map((s, i) => `<text x="${pad + (i % 2) * 420}" y="${h + 12 + Math.floor(i / 2) * 14}" font-size="11" fill="${s.color}">${s.dashed ? '- - ' : '── '}${esc(s.label)}</text>`).join('');
  const legendH = Math.ceil(series.length / 2) * 14 + 4;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h + legendH}" role="img" aria-label="${esc(opts.label)}">`
    + `<rect x="${pad}" y="${pad}" width="${w - 2 * pad}" height="${h - 2 * pad}" fill="none" stroke="#ccc"/>`
    + `<line x1="${pad}" x2="${w - pad}" y1="${y(opts.ref)}" y2="${y(opts.ref)}" stroke="#888" stroke-dasharray="2,3"/>`
    + `<text x="${w - pad + 2}" y="${Number(y(opts.ref)) + 4}" font-size="10">${esc(opts.fmt(opts.ref))}</text>`
    + lines + legend
    + `<text x="${pad}" y="${pad - 8}" font-size="12">${esc(opts.label)}</text>`
    + `<text x="2" y="${Number(y(opts.hi)) + 4}" font-size="10">${esc(opts.fmt(opts.hi))}</text><text x="2" y="${Number(y(opts.lo)) + 4}" font-size="10">${esc(opts.fmt(opts.lo))}</text>`
    + `<text x="${pad}" y="${h - 8}" font-size="10">${esc(new Date(t0).toISOString())}</text>`
    + `<text x="${w - pad - 150}" y="${h - 8}" font-size="10">${esc(new Date(t1).toISOString())}</text></svg>`;
}

// Runs of consecutive indexes with a value; a lone point is drawn as a zero-length run so that it still shows.
function segments(ts: readonly number[], ys: readonly (number | null)[]): number[][] {
  const out: number[][] = [];
  let run: number[] = [];
  for (let i = 0; i < ts.length; i++) {
    if (ys[i] === null || ys[i] === undefined) {
      if (run.length > 0) out.push(run);
      run = [];
    } else run.push(i);
  }
  if (run.length > 0) out.push(run);
  return out.map((r) => (r.length === 1 ? [r[0]!, r[0]!] : r));
}

const SERIES_COLORS = ['#2962ff', '#d50000', '#00a152', '#ff6d00', '#aa00ff', '#00838f'];

// Each model's accuracy over its rolling window (solid) and its gating weight (dashed, same colour), with the 50% line.
function timelineChart(s: BacktestSummary): string {
  const tl = s.modelTimeline;
  if (tl.models.length === 0) return '<p>No model in the blend.</p>';
  const series = tl.models.flatMap((m, i): ChartSeries[] => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length]!;
    return [{ label: `${m.model} accuracy`, ys: m.accuracy, color }, { label: `${m.model} gating weight`, ys: m.gatingWeight, color, dashed: true }];
  });
  return `<p>Accuracy of the outcomes judged over the last ${tl.windowSteps} steps of ${(tl.stepMs / 1000).toFixed(0)} s (breaks where none was judged), `
    + `and the gating weight at each step. Dotted: 50%.</p>`
    + svgSeries(tl.t, series, { lo: 0, hi: 1, ref: 0.5, label: 'rolling accuracy and gating weight', fmt: (v) => `${(v * 100).toFixed(0)}%` });
}

// Share of the ticks both models answered where their actions were the same (ticks in the title).
function agreementTable(s: BacktestSummary): string {
  const g = s.modelAgreement;
  if (g.models.length < 2) return '<p>Fewer than two models: nothing to compare.</p>';
  const head = g.models.map((m) => `<th>${esc(m)}</th>`).join('');
  const rows = g.models.map((a, i) => `<tr><th>${esc(a)}</th>${g.models.map((_, j) => `<td title="${g.both[i]![j]!} ticks">${esc(pct(g.share[i]![j]!))}</td>`).join('')}</tr>`).join('');
  return `<p>Share of the ticks both models answered where their actions agreed.</p><table><tr><th></th>${head}</tr>${rows}</table>`;
}

function spansTable(s: BacktestSummary): string {
  if (s.modelSpans.length === 0) return '<p>No trained model in the blend.</p>';
  const rows = s.modelSpans.map((m) => {
    const parts = [...m.parts.map((p) => `${p.of}: ${p.from} → ${p.to}`), ...m.missing.map((x) => `unknown: ${x}`)].map(esc).join('<br>');
    return `<tr><td>${esc(m.model)}</td><td>${esc(m.from ?? 'unknown')}</td><td>${esc(m.to ?? 'unknown')}</td><td>${m.inSample ? '<b>yes</b>' : 'no'}</td><td>${parts}</td></tr>`;
  }).join('');
  return `<table><tr><th>model</th><th>first bar</th><th>last bar</th><th>reaches this backtest</th><th>spans that count</th></tr>${rows}</table>`;
}

function bookSection(s: BacktestSummary): string {
  const down = s.bookDownMs === 0 ? `The ${esc(s.symbol)} book was live throughout.`
    : `The ${esc(s.symbol)} book was not live for ${(s.bookDownMs / 1000).toFixed(1)} s (no decision, no fill meanwhile)`
      + (s.bookDownAtEnd ? `, down from ${esc(s.bookLastDownAt ?? '')} to the end: ${esc(s.bookLastDownReason ?? '')}.` : `; it last went down at ${esc(s.bookLastDownAt ?? '')}.`);
  const open = s.openOrders.length === 0 ? '<p>No order open at the end.</p>'
    : `<p>Orders still open at the end:</p><table><tr><th>created</th><th>side</th><th>type</th><th>quantity</th><th>filled</th><th>price</th><th>status</th><th>client id</th></tr>${
      s.openOrders.map((o) => `<tr>${[o.createdAt, o.side, o.type, o.qty, o.filledQty, o.price ?? 'market', o.status, o.clientOrderId].map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`;
  const skipped = feedSkipped(s.feed);
  return `<p>${down}</p>${skipped === undefined ? '' : `<p>${esc(skipped)}.</p>`}${open}`;
}
