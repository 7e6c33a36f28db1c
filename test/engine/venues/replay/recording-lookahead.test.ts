// RecordingLookahead: when a symbol's recording falls silent for longer than its bound, said at its last line before
// the silence (so the replay cuts the candles before its clock moves into the hole). Review of the market-data
// candles (finding 1: a recorder stop without a marker made fake whole 1m bars).
import { describe, expect, it } from 'vitest';
import { RecordingLookahead, SILENCE_MS, TRADES_ONLY_SILENCE_MS, type Silence } from '../../../../engine/venues/replay/trade-ids.ts';

/** A recorded line for the look-ahead: receive time (ms), venue symbol, trade or not. */
type L = readonly [ts: number, symbol: string, trade: boolean];

/** Runs `lines` through a look-ahead the way the replay does; returns, per line taken, its silence (or undefined). */
function run(lines: readonly L[]): { taken: number[]; silences: (Silence | undefined)[] } {
  const ahead = new RecordingLookahead<number>();
  let i = 0;
  const taken: number[] = [];
  const silences: (Silence | undefined)[] = [];
  for (;;) {
    while (ahead.needsMore) {
      const l = lines[i];
      if (l === undefined) ahead.end();
      else ahead.push(i++, l[0], l[1], l[2] ? 1 : undefined);
    }
    if (!ahead.take()) break;
    taken.push(ahead.item!);
    silences.push(ahead.silence);
  }
  return { taken, silences };
}

/** Lines of `symbol` every `stepMs` from `from` to `to` (exclusive). */
const every = (symbol: string, from: number, to: number, stepMs: number, trade = false): L[] => {
  const out: L[] = [];
  for (let t = from; t < to; t += stepMs) out.push([t, symbol, trade]);
  return out;
};
const merged = (...ls: L[][]): L[] => ls.flat().sort((a, b) => a[0] - b[0]);
/** Index and silence of every line taken with a silence. */
const silent = (lines: readonly L[]) => {
  const r = run(lines);
  expect(r.taken).toEqual(lines.map((_, i) => i));
  return r.silences.flatMap((s, i) => (s ? [[i, s] as const] : []));
};

describe('RecordingLookahead', () => {
  it('finds no silence in a stream whose lines come closer than the bound, to its end', () => {
    expect(silent(every('A', 0, 60_000, SILENCE_MS - 1))).toEqual([]);
  });

  it('says a symbol falls silent at its last line before a gap longer than the bound, with the next line\'s time', () => {
    const lines = [...every('A', 0, 1_000, 100), ...every('A', 1_000 + 150_000, 1_000 + 151_000, 100)];
    expect(silent(lines)).toEqual([[9, { symbol: 'A', fromMs: 900, nextMs: 151_000, boundMs: SILENCE_MS }]]);
  });

  // Its next line is not read yet: the look-ahead reaches one line past the bound, here one of the other symbol.
  it('says it while another symbol goes on, as soon as that one passes the bound', () => {
    const lines = merged(every('A', 0, 1_000, 100), every('A', 20_000, 21_000, 100), every('B', 0, 21_000, 50));
    const found = silent(lines);
    expect(found.map(([i, s]) => [lines[i]![0], lines[i]![1], s.nextMs])).toEqual([[900, 'A', undefined]]);
  });

  it('says it for a symbol whose lines end while another symbol\'s go on past the bound', () => {
    const lines = merged(every('A', 0, 1_000, 100), every('B', 0, 10_000, 50));
    expect(silent(lines).map(([i, s]) => [lines[i]![0], s.symbol, s.nextMs])).toEqual([[900, 'A', undefined]]);
  });

  it('takes the end of the recording within the bound for no silence', () => {
    const lines = merged(every('A', 0, 1_000, 100), every('B', 0, 1_000 + SILENCE_MS - 100, 50));
    expect(silent(lines)).toEqual([]);
  });

  it('gives a symbol of trades alone the longer bound, and a symbol with any other frame the shorter one', () => {
    const gap = (SILENCE_MS + TRADES_ONLY_SILENCE_MS) / 2;
    const trades = [...every('A', 0, 1_000, 100, true), ...every('A', 900 + gap, 2_000 + gap, 100, true)];
    expect(silent(trades)).toEqual([]);
    const mixed = trades.map((l, i): L => (i === 3 ? [l[0], l[1], false] : l));
    expect(silent(mixed).map(([i, s]) => [i, s.boundMs])).toEqual([[9, SILENCE_MS]]);
    const long = [...every('A', 0, 1_000, 100, true), ...every('A', 1_000 + TRADES_ONLY_SILENCE_MS, 2_000 + TRADES_ONLY_SILENCE_MS, 100, true)];
    expect(silent(long).map(([i, s]) => [i, s.boundMs])).toEqual([[9, TRADES_ONLY_SILENCE_MS]]);
  });

  it('takes one line stamped far ahead of the lines after it for a bad timestamp, not a silence', () => {
    const lines = every('A', 0, 10_000, 100).map((l, i): L => (i === 40 ? [l[0] + 86_400_000, 'A', false] : l));
    expect(silent(lines)).toEqual([]);
  });

  // A trade a millisecond holds 10,000 lines in the look-ahead: its ring grows past its first size and wraps.
  it('hands out the lines in the order pushed and finds the silence after its ring grew', () => {
    const lines = [...every('A', 0, 60_000, 1, true), ...every('A', 80_000, 90_000, 1, true)];
    const r = run(lines);
    expect(r.taken.length).toBe(lines.length);
    expect(r.taken.every((v, i) => v === i)).toBe(true);
    expect(r.silences.flatMap((s, i) => (s ? [[i, s.nextMs]] : []))).toEqual([[59_999, 80_000]]);
  });

  // The replay reads each line's trade id once, on the way in: it must come back with its own line, across a grown ring.
  it('hands each line back with the trade id it was pushed with', () => {
    const ahead = new RecordingLookahead<number>();
    const got: [number, number | undefined][] = [];
    for (let i = 0; i < 3_000; i++) {
      ahead.push(i, i, 'A', i % 3 === 0 ? undefined : 1_000_000 + i);
      while (!ahead.needsMore && ahead.take()) got.push([ahead.item!, ahead.tradeId]);
    }
    ahead.end();
    while (ahead.take()) got.push([ahead.item!, ahead.tradeId]);
    expect(got).toEqual(Array.from({ length: 3_000 }, (_, i) => [i, i % 3 === 0 ? undefined : 1_000_000 + i]));
  });
});
