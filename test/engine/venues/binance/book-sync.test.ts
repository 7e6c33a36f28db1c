import { describe, expect, it } from 'vitest';
import type { DepthSnapshot } from '../../../../engine/messages/market.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { BookSync } from '../../../../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder } from '../../../../engine/venues/binance/frames.ts';
import type { DepthFrame } from '../../../../engine/venues/binance/parse-depth.ts';
import { replayBook } from '../../../../engine/venues/replay/book-replay.ts';
import { readRecordingLinesSync } from '../../../../engine/venues/replay/recording.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const fixture = (name: string) => new URL(`../../../fixtures/binance/${name}`, import.meta.url).pathname;

// The first 400 lines of the real BTC recording: diffs, the REST snapshot (line 8), bookTickers, trades.
const lines = readRecordingLinesSync(['data/recordings/spot_btcusdt_20240808.jsonl.gz']).slice(0, 400);
const dec = new BinanceFrameDecoder(BTC);
const snapshot = lines.map((l) => dec.decode(l)).find((m): m is DepthSnapshot => m.type === 'md.snapshot')!;
const diffs: DepthFrame[] = lines.filter((l) => l.text.includes('@depth')).map((l) => {
  const f = dec.decodeDepthFrame(l.text);
  if (typeof f === 'string') throw new Error(f);
  return f.clone();
});

/** Returns a snapshot of a live sync's book at its current update id (what a REST call would return). */
function snapshotOf(s: BookSync): DepthSnapshot {
  return { ...snapshot, lastUpdateId: s.lastUpdateId, bids: s.book.levels('bid', Infinity), asks: s.book.levels('ask', Infinity) };
}

/** Returns a sync that went live on the recorded snapshot, plus the index of the next diff to feed. */
function liveSync(requests: string[] = []): { sync: BookSync; next: number } {
  const sync = new BookSync('BTCUSDT', { requestSnapshot: (r) => requests.push(r) });
  let i = 0;
  // Buffer up to and including the first diff that reaches past the snapshot (the straddling one).
  do sync.onDepth(diffs[i]!); while (diffs[i++]!.finalUpdateId <= snapshot.lastUpdateId);
  expect(sync.onSnapshot(snapshot)).toBe('live');
  return { sync, next: i };
}

describe('BookSync (spot rules, real BTC frames)', () => {
  it('buffers diffs, asks for a snapshot once, drops what the snapshot covers and goes live on the straddling diff', () => {
    const requests: string[] = [];
    const sync = new BookSync('BTCUSDT', { requestSnapshot: (r) => requests.push(r) });
    for (const f of diffs.slice(0, 3)) expect(sync.onDepth(f)).toBe('buffered');
    expect([sync.state, requests.length]).toEqual(['syncing', 1]);
    expect(sync.onSnapshot(snapshot)).toBe('live');
    const straddling = diffs[2]!;
    expect(straddling.firstUpdateId).toBeLessThanOrEqual(snapshot.lastUpdateId + 1);
    expect([sync.state, sync.counters.droppedBeforeSnapshot, sync.counters.applied, sync.lastUpdateId])
      .toEqual(['live', 2, 1, straddling.finalUpdateId]);
    for (const f of diffs.slice(3)) expect(sync.onDepth(f)).toBe('applied');
    expect(sync.counters.gaps + sync.counters.crossed).toBe(0);
  });

  it('loads a snapshot newer than every buffered diff and goes live on the next diff that straddles it', () => {
    const { sync: ref, next } = liveSync();
    for (let i = next; i < 10; i++) ref.onDepth(diffs[i]!);
    const sync = new BookSync('BTCUSDT');
    for (let i = 0; i < 10; i++) sync.onDepth(diffs[i]!);
    expect(sync.onSnapshot(snapshotOf(ref))).toBe('loaded');
    expect(sync.onDepth(diffs[10]!)).toBe('applied');
    expect(sync.state).toBe('live');
  });

  it('skips a repeated diff as a duplicate, not a gap', () => {
    const { sync, next } = liveSync();
    sync.onDepth(diffs[next]!);
    expect(sync.onDepth(diffs[next]!)).toBe('duplicate');
    expect(sync.onDepth(diffs[next + 1]!)).toBe('applied');
    expect([sync.counters.duplicates, sync.counters.gaps, sync.state]).toEqual([1, 0, 'live']);
  });

  it('reports a missing diff as a gap, drops the book, asks for a snapshot and re-syncs to the reference', () => {
    const requests: string[] = [];
    const { sync, next } = liveSync(requests);
    const { sync: ref } = liveSync();
    for (let i = next; i < next + 5; i++) sync.onDepth(diffs[i]!);
    expect(sync.onDepth(diffs[next + 6]!)).toBe('gap'); // next + 5 lost
    expect([sync.state, sync.counters.gaps, sync.counters.resyncs, sync.book.size('bid'), requests.length])
      .toEqual(['resyncing', 1, 1, 0, 2]);
    expect(sync.top()).toBeUndefined();
    for (let i = next; i < next + 8; i++) ref.onDepth(diffs[i]!);
    sync.onDepth(diffs[next + 7]!);
    expect(sync.onSnapshot(snapshotOf(ref))).toBe('loaded');
    for (let i = next + 8; i < next + 12; i++) {
      sync.onDepth(diffs[i]!);
      ref.onDepth(diffs[i]!);
    }
    expect(sync.state).toBe('live');
    expect(sync.book.levels('bid', Infinity)).toEqual(ref.book.levels('bid', Infinity));
    expect(sync.book.levels('ask', Infinity)).toEqual(ref.book.levels('ask', Infinity));
  });

  it('reports a snapshot older than the buffered diffs as stale and asks for another', () => {
    const requests: string[] = [];
    const sync = new BookSync('BTCUSDT', { requestSnapshot: (r) => requests.push(r) });
    for (const f of diffs.slice(10, 14)) sync.onDepth(f);
    expect(sync.onSnapshot(snapshot)).toBe('stale');
    expect([sync.state, sync.counters.staleSnapshots, requests.length, sync.book.size('bid')]).toEqual(['syncing', 1, 2, 0]);
  });

  it('treats a diff that crosses the book as an integrity failure: counts it and re-syncs', () => {
    const { sync, next } = liveSync();
    const f = diffs[next]!.clone();
    const ask = sync.book.bestAsk()!;
    f.bids = [ask + 5, 100, ...f.bids.slice(0, f.bidCount * 2)];
    f.bidCount++;
    expect(sync.onDepth(f)).toBe('crossed');
    expect([sync.counters.crossed, sync.state, sync.book.crossed(), sync.book.size('ask')]).toEqual([1, 'resyncing', false, 0]);
  });
});

describe('BookSync (USD-M futures rules, real futures levels)', () => {
  const [snapLine, diffLine] = readRecordingLinesSync([fixture('futures-btcusdt-depth.jsonl')]);
  const fdec = new BinanceFrameDecoder(BTC);
  const fsnap = fdec.decode(snapLine!) as DepthSnapshot;
  const fdiff = (fdec.decodeDepthFrame(diffLine!.text) as DepthFrame).clone();
  /** The real diff's levels under other ids (there are no contiguous real futures diffs bundled). */
  const relabel = (U: number, u: number, pu: number): DepthFrame => {
    const c = fdiff.clone();
    [c.firstUpdateId, c.finalUpdateId, c.prevFinalUpdateId] = [U, u, pu];
    return c;
  };

  it('detects that the real snapshot and the real diff are not contiguous (stale snapshot, nothing applied)', async () => {
    const r = await replayBook([fixture('futures-btcusdt-depth.jsonl')]);
    expect([r.rules, r.staleSnapshots, r.applied, r.state, r.crossed]).toEqual(['usdm', 1, 0, 'syncing', 0]);
  });

  it('follows the pu chain: U need not be previous u + 1, but pu must equal it', () => {
    // Relabelled: snapshot id inside the real diff's [U, u], as Binance's first-event rule U <= lastUpdateId <= u asks.
    const sync = new BookSync('BTCUSDT', { rules: 'auto' });
    expect(sync.onDepth(fdiff)).toBe('buffered');
    expect(sync.onSnapshot({ ...fsnap, lastUpdateId: fdiff.firstUpdateId + 100 })).toBe('live');
    expect(sync.syncRules).toBe('usdm');
    const u = fdiff.finalUpdateId;
    expect(sync.onDepth(relabel(u + 50, u + 90, u))).toBe('applied');
    expect(sync.onDepth(relabel(u + 95, u + 99, u + 90))).toBe('applied');
    expect(sync.onDepth(relabel(u + 120, u + 130, u + 100))).toBe('gap');
    expect([sync.counters.applied, sync.counters.gaps, sync.counters.crossed]).toEqual([3, 1, 0]);
  });

  it('keeps the diff whose u equals the snapshot id (futures drop only u < lastUpdateId)', () => {
    const sync = new BookSync('BTCUSDT', { rules: 'usdm' });
    sync.onDepth(fdiff);
    expect(sync.onSnapshot({ ...fsnap, lastUpdateId: fdiff.finalUpdateId })).toBe('live');
  });

  it('under spot rules the same futures chain is a gap (U != previous u + 1)', () => {
    const sync = new BookSync('BTCUSDT', { rules: 'spot' });
    sync.onDepth(fdiff);
    expect(sync.onSnapshot({ ...fsnap, lastUpdateId: fdiff.firstUpdateId + 100 })).toBe('live');
    expect(sync.onDepth(relabel(fdiff.finalUpdateId + 50, fdiff.finalUpdateId + 90, fdiff.finalUpdateId))).toBe('gap');
  });
});
