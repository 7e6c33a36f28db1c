import { beforeAll, describe, expect, it } from 'vitest';
import {
  assembleBaseDataInput, BdiAssembler, BDI_FRAMES, BDI_LENGTH, BDI_SECTIONS, BDI_TAIL_OFFSET, bdiSection, bdiSeriesFeature,
  CNN_HIDDEN_SIZE, SERIES_FEATURES, validateBaseDataInput, type BdiSources, type CandleSource,
} from '../../../engine/market/base-data-input.ts';
import { CandleBuilder, CandleSeries } from '../../../engine/market/candles.ts';
import { ConsolidatedBook, type CobSnapshot } from '../../../engine/market/cob.ts';
import { loadKlinesCsv } from '../../../engine/market/klines-csv.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import { williamsPivots } from '../../../engine/market/pivots.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import type { ModelOutput } from '../../../engine/messages/signals.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { BookSync } from '../../../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder } from '../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';

const REC = 'data/recordings';
const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const btc = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

/** Real inputs at the end of the recording (2024-08-09 00:05:04 UTC): 1s from trades, 1m/1h/1d from klines, COB from depth. */
interface World { now: number; primary: Record<Timeframe, Candle[]>; ref1s: Candle[]; cob: CobSnapshot }
let world: World;

function series(tf: Timeframe, bars: readonly Candle[]): CandleSeries {
  const s = new CandleSeries(tf);
  s.pushAll(bars);
  return s;
}

function sourcesOf(w: World, edit: Partial<Record<Timeframe | 'ref1s', Candle[]>> = {}, cob: CobSnapshot | null = w.cob): BdiSources {
  const p = (tf: Timeframe) => series(tf, edit[tf] ?? w.primary[tf]);
  return {
    now: w.now,
    primary: { '1s': p('1s'), '1m': p('1m'), '1h': p('1h'), '1d': p('1d') },
    reference1s: series('1s', edit.ref1s ?? w.ref1s),
    cob: cob ?? undefined,
    models: { cnn: CNN, dqn: DQN },
  };
}

const hidden = Float32Array.from({ length: CNN_HIDDEN_SIZE }, (_, i) => i / 32 - 0.5);
const CNN: ModelOutput = { model: 'cnn', version: '1', symbol: 'ETH/USDT', ts: 0, action: 'SELL', probabilities: [0.25, 0.5, 0.25], confidence: 0.5, hidden };
const DQN: ModelOutput = { model: 'dqn', version: '1', symbol: 'ETH/USDT', ts: 0, action: 'BUY', probabilities: [0.75, 0.125, 0.125], confidence: 0.625 };

beforeAll(() => {
  const build = (sym: 'eth' | 'btc', inst: typeof eth, withBook: boolean) => {
    const dec = new BinanceFrameDecoder(inst);
    const b = new CandleBuilder({ timeframe: '1s', tickSize: inst.tickSize, lotSize: inst.lotSize });
    const bars: Candle[] = [];
    let last = 0;
    const sync = new BookSync(inst.venueSymbol, { rules: 'spot' });
    const cob = new ConsolidatedBook({ symbol: inst.symbol, bucketSize: '1' });
    cob.addVenue({ venue: 'binance', book: sync.book, tickSize: inst.tickSize, lotSize: inst.lotSize });
    for (const line of readRecordingLinesSync([`${REC}/spot_${sym}usdt_20240808.jsonl.gz`, `${REC}/spot_${sym}usdt_20240809.jsonl.gz`])) {
      if (line.text.includes('bookTicker') || (!withBook && !line.text.includes('@trade'))) continue;
      const m = dec.decode(line);
      if (m.type === 'md.trade') {
        bars.push(...b.addTrade(m));
        last = Math.max(last, m.tsExchange);
      } else if (m.type === 'md.snapshot') sync.onSnapshot(m);
      else if (m.type === 'md.depth' && sync.onDiff(m) === 'applied') {
        cob.touch('binance', m.tsExchange);
        if (sync.counters.applied % 10 === 0) cob.update(m.tsExchange); // about once a second keeps the test fast
      }
    }
    return { b, bars, last, cob };
  };
  const e = build('eth', eth, true);
  const r = build('btc', btc, false);
  const now = Math.max(e.last, r.last) + 1; // 2024-08-09 00:05:04.x
  e.bars.push(...e.b.closeUntil(now));
  r.bars.push(...r.b.closeUntil(now));
  const closed = (bars: Candle[], tfMs: number) => bars.filter((c) => c.openTime + tfMs <= now);
  world = {
    now,
    primary: {
      '1s': e.bars,
      '1m': closed(loadKlinesCsv('data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz').candles, 60_000),
      '1h': closed(loadKlinesCsv('data/klines/moudux1-ft_userdata_ETH_USDT-1h.csv.gz').candles, 3_600_000),
      '1d': closed(loadKlinesCsv('data/klines/rocketalerts_ETHUSDT_1d.csv.gz').candles, 86_400_000),
    },
    ref1s: r.bars,
    cob: e.cob.update(now),
  };
});

describe('BaseDataInput layout', () => {
  it('exports a [300, 30] series block followed by the flat tail', () => {
    expect([BDI_FRAMES, SERIES_FEATURES, BDI_TAIL_OFFSET, BDI_LENGTH]).toEqual([300, 30, 9_000, 9_190]);
    expect(BDI_SECTIONS.series).toEqual({ offset: 0, shape: [300, 30], length: 9_000 });
    expect(BDI_SECTIONS.quality.offset + 3).toBe(BDI_LENGTH);
  });

  it('packs real data and reads every section back through the feature map', () => {
    const src = sourcesOf(world);
    const { data, validation } = assembleBaseDataInput(src);
    expect(validation.reasons).toEqual([]);
    expect(validation).toMatchObject({ completeness: 1, canInfer: true, message: '' });
    expect(validation.quality).toEqual({ completeness: 1, freshness: 1, consistency: 1 });
    expect(data.length).toBe(BDI_LENGTH);

    // Series: frame 299 is the newest bar; OHLC relative to the newest close; volume log1p z-scored.
    for (const [name, bars] of [['primary1s', world.primary['1s']], ['primary1m', world.primary['1m']], ['primary1h', world.primary['1h']],
      ['primary1d', world.primary['1d']], ['reference1s', world.ref1s]] as const) {
      const win = bars.slice(-300);
      const ref = win.at(-1)!.close;
      expect(Array.from(bdiSeriesFeature(data, name, 'present'))).toEqual(new Array(300).fill(1));
      expect(Array.from(bdiSeriesFeature(data, name, 'close'))).toEqual(win.map((c) => Math.fround(c.close / ref - 1)));
      expect(Array.from(bdiSeriesFeature(data, name, 'low'))).toEqual(win.map((c) => Math.fround(c.low / ref - 1)));
      const lv = win.map((c) => Math.log1p(c.volume));
      const mean = lv.reduce((a, b) => a + b, 0) / 300;
      const sd = Math.sqrt(lv.reduce((a, b) => a + (b - mean) ** 2, 0) / 300);
      const vol = bdiSeriesFeature(data, name, 'volume');
      lv.forEach((v, t) => expect(vol[t]).toBeCloseTo((v - mean) / sd, 4));
    }

    // COB: bucket shares of the total volume in ±20, then the scalars.
    const cob = world.cob;
    const total = Array.from(cob.bidBuckets).reduce((a, b) => a + b, 0) + Array.from(cob.askBuckets).reduce((a, b) => a + b, 0);
    expect(Array.from(bdiSection(data, 'cobBid'))).toEqual(Array.from(cob.bidBuckets, (v) => Math.fround(v / total)));
    expect(Array.from(bdiSection(data, 'cobAsk'))).toEqual(Array.from(cob.askBuckets, (v) => Math.fround(v / total)));
    const lastClose = world.primary['1s'].at(-1)!.close;
    expect(Array.from(bdiSection(data, 'cobStats'))).toEqual([1, cob.mid / lastClose - 1, cob.spreadBps, cob.imbalance,
      cob.imbalanceNear, ...cob.imbalanceMa, Math.log1p(total)].map(Math.fround));

    // Pivots of the last 300 1m bars, level by level.
    const m1 = world.primary['1m'].slice(-300);
    const levels = williamsPivots(m1);
    const piv = bdiSection(data, 'pivots');
    levels.forEach((lv, i) => {
      const row = Array.from(piv.subarray(i * 10, i * 10 + 10));
      const ref = m1.at(-1)!.close;
      const trend = lv.trend === 'up' ? 1 : lv.trend === 'down' ? -1 : 0;
      expect(row.slice(0, 2)).toEqual([trend, lv.trend === 'unknown' ? 0 : 1]);
      const h = lv.highs.at(-1);
      expect(row.slice(2, 5)).toEqual(h ? [1, Math.fround(h.price / ref - 1), Math.fround((299 - h.index) / 300)] : [0, 0, 0]);
      const l = lv.lows.at(-1);
      expect(row.slice(6, 9)).toEqual(l ? [1, Math.fround(l.price / ref - 1), Math.fround((299 - l.index) / 300)] : [0, 0, 0]);
    });
    expect(levels[0]!.highs.length).toBeGreaterThan(10);

    // Model slots, hidden state and quality.
    const ageMin = Math.fround(Math.min(10, world.now / 60_000));
    expect(Array.from(bdiSection(data, 'models'))).toEqual([1, 0.25, 0.5, 0.25, 0.5, ageMin, 1, 0.75, 0.125, 0.125, 0.625, ageMin]);
    expect(Array.from(bdiSection(data, 'cnnHidden'))).toEqual([1, ...hidden]);
    expect(Array.from(bdiSection(data, 'quality'))).toEqual([1, 1, 1]);
  });

  it('reuses a caller buffer and refuses one of the wrong size', () => {
    const buf = new Float32Array(BDI_LENGTH).fill(7);
    const a = assembleBaseDataInput({ ...sourcesOf(world), models: {} }, buf);
    expect(a.data).toBe(buf);
    expect(Array.from(bdiSection(buf, 'models')).every((v) => v === 0)).toBe(true);
    expect(() => assembleBaseDataInput(sourcesOf(world), new Float32Array(10))).toThrow(/needs 9190/);
  });
});

describe('BaseDataInput validation', () => {
  it('counts holes in a series, names them and leaves those frames empty', () => {
    const m1 = world.primary['1m'].slice();
    m1.splice(-50, 3);
    const v = validateBaseDataInput(sourcesOf(world, { '1m': m1 }));
    expect(v.reasons).toEqual(['ETH/USDT 1m series has 3 holes']);
    expect(v.completeness).toBeCloseTo(1 - 3 / 300 / 6, 12);
    expect(v.canInfer).toBe(true);
    const { data } = assembleBaseDataInput(sourcesOf(world, { '1m': m1 }));
    const present = bdiSeriesFeature(data, 'primary1m', 'present');
    // The removed bars sat in slots 250..252 (the 50th to 48th newest).
    expect(Array.from(present.subarray(249, 254))).toEqual([1, 0, 0, 0, 1]);
    expect(Array.from(present).filter((x) => x === 0).length).toBe(3);
  });

  it('names a stale venue and lowers completeness by its share of the COB', () => {
    const b = new OrderBook('ETHUSDT');
    b.set('bid', 267_000 as Ticks, 10_000 as Lots);
    b.set('ask', 267_001 as Ticks, 10_000 as Lots);
    const cob = new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1' });
    cob.addVenue({ venue: 'binance', book: b, tickSize: eth.tickSize, lotSize: eth.lotSize });
    cob.touch('binance', world.now - 12_300);
    const v = validateBaseDataInput(sourcesOf(world, {}, cob.update(world.now)));
    expect(v.reasons).toContain('venue binance stale for 12.3 s');
    expect(v.reasons).toContain('COB has no live venue');
    expect(v.completeness).toBeCloseTo(5 / 6, 12);
    expect(v.canInfer).toBe(true); // 0.83 ≥ 0.8: the COB alone does not block inference
  });

  it('names an empty book side', () => {
    const b = new OrderBook('ETHUSDT');
    b.set('bid', 267_000 as Ticks, 10_000 as Lots);
    const cob = new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1' });
    cob.addVenue({ venue: 'binance', book: b, tickSize: eth.tickSize, lotSize: eth.lotSize });
    cob.touch('binance', world.now);
    const snap = cob.update(world.now);
    const v = validateBaseDataInput(sourcesOf(world, {}, snap));
    expect(v.reasons).toEqual(['COB ask side empty']);
    expect(v.completeness).toBeCloseTo(1 - 0.5 / 6, 12);
    const { data } = assembleBaseDataInput(sourcesOf(world, {}, snap));
    expect(bdiSection(data, 'cobStats')[1]).toBe(0); // no mid: midRel left at 0
  });

  it('refuses inference under 100 frames, naming the series', () => {
    const v = validateBaseDataInput(sourcesOf(world, { '1h': world.primary['1h'].slice(-87) }));
    expect(v.canInfer).toBe(false);
    expect(v.reasons).toEqual(['ETH/USDT 1h series has 87 frames, needs 100']);
    expect(v.message).toBe('cannot infer: ETH/USDT 1h series has 87 frames, needs 100');
    expect(validateBaseDataInput(sourcesOf(world, { '1h': world.primary['1h'].slice(-150) })).reasons)
      .toEqual(['ETH/USDT 1h series has 150 of 300 frames of history']);
  });

  it('refuses inference below 0.8 completeness and survives having nothing at all', () => {
    const none = assembleBaseDataInput(sourcesOf({ ...world, primary: { '1s': [], '1m': [], '1h': [], '1d': [] }, ref1s: [] }, {}, null));
    expect(none.validation.completeness).toBe(0);
    expect(none.validation.canInfer).toBe(false);
    expect(none.validation.message).toMatch(/^cannot infer: completeness 0\.00 < 0\.8; ETH\/USDT 1s series has 0 frames, needs 100; /);
    expect(none.validation.reasons).toContain('COB snapshot absent');
    expect(Array.from(bdiSection(none.data, 'series')).every((x) => x === 0)).toBe(true);
  });

  it('lowers consistency for malformed bars, a late series and a COB far from the price', () => {
    const s1 = world.primary['1s'].slice();
    s1[s1.length - 10] = { ...s1[s1.length - 10]!, high: 1 }; // high below low
    const late = world.ref1s.slice(0, -20);
    const far = { ...world.cob, mid: world.cob.mid * 1.05 };
    const v = validateBaseDataInput(sourcesOf(world, { '1s': s1, ref1s: late }, far));
    expect(v.reasons).toContain('ETH/USDT 1s series has 1 malformed bar');
    expect(v.reasons.some((r) => /^BTC\/USDT 1s series is 2\d\.\d s behind$/.test(r))).toBe(true);
    expect(v.reasons.some((r) => /^COB mid .* is 5\.0% from the last 1s close/.test(r))).toBe(true);
    expect(v.reasons.some((r) => r.startsWith('BTC/USDT 1s ends at'))).toBe(true);
    expect(v.quality.consistency).toBeCloseTo(9 / 12, 12);
    expect(v.quality.freshness).toBeCloseTo(5 / 6, 12);
  });
});

describe('BdiAssembler', () => {
  const bytes = (d: Float32Array): Buffer => Buffer.from(d.buffer, d.byteOffset, d.byteLength);

  it('equals a from-scratch assembly after every kind of series mutation, with and without bulk access', () => {
    const src = sourcesOf(world);
    const p1s = src.primary['1s'] as CandleSeries;
    const m1 = src.primary['1m'] as CandleSeries;
    // A source with neither version nor slots: the assembler falls back to per-bar reads and identity checks.
    const plain = (s: CandleSeries): CandleSource => ({ timeframe: s.timeframe, get length() { return s.length; }, get: (i) => s.get(i) });
    const plainSrc: BdiSources = { ...src, primary: { ...src.primary, '1m': plain(m1) }, reference1s: plain(src.reference1s as CandleSeries) };
    const asm = new BdiAssembler();
    const asmPlain = new BdiAssembler();
    let now = src.now;
    let checks = 0;
    const check = (what: string): void => {
      for (const [a, s] of [[asm, src], [asmPlain, plainSrc]] as const) {
        const at = { ...s, now };
        const inc = a.assemble(at);
        const scratch = assembleBaseDataInput(at);
        expect(bytes(inc.data).equals(bytes(scratch.data)), what).toBe(true);
        expect(inc.validation, what).toEqual(scratch.validation);
        checks++;
      }
    };
    check('first');
    check('unchanged');
    expect(asm.stats.seriesReused).toBe(5);
    const last = () => p1s.last()!;
    p1s.push({ ...last(), openTime: last().openTime + 1_000, close: last().close * 1.001, high: last().close * 1.002 });
    now += 1_000;
    check('new bar');
    p1s.push({ ...last(), close: last().close * 0.999, low: last().close * 0.998 }); // same open time: replaced
    check('newest replaced');
    expect(p1s.push({ ...last(), openTime: last().openTime - 5_000 })).toBe(false);
    check('refused bar');
    // Off the 1s grid, two bars a whole second apart: only the grid test (not the slot distance) tells.
    p1s.push({ ...last(), openTime: last().openTime + 1_500 });
    p1s.push({ ...last(), openTime: last().openTime + 1_000 });
    now += 2_000;
    check('misaligned bars');
    p1s.push({ ...last(), openTime: last().openTime + 500, low: last().high + 1 }); // malformed: low above high
    now += 1_000;
    check('malformed bar');
    p1s.push({ ...last(), openTime: last().openTime + 3_000 }); // a hole
    now += 3_000;
    check('hole');
    // Same candles again after a clear: a new version, the same bars.
    const all1m = m1.tail(m1.length);
    m1.clear();
    m1.pushAll(all1m);
    check('cleared and refilled');
    // One bar in the middle of the window replaced, length and both ends unchanged.
    const k = all1m.length - 150;
    m1.clear();
    m1.pushAll(all1m.map((c, i) => (i === k ? { ...c, high: c.high * 1.01, close: c.close * 1.005 } : c)));
    check('middle bar replaced');
    m1.clear();
    check('emptied');
    expect(checks).toBe(22);
  });

  it('shifts the window for clean appends and walks it again for a gap, a malformed bar or a dropped bar', () => {
    const bars = world.primary['1s'];
    const base = bars.slice(-400, -50);
    const next = bars.slice(-50);
    // A fresh 1s series of `from` bars in a ring of `capacity`, assembled once; then `edit` appends; `shifted` says
    // whether the rebuild took the shift (the other four series are unchanged and reused).
    const run = (what: string, from: Candle[], edit: (s: CandleSeries) => void, shifted: boolean, capacity?: number): void => {
      const s1 = new CandleSeries('1s', capacity);
      s1.pushAll(from);
      const src = sourcesOf(world);
      const at = (): BdiSources => ({ ...src, now: s1.last()!.openTime + 1_000, primary: { ...src.primary, '1s': s1 } });
      const asm = new BdiAssembler();
      asm.assemble(at());
      const before = asm.stats.seriesShifted;
      edit(s1);
      const inc = asm.assemble(at());
      const scratch = assembleBaseDataInput(at());
      expect(bytes(inc.data).equals(bytes(scratch.data)), what).toBe(true);
      expect(inc.validation, what).toEqual(scratch.validation);
      expect(asm.stats.seriesShifted - before, what).toBe(shifted ? 1 : 0);
    };
    const last = (s: CandleSeries): Candle => s.last()!;
    run('one bar', base, (s) => s.push(next[0]!), true);
    run('three bars at once', base, (s) => s.pushAll(next.slice(0, 3)), true);
    run('a short series', base.slice(-150), (s) => s.push(next[0]!), true);
    run('a full ring drops a bar the walk saw', base.slice(-BDI_FRAMES), (s) => s.push(next[0]!), false, BDI_FRAMES);
    run('a full ring drops an older bar', base, (s) => s.push(next[0]!), true, base.length);
    run('a gap', base, (s) => s.push({ ...next[0]!, openTime: last(s).openTime + 2_000 }), false);
    run('a malformed bar', base, (s) => s.push({ ...next[0]!, low: next[0]!.high + 1 }), false);
    run('a bar appended and the newest replaced', base, (s) => {
      s.push(next[0]!);
      s.push({ ...next[0]!, close: next[0]!.close * 1.001, high: next[0]!.close * 1.002 });
    }, false);
    // After a hole the window is not clean until the hole leaves it: appends walk again.
    run('an append behind a hole', [...base.slice(0, 100), ...base.slice(101)], (s) => s.push(next[0]!), false);
  });

  it('stays equal to a from-scratch assembly over 900 appends of real bars with a gap and a malformed bar among them', () => {
    // Shifts and walks take turns on one series' cached fields: a walk (after a gap or a malformed bar) starts from what
    // the shifts left, and shifts start again once the window is clean. Any slip shows as a byte or a count off.
    const bars = world.primary['1s'];
    const s1 = new CandleSeries('1s');
    s1.pushAll(bars.slice(-800, -450));
    const src = sourcesOf(world);
    const asm = new BdiAssembler();
    let shifted = 0;
    let walked = 0;
    // 900 ticks of the last 450 real bars (twice over, re-timed): 400 clean ones, a gap, clean again once it left the
    // window, a malformed bar; every fifth tick brings two bars.
    for (let i = 0; i < 900; i++) {
      const c = bars[bars.length - 450 + (i % 450)]!;
      const last = s1.last()!;
      const bar = i === 400 ? { ...c, openTime: last.openTime + 2_000 } : i === 760 ? { ...c, openTime: last.openTime + 1_000, low: c.high + 1 } : { ...c, openTime: last.openTime + 1_000 };
      s1.push(bar);
      if (i % 5 === 0) s1.push({ ...bar, openTime: bar.openTime + 1_000 }); // two bars between ticks
      const at: BdiSources = { ...src, now: s1.last()!.openTime + 1_000, primary: { ...src.primary, '1s': s1 } };
      const before = asm.stats.seriesShifted;
      const inc = asm.assemble(at);
      const scratch = assembleBaseDataInput(at);
      expect(bytes(inc.data).equals(bytes(scratch.data)), `append ${i}`).toBe(true);
      expect(inc.validation, `append ${i}`).toEqual(scratch.validation);
      if (asm.stats.seriesShifted > before) shifted++;
      else walked++;
    }
    // Clean appends shift; the gap and the malformed bar walk, and so does every append while one is in the window.
    expect({ shifted, walked }).toEqual({ shifted: 510, walked: 390 });
  });

  it('keeps the pivot section equal to a from-scratch one as 1m bars of mixed shapes arrive, replace the newest and jump', () => {
    // The assembler reads each 1m bar's high and low once and moves them down as the window slides; a bar kept at a
    // wrong place, or a replaced bar not read again, changes the pivots of some window of the real bars below.
    const bars = world.primary['1m'].slice(-900);
    const src = sourcesOf(world, { '1m': bars.slice(0, 300) });
    let m1 = src.primary['1m'] as CandleSeries;
    const asm = new BdiAssembler();
    const pivots = (s: BdiSources): Buffer => bytes(bdiSection(asm.assemble(s).data, 'pivots'));
    const scratch = (s: BdiSources): Buffer => bytes(bdiSection(assembleBaseDataInput(s).data, 'pivots'));
    let differing = 0;
    let last = pivots(src);
    for (let i = 300; i < bars.length; i++) {
      const c = bars[i]!;
      // Candles of three shapes, as the engine's series hold (history, roll-ups, venue klines).
      m1.push(i % 3 === 0 ? { ...c } : i % 3 === 1 ? { closed: true, volume: c.volume, close: c.close, low: c.low, high: c.high, open: c.open, openTime: c.openTime } : c);
      if (i % 101 === 0) for (let k = 0; k < 5 && i + 1 < bars.length; k++) m1.push(bars[++i]!); // several bars at once
      if (i % 250 === 0) m1 = series('1m', m1.tail(m1.length)); // another series with the same bars
      const check = (what: string): void => {
        const at: BdiSources = { ...src, primary: { ...src.primary, '1m': m1 } };
        const inc = pivots(at);
        expect(inc.equals(scratch(at)), `1m bar ${i}: ${what}`).toBe(true);
        if (!inc.equals(last)) differing++;
        last = inc;
      };
      check('new');
      if (i % 7 === 0) {
        // The newest bar replaced after the assembler has seen it, 50 above and below: a pivot once two bars confirm it.
        m1.push({ ...c, high: c.high + 50, low: c.low - 50 });
        check('newest replaced');
      }
    }
    // The windows' pivots really move (the comparison above is not between blocks of zeros).
    expect(differing).toBeGreaterThan(100);
    expect(asm.stats.pivotsBuilt).toBeGreaterThan(500);
  });
});
