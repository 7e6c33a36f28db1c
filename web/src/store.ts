// The page's copy of the engine state: a snapshot, then deltas merged in (histories by cursor slices).
import type {
  Alert, Bar, DecisionPoint, FillRow, HeatColumn, Ladder, ModelPoint, ModelsPayload, OrderRow, OrdersPayload, PortfolioPayload,
  RiskPayload, Slice, SystemPayload, Topic, TrainingReport,
} from './types.ts';

/** Merges a history slice into `arr` (in place); items with the key of the last one replace it. */
export function mergeSlice<T>(arr: T[], s: Slice<T>, cap: number, key?: (x: T) => unknown): T[] {
  if (s.reset) arr.length = 0;
  for (const it of s.items) {
    if (key && arr.length > 0 && key(arr[arr.length - 1]!) === key(it)) arr[arr.length - 1] = it;
    else arr.push(it);
  }
  if (arr.length > cap) arr.splice(0, arr.length - cap);
  return arr;
}

/**
 * Merges a slice of keyed rows into `rows` (in place, insertion order = order of last change): a changed row moves to
 * the end, and past `cap` the least recently changed go, as the server's table (engine SeqMap) does.
 */
export function mergeKeyed<T>(rows: Map<string, T>, s: Slice<T>, cap: number, key: (x: T) => string): Map<string, T> {
  if (s.reset) rows.clear();
  for (const it of s.items) {
    const k = key(it);
    rows.delete(k);
    rows.set(k, it);
  }
  for (const k of rows.keys()) {
    if (rows.size <= cap) break;
    rows.delete(k);
  }
  return rows;
}

/** What changed in one frame: topics, and per candle series whether it was reset and which bars arrived. */
export interface Change { topics: Set<Topic>; series: Map<string, { reset: boolean; bars: Bar[] }>; heat: Set<string> }

/** The page state. */
export class Store {
  readonly candles = new Map<string, Bar[]>();
  readonly heat = new Map<string, HeatColumn[]>();
  books: Record<string, Ladder> = {};
  readonly outputs: ModelPoint[] = [];
  readonly decisions: DecisionPoint[] = [];
  models: Omit<ModelsPayload, 'outputs' | 'decisions'> | undefined;
  portfolio: Omit<PortfolioPayload, 'equitySeries'> | undefined;
  readonly equity: [number, number][] = [];
  risk: Omit<RiskPayload, 'alerts'> | undefined;
  readonly alerts: Alert[] = [];
  /** Newest change first (what the orders table shows). */
  orders: OrderRow[] = [];
  private readonly orderRows = new Map<string, OrderRow>();
  readonly fills: FillRow[] = [];
  system: SystemPayload | undefined;
  training: TrainingReport | null = null;
  frames = 0;

  apply(topics: Partial<Record<Topic, unknown>>): Change {
    this.frames++;
    const ch: Change = { topics: new Set(Object.keys(topics) as Topic[]), series: new Map(), heat: new Set() };
    if (topics.candles) {
      for (const [k, s] of Object.entries((topics.candles as { series: Record<string, Slice<Bar>> }).series)) {
        mergeSlice(this.candles.get(k) ?? this.candles.set(k, []).get(k)!, s, 1500, (b) => b[0]);
        ch.series.set(k, { reset: s.reset, bars: s.items });
      }
    }
    if (topics.heatmap) {
      for (const [k, s] of Object.entries((topics.heatmap as { symbols: Record<string, Slice<HeatColumn>> }).symbols)) {
        mergeSlice(this.heat.get(k) ?? this.heat.set(k, []).get(k)!, s, 300, (c) => c.t);
        ch.heat.add(k);
      }
    }
    if (topics.cob) this.books = (topics.cob as { books: Record<string, Ladder> }).books;
    if (topics.models) {
      const { outputs, decisions, ...rest } = topics.models as ModelsPayload;
      mergeSlice(this.outputs, outputs, 2000);
      mergeSlice(this.decisions, decisions, 1000);
      this.models = rest;
    }
    if (topics.portfolio) {
      const { equitySeries, ...rest } = topics.portfolio as PortfolioPayload;
      mergeSlice(this.equity, equitySeries, 3600, (p) => p[0]);
      this.portfolio = rest;
    }
    if (topics.risk) {
      const { alerts, ...rest } = topics.risk as RiskPayload;
      mergeSlice(this.alerts, alerts, 100);
      this.risk = rest;
    }
    if (topics.orders) {
      const o = topics.orders as OrdersPayload;
      this.orders = [...mergeKeyed(this.orderRows, o.orders, 200, (r) => r.id).values()].reverse();
      mergeSlice(this.fills, o.fills, 500);
    }
    if (topics.system) this.system = topics.system as SystemPayload;
    if ('training' in topics) this.training = (topics.training as TrainingReport | null) ?? null;
    return ch;
  }

  /** Returns the symbols seen in any topic, sorted. */
  symbols(): string[] {
    const s = new Set<string>();
    for (const k of this.candles.keys()) s.add(k.split('|')[0]!);
    for (const k of this.heat.keys()) s.add(k);
    for (const k of Object.keys(this.books)) s.add(k);
    return [...s].sort();
  }
}
