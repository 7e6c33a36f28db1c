// BaseDataInput: the standard model input, packed once into one Float32Array. Feature map: BASE_DATA_INPUT.md.
import type { Candle } from '../messages/market.ts';
import type { ModelOutput } from '../messages/signals.ts';
import { InputValidationError } from '../types/errors.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../types/time.ts';
import type { CobSnapshot } from './cob.ts';
import { pivotIndices, trendOfIndices } from './pivots.ts';

/** Frames per time series (T of the [T, F] sequence block). */
export const BDI_FRAMES = 300;
/** Frames a series needs before any inference runs (DESIGN). */
export const BDI_MIN_FRAMES = 100;
/** Completeness below which no inference runs (DESIGN); the reference 1s counts whole there (validateScans). */
export const BDI_MIN_COMPLETENESS = 0.8;

/** The five series, in their order inside each frame. */
export const SERIES_NAMES = ['primary1s', 'primary1m', 'primary1h', 'primary1d', 'reference1s'] as const;
/** A series of the input. */
export type SeriesName = (typeof SERIES_NAMES)[number];
/** Features of one series in one frame, in order. */
export const SERIES_FEATURE_NAMES = ['open', 'high', 'low', 'close', 'volume', 'present'] as const;
/** One per-series feature. */
export type SeriesFeature = (typeof SERIES_FEATURE_NAMES)[number];
/** Features per series per frame. */
export const FEATURES_PER_SERIES = SERIES_FEATURE_NAMES.length;
/** Features per frame (F of the [T, F] sequence block): 5 series × 6. */
export const SERIES_FEATURES = SERIES_NAMES.length * FEATURES_PER_SERIES;

/** COB buckets on each side of the mid bucket. */
export const BDI_COB_RANGE = 20;
/** COB buckets per side array (2·range + 1). */
export const BDI_COB_BUCKETS = 2 * BDI_COB_RANGE + 1;
/** COB scalar features, in order. */
export const COB_STAT_NAMES = ['present', 'midRel', 'spreadBps', 'imbalance', 'imbalanceNear', 'ma1s', 'ma5s', 'ma15s', 'ma60s', 'logVolume'] as const;
/** Pivot levels encoded. */
export const BDI_PIVOT_LEVELS = 5;
/** Pivot features per level, in order. */
export const PIVOT_FEATURE_NAMES = ['trend', 'trendKnown', 'hasHigh', 'lastHighRel', 'lastHighAge', 'prevHighRel', 'hasLow', 'lastLowRel', 'lastLowAge', 'prevLowRel'] as const;
/** Models with an output slot (cross-model feeding), in order. */
export const BDI_MODEL_SLOTS = ['cnn', 'dqn'] as const;
/** Features of one model slot, in order. */
export const MODEL_FEATURE_NAMES = ['present', 'pBuy', 'pSell', 'pHold', 'confidence', 'ageMin'] as const;
/** Length of the CNN hidden vector carried in the input. */
export const CNN_HIDDEN_SIZE = 32;
/** Quality scores carried at the end, in order. */
export const QUALITY_NAMES = ['completeness', 'freshness', 'consistency'] as const;

/** One block of the packed array: where it starts and its shape. */
export interface BdiSection {
  readonly offset: number;
  readonly shape: readonly number[];
  readonly length: number;
}

function sections(): Record<string, BdiSection> {
  const defs: [string, number[]][] = [
    ['series', [BDI_FRAMES, SERIES_FEATURES]],
    ['cobBid', [BDI_COB_BUCKETS]],
    ['cobAsk', [BDI_COB_BUCKETS]],
    ['cobStats', [COB_STAT_NAMES.length]],
    ['pivots', [BDI_PIVOT_LEVELS, PIVOT_FEATURE_NAMES.length]],
    ['models', [BDI_MODEL_SLOTS.length, MODEL_FEATURE_NAMES.length]],
    ['cnnHidden', [CNN_HIDDEN_SIZE + 1]],
    ['quality', [QUALITY_NAMES.length]],
  ];
  const out: Record<string, BdiSection> = {};
  let offset = 0;
  for (const [name, shape] of defs) {
    const length = shape.reduce((a, b) => a * b, 1);
    out[name] = { offset, shape, length };
    offset += length;
  }
  return out;
}

/** Names of the packed sections. */
export type BdiSectionName = 'series' | 'cobBid' | 'cobAsk' | 'cobStats' | 'pivots' | 'models' | 'cnnHidden' | 'quality';
/** The feature map: offset and shape of every section (see BASE_DATA_INPUT.md). */
export const BDI_SECTIONS = sections() as Readonly<Record<BdiSectionName, BdiSection>>;
/** Where the flat tail (everything after the [T, F] block) starts. */
export const BDI_TAIL_OFFSET = BDI_SECTIONS.cobBid.offset;
/** Total length of the packed input. */
export const BDI_LENGTH = BDI_SECTIONS.quality.offset + BDI_SECTIONS.quality.length;

/** What a series must offer: CandleSeries satisfies it. */
export interface CandleSource {
  readonly timeframe: Timeframe;
  readonly length: number;
  get(i: number): Candle | undefined;
  /** Bumped by every mutation, where the source counts them (CandleSeries does): same version, same bars. */
  readonly version?: number;
  /** Bulk read, where offered (CandleSeries): bar i is `slots[(offset + i) % slots.length]`. */
  readonly slots?: readonly (Candle | undefined)[];
  readonly offset?: number;
}

/** Everything the input is assembled from. */
export interface BdiSources {
  readonly now: TsMs;
  readonly primary: Readonly<Record<Timeframe, CandleSource>>;
  readonly reference1s: CandleSource;
  readonly cob?: CobSnapshot;
  readonly models?: { readonly cnn?: ModelOutput; readonly dqn?: ModelOutput };
  /** Names used in reasons (default ETH/USDT and BTC/USDT). */
  readonly primarySymbol?: string;
  readonly referenceSymbol?: string;
  /** Series the pivots are found on (default the primary 1m). */
  readonly pivotTimeframe?: Timeframe;
}

/** Quality scores, each 0..1. */
export interface BdiQuality {
  /** Share of the expected data present: series frames (holes and short series lower it) and a usable COB. */
  readonly completeness: number;
  /** Share of series whose newest bar is current, plus a COB snapshot no older than 2 s. */
  readonly freshness: number;
  /** Share of sanity checks passed (bar OHLC, timeline alignment, COB mid near the price, symbols in step). */
  readonly consistency: number;
}

/** Result of validation. */
export interface BdiValidation {
  readonly completeness: number;
  readonly quality: BdiQuality;
  /** What is missing or wrong, one phrase each. */
  readonly reasons: string[];
  /** Frames present in each series' 300-frame window. */
  readonly frames: Readonly<Record<SeriesName, number>>;
  readonly canInfer: boolean;
  /** Empty when `canInfer`; otherwise why not. */
  readonly message: string;
}

/** A packed input and its validation. */
export interface BaseDataInput {
  readonly ts: TsMs;
  readonly data: Float32Array;
  readonly validation: BdiValidation;
}

const SERIES_TF: Record<SeriesName, Timeframe> = { primary1s: '1s', primary1m: '1m', primary1h: '1h', primary1d: '1d', reference1s: '1s' };
const COB_FRESH_MS = 2_000;
const COB_PRICE_TOLERANCE = 0.01;

/**
 * Whether the input uses the snapshot (counts it in completeness, packs it). A live book's snapshot is published
 * every period (CobAggregator), so one older than COB_FRESH_MS is a book that stopped (down, resyncing after a feed
 * reset) whose last snapshot, flags included, still says live: its values are the book as it was, not as it is.
 */
function cobUsable(now: number, cob: CobSnapshot): boolean {
  return !cob.flags.noLiveVenue && now - cob.ts <= COB_FRESH_MS;
}

function source(src: BdiSources, s: SeriesName): CandleSource {
  return s === 'reference1s' ? src.reference1s : src.primary[SERIES_TF[s]];
}

function label(src: BdiSources, s: SeriesName): string {
  return s === 'reference1s' ? `${src.referenceSymbol ?? 'BTC/USDT'} 1s` : `${src.primarySymbol ?? 'ETH/USDT'} ${SERIES_TF[s]}`;
}

const saneBar = (c: Candle): boolean =>
  Number.isFinite(c.open) && Number.isFinite(c.high) && Number.isFinite(c.low) && Number.isFinite(c.close) &&
  Number.isFinite(c.volume) && c.volume >= 0 && c.low <= Math.min(c.open, c.close) && c.high >= Math.max(c.open, c.close) && c.low > 0;

const fmtTime = (t: number): string => new Date(t).toISOString().slice(0, 19).replace('T', ' ');

/**
 * Walks the newest 300 time slots of a series (slot 299 opens at `anchor`, default the newest bar's open time; slot
 * t = anchor − (299 − t)·tf) and calls `at(slot, candle)` for each sane bar present, newest first; returns counts for
 * validation. Bars newer than the anchor are passed over.
 */
function walk(s: CandleSource, at?: (slot: number, c: Candle) => void, anchor?: number): { present: number; bad: number; misaligned: number; newest: Candle | undefined } {
  const tf = timeframeMs(s.timeframe);
  const newest = s.get(s.length - 1);
  let present = 0;
  let bad = 0;
  let misaligned = 0;
  if (newest === undefined) return { present, bad, misaligned, newest };
  const top = anchor ?? newest.openTime;
  let prevSlot = BDI_FRAMES;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.get(i)!;
    const d = (top - c.openTime) / tf;
    const slot = BDI_FRAMES - 1 - Math.round(d);
    if (slot < 0) break;
    if (slot >= BDI_FRAMES && prevSlot === BDI_FRAMES) continue;
    if (!Number.isInteger(d) || c.openTime % tf !== 0 || slot >= prevSlot) {
      misaligned++;
      if (slot >= prevSlot) continue;
    }
    prevSlot = slot;
    if (!saneBar(c)) {
      bad++;
      continue;
    }
    present++;
    at?.(slot, c);
  }
  return { present, bad, misaligned, newest };
}

/** What one walk of a series found: the counts validation needs, the oldest slot filled and the newest bar. */
interface SeriesScan {
  readonly present: number;
  readonly bad: number;
  readonly misaligned: number;
  /** Oldest slot holding a bar (BDI_FRAMES when none). */
  readonly first: number;
  readonly newest: Candle | undefined;
}

function scanSeries(s: CandleSource, anchor: number | undefined): SeriesScan {
  let first = BDI_FRAMES;
  const w = walk(s, (slot) => {
    first = slot;
  }, anchor);
  return { ...w, first };
}

/**
 * Open time of slot 299 of series `name`: the reference 1s is aligned to the primary 1s (a reference that lags shows
 * as empty newest slots, not as a window sliding under the primary's); a primary series ends at its own newest bar.
 */
function anchorOf(src: BdiSources, name: SeriesName): number | undefined {
  if (name !== 'reference1s') return undefined;
  const p = src.primary['1s'].get(src.primary['1s'].length - 1);
  const tf = timeframeMs(src.reference1s.timeframe);
  return p === undefined ? undefined : Math.floor(p.openTime / tf) * tf;
}

/**
 * Slot of a series' newest bar in a window whose slot 299 opens at `anchor` (default that bar: 299), at most 299: the
 * slots above it are empty because the series lags the anchor, not for want of a bar.
 */
function topSlot(newest: Candle | undefined, anchor: number | undefined, tf: number): number {
  if (newest === undefined || anchor === undefined) return BDI_FRAMES - 1;
  return Math.min(BDI_FRAMES - 1, BDI_FRAMES - 1 - Math.round((anchor - newest.openTime) / tf));
}

/** Returns completeness, quality and the reasons behind them; never throws on missing or bad data. */
export function validateBaseDataInput(src: BdiSources): BdiValidation {
  return validateScans(src, SERIES_NAMES.map((name) => scanSeries(source(src, name), anchorOf(src, name))));
}

/**
 * Series the models read (models/cnn/bdi-adapter.ts: the CNN's 1m/1h/1d columns; the DQN's 1m closes): one of them
 * stale or sparse blocks inference, whatever the completeness.
 */
const MODEL_SERIES: ReadonlySet<SeriesName> = new Set(['primary1m', 'primary1h', 'primary1d']);
/**
 * A model series may lag its input's time by this many bar lengths plus STALE_GRACE_MS. With the kline stream down,
 * the DataProvider's maintenance (every 60 s, bars closed BACKFILL_GRACE_MS = 5 s ago) keeps the 1m up to 2 bars +
 * 5 s behind; the grace adds 10 s for the REST round trip and a late timer.
 */
const STALE_BARS = 2;
const STALE_GRACE_MS = 15_000;
/**
 * Missing frames a model series may have: 5% of the window. Training keeps only decisions whose 300 1m bars have no
 * gap, but live a reconnect leaves a few-bar hole until the next maintenance pass fills it (up to a minute): refusing
 * those would stop inference at every reconnect for an input a few zero frames from the training one. For the 1m all
 * 300 slots count (training always has 300 bars); the 1h and 1d count holes only, as their history may be short in
 * training too (it reaches as far back as the klines archive).
 */
const MAX_MISSING_FRAMES = 15;

// The validation from one scan per series (in SERIES_NAMES order): the from-scratch and the incremental paths share it.
function validateScans(src: BdiSources, scans: readonly SeriesScan[]): BdiValidation {
  const reasons: string[] = [];
  const frames = {} as Record<SeriesName, number>;
  let complete = 0;
  let fresh = 0;
  let checks = 0;
  let passed = 0;
  // Model series too stale or too sparse to infer on.
  let blocked = 0;
  SERIES_NAMES.forEach((name, si) => {
    const s = source(src, name);
    const tf = timeframeMs(s.timeframe);
    const lbl = label(src, name);
    const w = scans[si]!;
    const first = w.first;
    frames[name] = w.present;
    complete += w.present / BDI_FRAMES;
    // Holes: empty slots between the oldest bar present and the series' newest bar (its slot, at most 299); a short
    // history is reported apart, and so are the empty slots above the newest bar of a lagging reference: its lag
    // (the freshness reason below), not missing bars.
    const holes = w.present === 0 ? 0 : Math.max(0, topSlot(w.newest, anchorOf(src, name), tf) - first + 1 - w.present);
    if (w.present < BDI_MIN_FRAMES) reasons.push(`${lbl} series has ${w.present} frames, needs ${BDI_MIN_FRAMES}`);
    else if (first > 0) reasons.push(`${lbl} series has ${BDI_FRAMES - first} of ${BDI_FRAMES} frames of history`);
    if (holes > 0) reasons.push(`${lbl} series has ${holes} hole${holes === 1 ? '' : 's'}`);
    const model = MODEL_SERIES.has(name);
    const missing = name === 'primary1m' ? BDI_FRAMES - w.present : holes;
    if (model && w.present >= BDI_MIN_FRAMES && missing > MAX_MISSING_FRAMES) {
      blocked++;
      reasons.push(`${lbl} series lacks ${missing} of ${BDI_FRAMES} frames, more than the ${MAX_MISSING_FRAMES} the models accept`);
    }
    // Fresh: the newest bar is the one forming now or the one that just closed.
    const behindMs = w.newest === undefined ? Infinity : src.now - (w.newest.openTime + tf);
    const stale = model && w.newest !== undefined && behindMs > STALE_BARS * tf + STALE_GRACE_MS;
    if (stale) blocked++;
    if (behindMs <= tf) fresh++;
    else reasons.push(w.newest === undefined ? `${lbl} series is empty` : `${lbl} series is ${(behindMs / 1_000).toFixed(1)} s behind${stale ? `, more than ${STALE_BARS} bars: the models read it` : ''}`);
    checks += 2;
    if (w.bad === 0) passed++;
    else reasons.push(`${lbl} series has ${w.bad} malformed bar${w.bad === 1 ? '' : 's'}`);
    if (w.misaligned === 0) passed++;
    else reasons.push(`${lbl} series has ${w.misaligned} bar${w.misaligned === 1 ? '' : 's'} off its ${s.timeframe} grid or out of order`);
  });

  const cob = src.cob;
  let cobScore = 0;
  if (cob === undefined) {
    reasons.push('COB snapshot absent');
  } else {
    const staleOrDown = cob.venues.filter((v) => v.stale || !v.live);
    for (const v of cob.venues) {
      if (!Number.isFinite(v.ageMs)) reasons.push(`venue ${v.venue} has sent no update`);
      else if (v.stale) reasons.push(`venue ${v.venue} stale for ${(v.ageMs / 1_000).toFixed(1)} s`);
      else if (!v.live) reasons.push(`venue ${v.venue} is not synced`);
    }
    const venueShare = cob.venues.length === 0 ? 0 : 1 - staleOrDown.length / cob.venues.length;
    if (cob.flags.noLiveVenue) reasons.push('COB has no live venue');
    if (cob.flags.emptyBid) reasons.push('COB bid side empty');
    if (cob.flags.emptyAsk) reasons.push('COB ask side empty');
    const sides = (cob.flags.emptyBid ? 0 : 0.5) + (cob.flags.emptyAsk ? 0 : 0.5);
    const age = src.now - cob.ts;
    cobScore = cobUsable(src.now, cob) ? sides * venueShare : 0;
    if (age <= COB_FRESH_MS) fresh++;
    else reasons.push(`COB snapshot is ${(age / 1_000).toFixed(1)} s old, more than ${COB_FRESH_MS / 1_000} s: left out`);
  }
  complete += cobScore;

  // Cross checks: the COB mid near the primary price, and both 1s series ending on the same second.
  const last1s = source(src, 'primary1s');
  const lastClose = last1s.get(last1s.length - 1)?.close;
  checks++;
  if (cob === undefined || !Number.isFinite(cob.mid) || lastClose === undefined) passed++;
  else if (Math.abs(cob.mid / lastClose - 1) <= COB_PRICE_TOLERANCE) passed++;
  else reasons.push(`COB mid ${cob.mid} is ${(Math.abs(cob.mid / lastClose - 1) * 100).toFixed(1)}% from the last 1s close ${lastClose}`);
  const p = src.primary['1s'].get(src.primary['1s'].length - 1);
  const r = src.reference1s.get(src.reference1s.length - 1);
  checks++;
  if (p === undefined || r === undefined || p.openTime === r.openTime) passed++;
  else reasons.push(`${label(src, 'reference1s')} ends at ${fmtTime(r.openTime)}, ${label(src, 'primary1s')} at ${fmtTime(p.openTime)}`);

  const hidden = src.models?.cnn?.hidden;
  if (hidden !== undefined && hidden.length !== CNN_HIDDEN_SIZE) reasons.push(`cnn hidden state has ${hidden.length} values, the input carries ${CNN_HIDDEN_SIZE}`);

  const completeness = complete / (SERIES_NAMES.length + 1);
  const quality: BdiQuality = { completeness, freshness: fresh / (SERIES_NAMES.length + 1), consistency: passed / checks };
  // No model reads the reference 1s (models/cnn/bdi-adapter.ts) and the 1s is never backfilled: a reference feed down
  // while the primary flows must not stop inference for as long as it lasts. So its frames neither count as short nor
  // pull the completeness gate down (it is counted whole there); its reasons and the reported scores stay.
  const short = SERIES_NAMES.filter((n) => n !== 'reference1s' && frames[n] < BDI_MIN_FRAMES);
  const gate = completeness + (1 - frames.reference1s / BDI_FRAMES) / (SERIES_NAMES.length + 1);
  const canInfer = gate >= BDI_MIN_COMPLETENESS && short.length === 0 && blocked === 0;
  const message = canInfer
    ? ''
    : `cannot infer: ${[
      // completeness <= gate: still below the bound.
      ...(gate < BDI_MIN_COMPLETENESS ? [`completeness ${completeness.toFixed(2)} < ${BDI_MIN_COMPLETENESS}`] : []),
      ...reasons,
    ].join('; ')}`;
  return { completeness, quality, reasons, frames, canInfer, message };
}

/**
 * Writes the input into `out` (BDI_LENGTH floats, zeroed first) in one pass per section and returns it.
 * Normalisation: OHLC as x / (newest close of that series) − 1; volume as log1p(volume) z-scored over the
 * series' present frames; missing frames all zero with present 0. See BASE_DATA_INPUT.md.
 */
export function packBaseDataInput(src: BdiSources, quality: BdiQuality, out: Float32Array = new Float32Array(BDI_LENGTH)): Float32Array {
  if (out.length !== BDI_LENGTH) throw new InputValidationError(`BaseDataInput buffer has ${out.length} floats, needs ${BDI_LENGTH}`);
  out.fill(0);
  SERIES_NAMES.forEach((name, si) => packSeries(source(src, name), si * FEATURES_PER_SERIES, out, anchorOf(src, name)));
  packCob(src, out);
  packPivots(src.primary[src.pivotTimeframe ?? '1m'], out);
  packModels(src, out);
  const q = BDI_SECTIONS.quality.offset;
  out[q] = quality.completeness;
  out[q + 1] = quality.freshness;
  out[q + 2] = quality.consistency;
  return out;
}

// The reference close is the newest bar the walk keeps: a malformed newest bar (close NaN or 0) would zero the column.
function packSeries(s: CandleSource, col: number, out: Float32Array, anchor: number | undefined): void {
  let ref = NaN;
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  walk(s, (slot, c) => {
    if (n === 0) ref = c.close;
    const o = slot * SERIES_FEATURES + col;
    out[o] = c.open / ref - 1;
    out[o + 1] = c.high / ref - 1;
    out[o + 2] = c.low / ref - 1;
    out[o + 3] = c.close / ref - 1;
    const lv = Math.log1p(c.volume);
    out[o + 4] = lv;
    out[o + 5] = 1;
    n++;
    sum += lv;
    sumSq += lv * lv;
  }, anchor);
  if (n === 0) return;
  const mean = sum / n;
  const sd = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  for (let t = 0; t < BDI_FRAMES; t++) {
    const o = t * SERIES_FEATURES + col;
    if (out[o + 5] === 1) out[o + 4] = sd > 1e-9 ? (out[o + 4]! - mean) / sd : 0;
  }
}

// Module level: a closure made per call is also named per call under tsx (keepNames), a defineProperty each time.
const fin = (x: number): number => (Number.isFinite(x) ? x : 0);

function packCob(src: BdiSources, out: Float32Array): void {
  const cob = src.cob;
  if (cob === undefined || !cobUsable(src.now, cob)) return;
  const b = BDI_SECTIONS.cobBid.offset;
  const a = BDI_SECTIONS.cobAsk.offset;
  const st = BDI_SECTIONS.cobStats.offset;
  // Center the snapshot's buckets on the input's ±20 (a snapshot may keep a wider range).
  const off = cob.range - BDI_COB_RANGE;
  let total = 0;
  for (let k = 0; k < BDI_COB_BUCKETS; k++) {
    const j = k + off;
    if (j < 0 || j >= cob.bidBuckets.length) continue;
    total += cob.bidBuckets[j]! + cob.askBuckets[j]!;
  }
  for (let k = 0; k < BDI_COB_BUCKETS; k++) {
    const j = k + off;
    if (j < 0 || j >= cob.bidBuckets.length || total <= 0) continue;
    out[b + k] = cob.bidBuckets[j]! / total;
    out[a + k] = cob.askBuckets[j]! / total;
  }
  const p1s = src.primary['1s'];
  const lastClose = p1s.get(p1s.length - 1)?.close;
  out[st] = 1;
  out[st + 1] = lastClose !== undefined ? fin(cob.mid / lastClose - 1) : 0;
  out[st + 2] = fin(cob.spreadBps);
  out[st + 3] = fin(cob.imbalance);
  out[st + 4] = fin(cob.imbalanceNear);
  for (let w = 0; w < 4; w++) out[st + 5 + w] = fin(cob.imbalanceMa[w] ?? NaN);
  out[st + 9] = Math.log1p(total);
}

// The pivots are found on the bars the series block holds (walk's: inside the 300 slots, sane), nothing older or
// malformed (a +Inf high made a pivot and an Infinity in the input).
function packPivots(s: CandleSource, out: Float32Array): void {
  const high = new Float64Array(BDI_FRAMES);
  const low = new Float64Array(BDI_FRAMES);
  const slots = new Float64Array(BDI_FRAMES);
  let k = BDI_FRAMES;
  let ref = NaN;
  walk(s, (slot, c) => {
    if (k === BDI_FRAMES) ref = c.close;
    k--;
    high[k] = c.high;
    low[k] = c.low;
    slots[k] = slot;
  });
  packPivotColumns(high.subarray(k), low.subarray(k), slots.subarray(k), BDI_FRAMES - k, ref, out, BDI_SECTIONS.pivots.offset);
}

// The pivot section, at `base` of `out`, from the high and low columns of n bars (oldest first), their slots and the
// newest one's close. Ages are in slots: time, whatever holes lie between.
function packPivotColumns(high: Float64Array, low: Float64Array, slots: Float64Array, n: number, ref: number, out: Float32Array, base: number): void {
  if (!(ref > 0)) return;
  const idx = pivotIndices(high, low, n, BDI_PIVOT_LEVELS);
  const F = PIVOT_FEATURE_NAMES.length;
  for (let i = 0; i < BDI_PIVOT_LEVELS; i++) {
    const o = base + i * F;
    const h = idx.highs[i]!;
    const l = idx.lows[i]!;
    const trend = trendOfIndices(h, l, high, low);
    out[o] = trend === 'up' ? 1 : trend === 'down' ? -1 : 0;
    out[o + 1] = trend === 'unknown' ? 0 : 1;
    if (h.length > 0) {
      out[o + 2] = 1;
      out[o + 3] = high[h[h.length - 1]!]! / ref - 1;
      out[o + 4] = (BDI_FRAMES - 1 - slots[h[h.length - 1]!]!) / BDI_FRAMES;
      if (h.length > 1) out[o + 5] = high[h[h.length - 2]!]! / ref - 1;
    }
    if (l.length > 0) {
      out[o + 6] = 1;
      out[o + 7] = low[l[l.length - 1]!]! / ref - 1;
      out[o + 8] = (BDI_FRAMES - 1 - slots[l[l.length - 1]!]!) / BDI_FRAMES;
      if (l.length > 1) out[o + 9] = low[l[l.length - 2]!]! / ref - 1;
    }
  }
}

function packModels(src: BdiSources, out: Float32Array): void {
  const base = BDI_SECTIONS.models.offset;
  const F = MODEL_FEATURE_NAMES.length;
  BDI_MODEL_SLOTS.forEach((slot, i) => {
    const m = src.models?.[slot];
    if (m === undefined) return;
    const o = base + i * F;
    out[o] = 1;
    out[o + 1] = m.probabilities[0];
    out[o + 2] = m.probabilities[1];
    out[o + 3] = m.probabilities[2];
    out[o + 4] = m.confidence;
    out[o + 5] = Math.min(10, Math.max(0, (src.now - m.ts) / 60_000));
  });
  const hidden = src.models?.cnn?.hidden;
  if (hidden !== undefined && hidden.length === CNN_HIDDEN_SIZE) {
    const h = BDI_SECTIONS.cnnHidden.offset;
    out[h] = 1;
    out.set(hidden, h + 1);
  }
}

/** Validates and packs the input; `out` may be a reused buffer of BDI_LENGTH floats. */
export function assembleBaseDataInput(src: BdiSources, out?: Float32Array): BaseDataInput {
  const validation = validateBaseDataInput(src);
  return { ts: src.now, data: packBaseDataInput(src, validation.quality, out), validation };
}

// Per-series state of the incremental assembler: the candles its last walk visited (newest first, including the one
// that ended the walk), their fields (so a bar seen before is never read again: candles come in several shapes, and
// reading their properties is the slow part of a walk) and what the walk found.
interface SeriesCache {
  src: CandleSource | undefined;
  length: number;
  /** src.version at the last refresh (undefined: the source keeps none). */
  version: number | undefined;
  /** Timeframe (ms) the cached flags were computed for. */
  tf: number;
  visited: Candle[];
  /**
   * Fields of visited[k] at k · 8: openTime, open, high, low, close, volume, log1p(volume) and flags (ON_GRID: the
   * open time is on the timeframe's grid; SANE: saneBar holds). The flags spare a float % per bar and walk.
   */
  fields: Float64Array;
  scan: SeriesScan;
  /** The anchor asked for at the last refresh (undefined: the newest bar) and the open time of slot 299 it gave. */
  anchor: number | undefined;
  anchorTime: number;
  /** Per slot: whether the walk kept a bar there, and its high and low (the pivots' columns), current when `cols`. */
  has: Uint8Array;
  high: Float64Array;
  low: Float64Array;
  /** Close of the newest bar kept (the series' normalisation reference), NaN when none. */
  ref: number;
  /** False after a shift that left the pivots' columns behind (the last walk or shift always left a clean run then). */
  cols: boolean;
  /** Leading visited bars the walk passed over, newer than slot 299 (unchecked: a later shift checks them). */
  above: number;
  /** Bumped at every walk or shift: the pivots found on this series are reused while it stands. */
  gen: number;
}

interface PivotCache {
  /** Index of the series the block was found on and its `gen` then (-1: none yet). */
  si: number;
  gen: number;
  block: Float32Array;
}

/** Index in SERIES_NAMES of each primary timeframe's series. */
const PRIMARY_INDEX: Readonly<Record<Timeframe, number>> = { '1s': 0, '1m': 1, '1h': 2, '1d': 3 };

const EMPTY_SCAN: SeriesScan = { present: 0, bad: 0, misaligned: 0, first: BDI_FRAMES, newest: undefined };
const FIELDS = 8;
const ON_GRID = 1;
const SANE = 2;
/** New bars on top of the last walk's newest that are still recognised as a shift (more: a plain rebuild). */
const MAX_SHIFT = 64;

/**
 * Assembles BaseDataInputs tick after tick, reusing what did not change: a series whose newest 300 slots hold the same
 * candles as at the last call keeps its walk (validation counts) and its packed columns; after new bars it is walked
 * again from the fields cached for the bars already seen; the pivots are recomputed only when their bars change.
 * Equality is by candle identity, so candles must never be mutated (STYLE: messages are immutable), which the series
 * and builders honour. The bytes and the validation equal `assembleBaseDataInput` on the same sources.
 */
export class BdiAssembler {
  private readonly packed = new Float32Array(BDI_LENGTH);
  private readonly series: SeriesCache[] = SERIES_NAMES.map(() => ({
    src: undefined, length: -1, version: undefined, tf: 0, visited: [], fields: new Float64Array((BDI_FRAMES + 1) * FIELDS), scan: EMPTY_SCAN,
    anchor: undefined, anchorTime: NaN, has: new Uint8Array(BDI_FRAMES), high: new Float64Array(BDI_FRAMES), low: new Float64Array(BDI_FRAMES), ref: NaN, gen: 0, above: 0, cols: true,
  }));
  // The bars a shift appends, newest first (reused).
  private readonly added: Candle[] = [];
  private readonly pivots: PivotCache = { si: -1, gen: -1, block: new Float32Array(BDI_SECTIONS.pivots.length) };
  /**
   * Series walked again (seriesShifted of them by a shift) / reused as they were / with the same bars and the window
   * moved (an anchor on: shifted, not counted as built), bars read from a candle / from the cache, pivot sets built /
   * reused.
   */
  readonly stats = { seriesBuilt: 0, seriesReused: 0, seriesShifted: 0, seriesMoved: 0, barsRead: 0, barsCached: 0, pivotsBuilt: 0, pivotsReused: 0 };

  /** Validates the input of `src` (the same object `validateBaseDataInput` returns), refreshing the series caches. */
  validate(src: BdiSources): BdiValidation {
    const piv = PRIMARY_INDEX[src.pivotTimeframe ?? '1m'];
    return validateScans(src, SERIES_NAMES.map((name, si) => this.refresh(si, source(src, name), anchorOf(src, name), si === piv)));
  }

  /** Validates and packs the input of `src` into `out` (a new array by default; never the assembler's own). */
  assemble(src: BdiSources, out: Float32Array = new Float32Array(BDI_LENGTH)): BaseDataInput {
    if (out.length !== BDI_LENGTH) throw new InputValidationError(`BaseDataInput buffer has ${out.length} floats, needs ${BDI_LENGTH}`);
    const p = this.packed;
    const validation = this.validate(src);
    // The flat tail is cheap and changes every tick (COB, model ages, quality): rebuilt each call, pivots aside.
    p.fill(0, BDI_TAIL_OFFSET, BDI_SECTIONS.pivots.offset);
    p.fill(0, BDI_SECTIONS.models.offset);
    packCob(src, p);
    p.set(this.pivotBlock(PRIMARY_INDEX[src.pivotTimeframe ?? '1m']), BDI_SECTIONS.pivots.offset);
    packModels(src, p);
    const q = BDI_SECTIONS.quality.offset;
    p[q] = validation.quality.completeness;
    p[q + 1] = validation.quality.freshness;
    p[q + 2] = validation.quality.consistency;
    out.set(p);
    return { ts: src.now, data: out, validation };
  }

  // Returns series `si`'s scan; its packed columns are rewritten when the candles its walk would visit changed.
  private refresh(si: number, s: CandleSource, anchor: number | undefined, cols: boolean): SeriesScan {
    const c = this.series[si]!;
    const v = s.version;
    // An unchanged version means unchanged bars: no need to compare the 300 candles.
    if (c.src === s && c.anchor === anchor && ((v !== undefined && c.version === v) || (c.length === s.length && sameVisited(s, c.visited)))) {
      c.version = v;
      this.stats.seriesReused++;
      return c.scan;
    }
    c.gen++;
    if (c.src !== s) c.visited.length = 0;
    // n version steps with the last walk's newest bar now n below the top: those n steps were appends (a replace adds
    // no bar and a clear removes it), so the bars under it are the ones the last walk saw. n = 0: only the anchor moved.
    const n = v !== undefined && c.version !== undefined ? v - c.version : -1;
    const appended = c.src === s && n >= 0 && n <= MAX_SHIFT && c.visited.length > 0 && s.get(s.length - 1 - n) === c.visited[0];
    c.src = s;
    c.length = s.length;
    c.version = v;
    c.anchor = anchor;
    const col = si * FEATURES_PER_SERIES;
    const shifted = appended ? this.shiftSeries(s, c, col, n, anchor, cols) : undefined;
    if (shifted === undefined || n > 0) this.stats.seriesBuilt++;
    c.scan = shifted ?? this.walkSeries(s, c, col, anchor);
    return c.scan;
  }

  /**
   * The common tick: the window's end moved k ≥ 0 slots (to its own newest bar, or to the anchor it follows) and n ≥ 0
   * bars were appended, over a last walk whose bars filled a run of slots with no gap, no malformed and no misaligned
   * bar (empty newest slots allowed: a lagging reference). Those bars are clean at any anchor k slots on (whole bar
   * lengths apart, sane, in order) and only move down; the bars that walk did not check (the n new ones and those it
   * passed over above its window) are checked here, as walk does. So the pack is a pass over the cached fields with no
   * per-bar test, newest first like walkSeries (same sums, same floats). Returns undefined, having changed nothing,
   * when the new window would not be such a run (a gap, a bar off the grid or malformed); walkSeries then runs.
   */
  private shiftSeries(s: CandleSource, c: SeriesCache, col: number, n: number, anchor: number | undefined, cols: boolean): SeriesScan | undefined {
    const sc = c.scan;
    const old = c.visited;
    const tf = timeframeMs(s.timeframe);
    if (old.length <= c.above || sc.bad !== 0 || sc.misaligned !== 0 || sc.present === 0 || c.tf !== tf) return undefined;
    const top = s.length - 1;
    const nt = anchor ?? s.get(top)!.openTime;
    // NaN (no window before) fails too.
    const k = (nt - c.anchorTime) / tf;
    if (!(Number.isInteger(k) && k >= 0)) return undefined;
    let f = c.fields;
    // Newest slot the last walk kept, at the new anchor: the run it ends must have no gap and stay (partly) inside.
    const last = BDI_FRAMES - 1 - Math.round((nt - f[c.above * FIELDS]!) / tf);
    if (last + k - sc.first + 1 !== sc.present || last < 0) return undefined;
    const added = this.added;
    added.length = n;
    // The bars not checked yet, newest first: the new ones, then those the last walk passed over above its window.
    // Each one kept must sit right above the next (prevSlot: the slot of the last one kept).
    let prevSlot = BDI_FRAMES;
    // Leading bars still above the window, and bars entering it.
    let above = 0;
    let entering = 0;
    for (let j = 0; j < n + c.above; j++) {
      let t: number;
      let ok: boolean;
      if (j < n) {
        const cd = s.get(top - j)!;
        added[j] = cd;
        t = cd.openTime;
        ok = t % tf === 0 && saneBar(cd);
      } else {
        const b = (j - n) * FIELDS;
        t = f[b]!;
        ok = f[b + 7]! === (ON_GRID | SANE);
      }
      const d = (nt - t) / tf;
      const slot = BDI_FRAMES - 1 - Math.round(d);
      if (slot >= BDI_FRAMES && prevSlot === BDI_FRAMES) {
        above++;
        continue;
      }
      if (!ok || !Number.isInteger(d) || slot < 0 || slot >= BDI_FRAMES || (prevSlot < BDI_FRAMES && slot !== prevSlot - 1)) return undefined;
      prevSlot = slot;
      entering++;
    }
    if (prevSlot < BDI_FRAMES && last !== prevSlot - 1) return undefined;
    // The new run: slots first..newest, all kept. The walk visits the bars above it, the run and the bar that ends it:
    // the first one of the old run now below slot 0, else the bar that ended the last walk (if any).
    const first = Math.max(sc.first - k, 0);
    const newest = last + entering;
    const present = newest - first + 1;
    const visit = above + present + (sc.first < k || old.length > c.above + sc.present ? 1 : 0);
    // A ring at capacity drops its oldest bars on append: when one was a bar the walk visits, walk again.
    if (visit > s.length) return undefined;
    this.fit(c, n + old.length);
    f = c.fields;
    f.copyWithin(n * FIELDS, 0, old.length * FIELDS);
    for (let j = 0; j < n; j++) {
      const cd = added[j]!;
      writeFields(f, j * FIELDS, cd, (cd.openTime % tf === 0 ? ON_GRID : 0) | (saneBar(cd) ? SANE : 0));
    }
    old.unshift(...added);
    old.length = visit;
    // Sums and pack newest first, as walkSeries.
    const at = above * FIELDS;
    const ref = f[at + 4]!;
    let sum = 0;
    let sumSq = 0;
    for (let j = 0, b = at + 6; j < present; j++, b += FIELDS) {
      const lv = f[b]!;
      sum += lv;
      sumSq += lv * lv;
    }
    const mean = sum / present;
    const sd = Math.sqrt(Math.max(0, sumSq / present - mean * mean));
    const p = this.packed;
    for (let j = 0, b = at, o = newest * SERIES_FEATURES + col; j < present; j++, b += FIELDS, o -= SERIES_FEATURES) {
      p[o] = f[b + 1]! / ref - 1;
      p[o + 1] = f[b + 2]! / ref - 1;
      p[o + 2] = f[b + 3]! / ref - 1;
      p[o + 3] = f[b + 4]! / ref - 1;
      // walkSeries z-scores the float32 it stored: the same rounding here.
      p[o + 4] = sd > 1e-9 ? (Math.fround(f[b + 6]!) - mean) / sd : 0;
      p[o + 5] = 1;
    }
    zeroSlots(p, col, 0, first);
    zeroSlots(p, col, newest + 1, BDI_FRAMES);
    c.above = above;
    // The pivots' columns, kept up only on the series the pivots are found on (a tick's cost): another one's are
    // rebuilt if it becomes that one (pivotBlock).
    if (cols) runColumns(c, first, newest);
    else c.cols = false;
    if (n > 0) this.stats.seriesShifted++;
    else this.stats.seriesMoved++;
    this.stats.barsRead += n;
    this.stats.barsCached += visit - n;
    c.ref = ref;
    c.anchorTime = nt;
    return { present, bad: 0, misaligned: 0, first, newest: s.get(top) };
  }

  /**
   * walk + packSeries in one pass over cached fields, written into the packed [T, F] block at column `col`. The
   * arithmetic is theirs, in the same order (bars newest first), so the floats are identical.
   */
  private walkSeries(s: CandleSource, c: SeriesCache, col: number, anchor: number | undefined): SeriesScan {
    const p = this.packed;
    const top = s.length - 1;
    const newest = s.get(top);
    c.has.fill(0);
    c.cols = true;
    c.ref = NaN;
    if (newest === undefined) {
      zeroSlots(p, col, 0, BDI_FRAMES);
      c.visited.length = 0;
      c.anchorTime = NaN;
      c.above = 0;
      return EMPTY_SCAN;
    }
    // Bars added on top since the last walk: the old visited list (and its fields) moves down by that many.
    const old = c.visited;
    const tf = timeframeMs(s.timeframe);
    if (c.tf !== tf) old.length = 0;
    c.tf = tf;
    let m = -1;
    for (let j = 0; old.length > 0 && j <= MAX_SHIFT && j <= top; j++) {
      if (s.get(top - j) === old[0]) {
        m = j;
        break;
      }
    }
    if (m < 0) old.length = 0;
    else if (m > 0) {
      this.fit(c, old.length + m);
      c.fields.copyWithin(m * FIELDS, 0, old.length * FIELDS);
      old.unshift(...new Array<Candle>(m));
    }
    // The newest bar kept sets the reference close (packSeries).
    let ref = NaN;
    const nt = anchor ?? newest.openTime;
    c.anchorTime = nt;
    let present = 0;
    let bad = 0;
    let misaligned = 0;
    let first = BDI_FRAMES;
    let sum = 0;
    let sumSq = 0;
    let prevSlot = BDI_FRAMES;
    // Slots at and above this one are already written or zeroed this walk; those between written bars are zeroed
    // as the walk passes them (instead of zeroing the whole column first and writing most of it again).
    let clean = BDI_FRAMES;
    let read = 0;
    let above = 0;
    // Bars straight from the ring's backing array where the source offers it: no call per bar.
    const ring = s.slots;
    const cap = ring === undefined ? 0 : ring.length;
    let at = ring === undefined ? 0 : ((s.offset ?? 0) + top) % cap;
    let k = 0;
    for (let i = top; i >= 0; i--, k++) {
      let cd: Candle;
      if (ring !== undefined) {
        cd = ring[at]!;
        if (--at < 0) at = cap - 1;
      } else {
        cd = s.get(i)!;
      }
      if (k >= old.length || old[k] !== cd) {
        this.fit(c, k + 1);
        writeFields(c.fields, k * FIELDS, cd, (cd.openTime % tf === 0 ? ON_GRID : 0) | (saneBar(cd) ? SANE : 0));
        old[k] = cd;
        read++;
      }
      const f = c.fields;
      const b = k * FIELDS;
      const openTime = f[b]!;
      const d = (nt - openTime) / tf;
      const slot = BDI_FRAMES - 1 - Math.round(d);
      if (slot < 0) {
        k++;
        break;
      }
      if (slot >= BDI_FRAMES && prevSlot === BDI_FRAMES) {
        above++;
        continue;
      }
      const flags = f[b + 7]!;
      if (!Number.isInteger(d) || (flags & ON_GRID) === 0 || slot >= prevSlot) {
        misaligned++;
        if (slot >= prevSlot) continue;
      }
      prevSlot = slot;
      if ((flags & SANE) === 0) {
        bad++;
        continue;
      }
      const open = f[b + 1]!;
      const high = f[b + 2]!;
      const low = f[b + 3]!;
      const close = f[b + 4]!;
      if (present === 0) ref = close;
      present++;
      first = slot;
      c.has[slot] = 1;
      c.high[slot] = high;
      c.low[slot] = low;
      if (slot + 1 < clean) zeroSlots(p, col, slot + 1, clean);
      clean = slot;
      const o = slot * SERIES_FEATURES + col;
      p[o] = open / ref - 1;
      p[o + 1] = high / ref - 1;
      p[o + 2] = low / ref - 1;
      p[o + 3] = close / ref - 1;
      const lv = f[b + 6]!;
      p[o + 4] = lv;
      p[o + 5] = 1;
      sum += lv;
      sumSq += lv * lv;
    }
    old.length = k;
    this.stats.barsRead += read;
    this.stats.barsCached += k - read;
    c.ref = ref;
    c.above = above;
    zeroSlots(p, col, 0, clean);
    if (present > 0) {
      const mean = sum / present;
      const sd = Math.sqrt(Math.max(0, sumSq / present - mean * mean));
      for (let t = 0; t < BDI_FRAMES; t++) {
        const o = t * SERIES_FEATURES + col;
        if (p[o + 5] === 1) p[o + 4] = sd > 1e-9 ? (p[o + 4]! - mean) / sd : 0;
      }
    }
    return { present, bad, misaligned, first, newest };
  }

  // Grows a series' field cache to hold `n` bars.
  private fit(c: SeriesCache, n: number): void {
    if (c.fields.length >= n * FIELDS) return;
    const f = new Float64Array(Math.max(n, c.fields.length / FIELDS * 2) * FIELDS);
    f.set(c.fields);
    c.fields = f;
  }

  // The pivots of series `si`, found again only when its walk changed: the same columns and order as packPivots.
  private pivotBlock(si: number): Float32Array {
    const pc = this.pivots;
    const c = this.series[si]!;
    if (pc.si === si && pc.gen === c.gen) {
      this.stats.pivotsReused++;
      return pc.block;
    }
    this.stats.pivotsBuilt++;
    if (!c.cols) runColumns(c, c.scan.first, c.scan.first + c.scan.present - 1);
    pc.si = si;
    pc.gen = c.gen;
    let n = 0;
    for (let t = 0; t < BDI_FRAMES; t++) {
      if (c.has[t] === 0) continue;
      pivotHigh[n] = c.high[t]!;
      pivotLow[n] = c.low[t]!;
      pivotSlots[n++] = t;
    }
    pc.block.fill(0);
    packPivotColumns(pivotHigh.subarray(0, n), pivotLow.subarray(0, n), pivotSlots.subarray(0, n), n, c.ref, pc.block, 0);
    return pc.block;
  }
}

const pivotHigh = new Float64Array(BDI_FRAMES);
const pivotLow = new Float64Array(BDI_FRAMES);
const pivotSlots = new Float64Array(BDI_FRAMES);

// The pivots' columns of a series whose visited bars, under `c.above` passed over, fill slots first..newest: a clean
// run, as a shift leaves it.
function runColumns(c: SeriesCache, first: number, newest: number): void {
  const f = c.fields;
  c.has.fill(0, 0, first);
  c.has.fill(1, first, newest + 1);
  c.has.fill(0, newest + 1);
  for (let t = newest, b = c.above * FIELDS; t >= first; t--, b += FIELDS) {
    c.high[t] = f[b + 2]!;
    c.low[t] = f[b + 3]!;
  }
  c.cols = true;
}

// Caches one bar's fields at `b` (the layout of SeriesCache.fields).
function writeFields(f: Float64Array, b: number, cd: Candle, flags: number): void {
  f[b] = cd.openTime;
  f[b + 1] = cd.open;
  f[b + 2] = cd.high;
  f[b + 3] = cd.low;
  f[b + 4] = cd.close;
  f[b + 5] = cd.volume;
  f[b + 6] = Math.log1p(cd.volume);
  f[b + 7] = flags;
}

// Zeroes the FEATURES_PER_SERIES columns from `col` of frames from..to−1 (a loop: a fill() call per frame costs more).
function zeroSlots(p: Float32Array, col: number, from: number, to: number): void {
  for (let o = from * SERIES_FEATURES + col, end = to * SERIES_FEATURES; o < end; o += SERIES_FEATURES) {
    for (let j = 0; j < FEATURES_PER_SERIES; j++) p[o + j] = 0;
  }
}

// True when the newest bars of `s` are exactly `visited` (newest first), by identity.
function sameVisited(s: CandleSource, visited: readonly Candle[]): boolean {
  const top = s.length - 1;
  for (let k = 0; k < visited.length; k++) if (s.get(top - k) !== visited[k]) return false;
  return true;
}

/** Returns a view of one section of a packed input. */
export function bdiSection(data: Float32Array, name: BdiSectionName): Float32Array {
  const s = BDI_SECTIONS[name];
  return data.subarray(s.offset, s.offset + s.length);
}

/** Returns the column of one feature of one series in the packed [frame, SERIES_FEATURES] block: frame t is at t·SERIES_FEATURES + column. */
export function bdiSeriesColumn(series: SeriesName, feature: SeriesFeature): number {
  return SERIES_NAMES.indexOf(series) * FEATURES_PER_SERIES + SERIES_FEATURE_NAMES.indexOf(feature);
}

/** Returns one feature of one series over the 300 frames (a copy, oldest frame first). */
export function bdiSeriesFeature(data: Float32Array, series: SeriesName, feature: SeriesFeature): Float32Array {
  const col = bdiSeriesColumn(series, feature);
  const out = new Float32Array(BDI_FRAMES);
  for (let t = 0; t < BDI_FRAMES; t++) out[t] = data[t * SERIES_FEATURES + col]!;
  return out;
}
