// lightweight-charts v5: the price chart (candles, volume, our fills as markers), the equity curve and the model chart.
import {
  AreaSeries, CandlestickSeries, ColorType, createChart, createSeriesMarkers, HistogramSeries, LineSeries,
  type IChartApi, type ISeriesApi, type ISeriesMarkersPluginApi, type SeriesMarker, type Time, type UTCTimestamp,
} from 'lightweight-charts';
import type { Bar, DecisionPoint, FillRow, ModelPoint } from './types.ts';

const TF_S: Record<string, number> = { '1s': 1, '1m': 60, '1h': 3600, '1d': 86400 };
const C = { up: '#26a69a', down: '#ef5350', text: '#7d8799', grid: '#1a2029', accent: '#4f8cff' };
const MODEL_COLORS = ['#4f8cff', '#f0b429', '#b072ff', '#3ecfcf', '#ff7ab6', '#9ccc65'];

function baseChart(el: HTMLElement, timeVisible: boolean): IChartApi {
  return createChart(el, {
    autoSize: true,
    layout: { background: { type: ColorType.Solid, color: 'transparent' }, textColor: C.text, fontSize: 11, attributionLogo: false },
    grid: { vertLines: { color: C.grid }, horzLines: { color: C.grid } },
    rightPriceScale: { borderColor: '#232a36' },
    timeScale: { borderColor: '#232a36', timeVisible, secondsVisible: true },
    crosshair: { mode: 0 },
  });
}

const t = (s: number): UTCTimestamp => s as UTCTimestamp;

/** The candle chart of one symbol and timeframe, with volume and fill markers. */
export class PriceChart {
  readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  private readonly volume: ISeriesApi<'Histogram'>;
  private readonly markers: ISeriesMarkersPluginApi<Time>;
  private lastTime = -Infinity;
  /** Bars currently drawn (read by the browser test). */
  bars = 0;

  constructor(el: HTMLElement) {
    this.chart = baseChart(el, true);
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: C.up, downColor: C.down, borderVisible: false, wickUpColor: C.up, wickDownColor: C.down,
      priceFormat: { type: 'price', precision: 2, minMove: 0.01 },
    });
    this.volume = this.chart.addSeries(HistogramSeries, { priceScaleId: 'vol', priceFormat: { type: 'volume' }, lastValueVisible: false, priceLineVisible: false });
    this.chart.priceScale('vol').applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.06, bottom: 0.22 } });
    this.markers = createSeriesMarkers(this.candles, []);
  }

  /** Replaces every bar. */
  setBars(bars: readonly Bar[]): void {
    this.candles.setData(bars.map((b) => ({ time: t(b[0]), open: b[1], high: b[2], low: b[3], close: b[4] })));
    this.volume.setData(bars.map((b) => ({ time: t(b[0]), value: b[5], color: b[4] >= b[1] ? 'rgba(38,166,154,.35)' : 'rgba(239,83,80,.35)' })));
    this.bars = bars.length;
    this.lastTime = bars.length ? bars[bars.length - 1]![0] : -Infinity;
  }

  /** Adds or updates bars at or after the last one. */
  update(bars: readonly Bar[]): void {
    for (const b of bars) {
      if (b[0] < this.lastTime) continue;
      if (b[0] > this.lastTime) this.bars++;
      this.lastTime = b[0];
      this.candles.update({ time: t(b[0]), open: b[1], high: b[2], low: b[3], close: b[4] });
      this.volume.update({ time: t(b[0]), value: b[5], color: b[4] >= b[1] ? 'rgba(38,166,154,.35)' : 'rgba(239,83,80,.35)' });
    }
  }

  /** Draws our fills of `symbol` as arrows on the bars of timeframe `tf`. */
  setFills(fills: readonly FillRow[], symbol: string, tf: string): void {
    const step = TF_S[tf] ?? 1;
    const ms: SeriesMarker<Time>[] = [];
    for (const f of fills) {
      if (f.symbol !== symbol) continue;
      const bt = Math.floor(f.t / 1000 / step) * step;
      if (bt > this.lastTime) continue; // markers must sit on existing bars
      ms.push(f.side === 'buy'
        ? { time: t(bt), position: 'belowBar', shape: 'arrowUp', color: C.up, text: `B ${f.qty}` }
        : { time: t(bt), position: 'aboveBar', shape: 'arrowDown', color: C.down, text: `S ${f.qty}` });
    }
    ms.sort((a, b) => (a.time as number) - (b.time as number));
    this.markers.setMarkers(ms);
  }

  /** Markers drawn (read by the browser test). */
  markerCount(): number {
    return this.markers.markers().length;
  }
}

/** The equity curve. */
export class EquityChart {
  private readonly chart: IChartApi;
  private readonly series: ISeriesApi<'Area'>;
  constructor(el: HTMLElement) {
    this.chart = baseChart(el, true);
    this.series = this.chart.addSeries(AreaSeries, { lineColor: C.accent, topColor: 'rgba(79,140,255,.35)', bottomColor: 'rgba(79,140,255,0)', lineWidth: 2 });
  }
  set(points: readonly [number, number][]): void {
    this.series.setData(points.map(([s, v]) => ({ time: t(s), value: v })));
  }
}

/** Per model P(buy) − P(sell) over time, and the blended decision's signed confidence. */
export class ModelChart {
  private readonly chart: IChartApi;
  private readonly lines = new Map<string, ISeriesApi<'Line'>>();
  constructor(el: HTMLElement) {
    this.chart = baseChart(el, true);
  }
  set(outputs: readonly ModelPoint[], decisions: readonly DecisionPoint[], symbol: string): void {
    const by = new Map<string, { time: UTCTimestamp; value: number }[]>();
    for (const o of outputs) {
      if (o.symbol !== symbol) continue;
      pushByTime(by, o.model, Math.floor(o.t / 1000), o.p[0] - o.p[1]);
    }
    for (const d of decisions) {
      if (d.symbol !== symbol) continue;
      pushByTime(by, 'decision', Math.floor(d.t / 1000), d.action === 'BUY' ? d.confidence : d.action === 'SELL' ? -d.confidence : 0);
    }
    let i = 0;
    for (const [name, pts] of by) {
      let s = this.lines.get(name);
      if (!s) {
        const color = name === 'decision' ? '#d7dde8' : MODEL_COLORS[i % MODEL_COLORS.length]!;
        s = this.chart.addSeries(LineSeries, { color, lineWidth: name === 'decision' ? 2 : 1, title: name, priceFormat: { type: 'price', precision: 2, minMove: 0.01 } });
        this.lines.set(name, s);
      }
      s.setData(pts);
      i++;
    }
    // A model (or the decision line) with nothing for this symbol would otherwise keep the previous symbol's line.
    for (const [name, s] of this.lines) if (!by.has(name)) s.setData([]);
  }

  /** Points drawn per line (read by the browser test). */
  pointCounts(): Record<string, number> {
    return Object.fromEntries([...this.lines].map(([name, s]) => [name, s.data().length]));
  }
}

function pushByTime(by: Map<string, { time: UTCTimestamp; value: number }[]>, key: string, sec: number, value: number): void {
  let arr = by.get(key);
  if (!arr) by.set(key, (arr = []));
  const last = arr[arr.length - 1];
  if (last && (last.time as number) === sec) last.value = value;
  else if (!last || (last.time as number) < sec) arr.push({ time: t(sec), value });
}
