// A self-contained HTML report of a backtest: summary table, equity and drawdown as inline SVG, the fills.
// No scripts, no CDN: the file opens anywhere, offline.
import type { BacktestResult } from './backtest.ts';

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

/** Returns the report page. */
export function backtestReportHtml(r: BacktestResult): string {
  const s = r.summary;
  const ts = r.equity.map((p) => p.t);
  const rows = Object.entries(s).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))}</td></tr>`).join('');
  const fills = r.fills.slice(0, 500).map((f) => `<tr><td>${esc(new Date(f.ts).toISOString())}</td><td>${esc(f.side)}</td><td>${f.lots}</td><td>${f.price}</td><td>${esc(String(f.fee))} ${esc(f.feeAsset)}</td><td>${esc(f.liquidity)}</td><td>${esc(f.clientOrderId)}</td></tr>`).join('');
  const states = r.stateChanges.map((c) => `<li>${esc(new Date(c.t).toISOString())}: ${esc(c.state)} (${esc(c.reason)})</li>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>cobalt backtest ${esc(s.symbol)} ${esc(s.from)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f5f5f5}</style></head><body>
<h1>Backtest ${esc(s.symbol)}</h1><p>${esc(s.from)} → ${esc(s.to)}, seed ${s.seed}, models ${esc(s.models.join(', ') || 'none')}</p>
<h2>Equity</h2>${svgLine(ts, r.equity.map((p) => p.equity), { label: 'equity (quote)', color: '#2962ff' })}
<h2>Drawdown</h2>${svgLine(ts, r.equity.map((p) => -p.drawdown * 100), { label: 'drawdown (%)', color: '#d50000', fmt: (v) => `${v.toFixed(3)}%` })}
<h2>Summary</h2><table>${rows}</table>
<h2>Trading state changes</h2><ul>${states || '<li>none</li>'}</ul>
<h2>Fills${r.fills.length > 500 ? ' (first 500)' : ''}</h2><table><tr><th>time</th><th>side</th><th>lots</th><th>price (ticks)</th><th>fee (1e-9)</th><th>liquidity</th><th>client id</th></tr>${fills}</table>
</body></html>
`;
}
