// Fuzz: real BTC depth frames with 1-5% of them dropped, duplicated, reordered or corrupted (seeded), through the
// real decoder and BookSync. Snapshots for resyncs come from a reference sync fed the clean stream (a recording has
// no REST endpoint), delivered a few frames after the request, at the newest update the stream has reached.
import { seededRng as rng } from '../../../../engine/runtime/rng.ts';
import { describe, expect, it } from 'vitest';
import type { DepthSnapshot } from '../../../../engine/messages/market.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { BookSync } from '../../../../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder } from '../../../../engine/venues/binance/frames.ts';
import type { DepthFrame } from '../../../../engine/venues/binance/parse-depth.ts';
import { readRecordingLinesSync } from '../../../../engine/venues/replay/recording.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const lines = readRecordingLinesSync(['data/recordings/spot_btcusdt_20240808.jsonl.gz']);
const dec = new BinanceFrameDecoder(BTC);
const snapshot = dec.decode(lines.find((l) => l.text.startsWith('{"lastUpdateId"'))!) as DepthSnapshot;
// Frames after the snapshot (the first straddles it); 1,200 of them keep the test quick.
const clean = lines.filter((l) => l.text.includes('@depth')).map((l) => l.text)
  .filter((t) => Number(/"u":(\d+)/.exec(t)![1]) > snapshot.lastUpdateId).slice(0, 1200);
const uOf = clean.map((t) => Number(/"u":(\d+)/.exec(t)![1]));
const indexOfU = new Map(uOf.map((u, i) => [u, i]));

/** Ways to break a frame that no parser may accept (a changed digit would be a valid, different frame). */
const corruptions: ((t: string, r: () => number) => string)[] = [
  (t, r) => t.slice(0, 20 + Math.floor(r() * (t.length - 30))),
  (t) => t.replace(/\["\d+\.\d+"/, '["NaN"'),
  (t) => t.replace(/","(\d)/, '","-$1'),
  (t) => t.replace(/\["(\d+\.\d+)"/, '["$15"'), // one more non-zero digit: off the tick grid
  (t) => t.replace('"u":', '"u":"'),
];

interface Item { text: string; cleanIndex: number; corrupt: boolean }

function corruptStream(r: () => number, rate: number) {
  const out: Item[] = [];
  const injected = { drop: 0, duplicate: 0, reorder: 0, corrupt: 0 };
  for (let i = 0; i < clean.length; i++) {
    const item: Item = { text: clean[i]!, cleanIndex: i, corrupt: false };
    if (i === 0 || r() >= rate) {
      out.push(item);
      continue;
    }
    const k = Math.floor(r() * 4);
    if (k === 0) injected.drop++;
    else if (k === 1) {
      injected.duplicate++;
      out.push(item, item);
    } else if (k === 2 && i + 1 < clean.length) {
      injected.reorder++;
      out.push({ text: clean[i + 1]!, cleanIndex: i + 1, corrupt: false }, item);
      i++;
    } else {
      injected.corrupt++;
      out.push({ ...item, text: corruptions[Math.floor(r() * corruptions.length)]!(item.text, r), corrupt: true });
    }
  }
  return { items: out, injected };
}

function run(seed: number, rate: number) {
  const r = rng(seed);
  const { items, injected } = corruptStream(r, rate);
  // The reference: the clean stream, advanced on demand to clean index refIdx.
  const ref = new BookSync('BTCUSDT');
  ref.onSnapshot(snapshot);
  let refIdx = -1;
  const advanceRef = (to: number) => {
    for (; refIdx < to; ) {
      const f = dec.decodeDepthFrame(clean[++refIdx]!) as DepthFrame;
      ref.onDepth(f);
    }
  };
  let pendingDelay = -1;
  const sync = new BookSync('BTCUSDT', { requestSnapshot: () => { pendingDelay = Math.floor(r() * 4); } });
  sync.onSnapshot(snapshot);
  let maxFed = -1;
  let fullChecks = 0;
  let topChecks = 0;
  let wasLive = true;
  for (const it of items) {
    const f = dec.decodeDepthFrame(it.text);
    if (typeof f === 'string') {
      expect(it.corrupt).toBe(true);
      sync.onMalformed();
    } else {
      expect(it.corrupt).toBe(false);
      sync.onDepth(f);
      maxFed = Math.max(maxFed, it.cleanIndex);
    }
    if (pendingDelay >= 0 && pendingDelay-- === 0) {
      advanceRef(maxFed);
      sync.onSnapshot({ ...snapshot, lastUpdateId: ref.lastUpdateId, bids: ref.book.levels('bid', Infinity), asks: ref.book.levels('ask', Infinity) });
    }
    expect(sync.book.crossed()).toBe(false);
    if (sync.isLive()) {
      const k = indexOfU.get(sync.lastUpdateId)!;
      expect(refIdx).toBeLessThanOrEqual(k);
      advanceRef(k);
      // Right after a resync the whole book must match (a snapshot applied short of its deepest level shows only
      // there); while live, the top 20 levels keep the test quick.
      const full = !wasLive;
      const depth = full ? Infinity : 20;
      expect(sync.book.levels('bid', depth)).toEqual(ref.book.levels('bid', depth));
      expect(sync.book.levels('ask', depth)).toEqual(ref.book.levels('ask', depth));
      if (full) fullChecks++;
      else topChecks++;
    }
    wasLive = sync.isLive();
  }
  return { c: sync.counters, injected, fullChecks, topChecks };
}

describe('BookSync under a damaged real stream (seeded fuzz)', () => {
  it.each([
    [1, 0.01],
    [2, 0.03],
    [3, 0.05],
    [4, 0.05],
  ])('seed %i, %f of frames damaged: every break caught, never crossed, equal to the clean book whenever live', (seed, rate) => {
    const { c, injected, fullChecks, topChecks } = run(seed, rate);
    expect(injected.drop + injected.duplicate + injected.reorder + injected.corrupt).toBeGreaterThan(0);
    expect(c.malformed).toBe(injected.corrupt);
    expect(c.crossed).toBe(0);
    // A corrupt frame is a lost diff and a reorder or drop breaks the chain: each ends in a gap unless it fell
    // while already resyncing. Every resync came back (checked above: equal to the reference after each).
    expect(c.gaps).toBeGreaterThan(0);
    expect(c.gaps).toBeLessThanOrEqual(injected.drop + injected.reorder + injected.corrupt);
    expect(c.resyncs).toBe(c.gaps);
    expect(fullChecks).toBe(c.resyncs);
    expect(topChecks).toBeGreaterThan(clean.length / 2);
    if (injected.duplicate > 0) expect(c.duplicates + c.droppedBeforeSnapshot).toBeGreaterThan(0);
  });
});
