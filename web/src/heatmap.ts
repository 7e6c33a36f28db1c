// The COB heatmap: time (x, one column per second) × price (y, one row per bucket), bids green and asks red,
// intensity on a log scale of the quantity relative to the largest cell shown; the mid bucket traced in white.
import type { HeatColumn } from './types.ts';

/** Draws heatmap columns on a canvas. */
export class Heatmap {
  private readonly ctx: CanvasRenderingContext2D;
  /** How many times the canvas was drawn with data (read by the browser test). */
  draws = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext('2d')!;
  }

  draw(cols: readonly HeatColumn[], label: (price: number) => string): void {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr));
    const h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    const g = this.ctx;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.fillStyle = '#080a0e';
    g.fillRect(0, 0, w, h);
    if (cols.length === 0) {
      g.fillStyle = '#7d8799';
      g.font = `${12 * dpr}px system-ui, sans-serif`;
      g.fillText('waiting for cob.heatmap columns…', 12 * dpr, 22 * dpr);
      return;
    }
    const axisW = 64 * dpr;
    const plotW = w - axisW;
    let lo = Infinity;
    let hi = -Infinity;
    let max = 0;
    for (const col of cols) {
      lo = Math.min(lo, col.center - col.range);
      hi = Math.max(hi, col.center + col.range);
      for (let r = 0; r < col.bid.length; r++) max = Math.max(max, col.bid[r]!, col.ask[r]!);
    }
    const rows = hi - lo + 1;
    const n = Math.max(cols.length, 60);
    const cw = plotW / n;
    const rh = h / rows;
    const lmax = Math.log1p(max);
    const x0 = plotW - cols.length * cw;
    cols.forEach((col, i) => {
      const x = x0 + i * cw;
      for (let r = 0; r < col.bid.length; r++) {
        const bucket = col.center - col.range + r;
        const y = h - (bucket - lo + 1) * rh;
        const b = col.bid[r]!;
        const a = col.ask[r]!;
        if (b <= 0 && a <= 0) continue;
        const vb = lmax > 0 ? Math.log1p(b) / lmax : 0;
        const va = lmax > 0 ? Math.log1p(a) / lmax : 0;
        g.fillStyle = b >= a
          ? `rgba(38,166,154,${(0.08 + 0.92 * vb).toFixed(3)})`
          : `rgba(239,83,80,${(0.08 + 0.92 * va).toFixed(3)})`;
        g.fillRect(x, y, Math.ceil(cw), Math.ceil(rh));
      }
    });
    // Mid bucket trace.
    g.strokeStyle = 'rgba(215,221,232,.85)';
    g.lineWidth = 1.5 * dpr;
    g.beginPath();
    cols.forEach((col, i) => {
      const y = h - (col.center - lo + 0.5) * rh;
      const x = x0 + (i + 0.5) * cw;
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
    // Price axis.
    const last = cols[cols.length - 1]!;
    g.fillStyle = '#12161e';
    g.fillRect(plotW, 0, axisW, h);
    g.fillStyle = '#7d8799';
    g.font = `${10 * dpr}px ui-monospace, monospace`;
    const every = Math.max(1, Math.ceil((14 * dpr) / rh));
    for (let b = lo; b <= hi; b += every) {
      const y = h - (b - lo + 0.5) * rh;
      g.fillText(label(b * last.bucketSize), plotW + 6 * dpr, y + 3 * dpr);
    }
    this.draws++;
  }
}
