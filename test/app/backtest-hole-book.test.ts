// Backtest review bt20, finding 2: after a recorder stop the trades and bookTicker came back before the first depth
// diff, and until that diff showed the update-id gap the book from before the stop counted as live: an exit filled
// against a book as old as the hole, and the summary said the book was down for a few hundred ms over a 20 s hole.
// The backtest finds the hole before its clock enters it (the symbol falls silent) and drops the book there, as a live
// reconnect does; the recording's next snapshot brings it back, and the hole counts as down time. (Only because the
// depth lost updates across it: a stall that lost nothing keeps the book, test/app/backtest-stall-book.test.ts.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import { readRecordingLinesSync, type RecordedLine } from '../../engine/venues/replay/recording.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-hole-book-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The recorder stops at 00:02:00 for 20 s; on reconnect ETH's depth stream is back 1 s after its trades and bookTicker. */
const HOLE_FROM = Date.UTC(2024, 7, 9, 0, 2, 0);
const HOLE_TO = HOLE_FROM + 20_000;
const DEPTH_BACK = HOLE_TO + 1_000;

const ms = (l: RecordedLine): number => Number(l.tsLocalNs / 1_000_000n);
const isDepth = (l: RecordedLine): boolean => l.text.includes('@depth');
const isSnapshot = (l: RecordedLine): boolean => l.text.startsWith('{"lastUpdateId"');

interface Diff { U: number; u: number; b: [string, string][]; a: [string, string][] }
const diffOf = (l: RecordedLine): Diff => (JSON.parse(l.text) as { data: Diff }).data;

/**
 * Returns the REST snapshot text of the ETH book just before the diff with first update id `firstU`, rebuilt from the
 * whole recording (its one snapshot and every diff after it), as a reconnecting recorder fetches it.
 */
function snapshotBefore(whole: readonly RecordedLine[], firstU: number): string {
  const bids = new Map<string, string>();
  const asks = new Map<string, string>();
  let last = -1;
  for (const l of whole) {
    if (isSnapshot(l) && last < 0) {
      const s = JSON.parse(l.text) as { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] };
      for (const [p, q] of s.bids) bids.set(p, q);
      for (const [p, q] of s.asks) asks.set(p, q);
      last = s.lastUpdateId;
      continue;
    }
    if (last < 0 || !isDepth(l)) continue;
    const d = diffOf(l);
    if (d.u <= last) continue;
    if (d.U >= firstU) break;
    if (d.U > last + 1) throw new Error(`the recording's depth chain breaks after ${last} (next U ${d.U})`);
    for (const [side, levels] of [[bids, d.b], [asks, d.a]] as const) {
      for (const [p, q] of levels) {
        if (Number(q) === 0) side.delete(p);
        else side.set(p, q);
      }
    }
    last = d.u;
  }
  if (last !== firstU - 1) throw new Error(`no diff ends at ${firstU - 1} before the reconnect`);
  const sorted = (m: Map<string, string>, dir: 1 | -1) => [...m].sort((x, y) => dir * (Number(x[0]) - Number(y[0]))).slice(0, 5_000);
  return JSON.stringify({ lastUpdateId: last, bids: sorted(bids, -1), asks: sorted(asks, 1) });
}

/**
 * ETH's lines of 2024-08-09 with the hole cut out, and its depth diffs received in the second after it held back to
 * DEPTH_BACK, the first of them followed by the REST snapshot the recorder took on reconnecting.
 */
function reconnectedEth(day1: string, day2: string): RecordedLine[] {
  const kept = readRecordingLinesSync([day2]).filter((l) => ms(l) < HOLE_FROM || ms(l) >= HOLE_TO);
  const held = kept.filter((l) => isDepth(l) && ms(l) < DEPTH_BACK && ms(l) >= HOLE_TO);
  const rest = kept.filter((l) => !(isDepth(l) && ms(l) < DEPTH_BACK && ms(l) >= HOLE_TO));
  const at = BigInt(DEPTH_BACK) * 1_000_000n;
  const snapshot = { tsLocalNs: at, text: snapshotBefore(readRecordingLinesSync([day1, day2]), diffOf(held[0]!).U) };
  const back = held.map((l) => ({ tsLocalNs: at, text: l.text }));
  const i = rest.findIndex((l) => ms(l) >= DEPTH_BACK);
  return [...rest.slice(0, i), back[0]!, snapshot, ...back.slice(1), ...rest.slice(i)];
}

/** The bundled recordings with the hole in both symbols' files of 2024-08-09 (BTC's lost the same 20 s). */
function holeFiles(): string[] {
  return ['eth', 'btc'].flatMap((sym) => {
    const day1 = `data/recordings/spot_${sym}usdt_20240808.jsonl.gz`;
    const day2 = `data/recordings/spot_${sym}usdt_20240809.jsonl.gz`;
    const lines = sym === 'eth' ? reconnectedEth(day1, day2) : readRecordingLinesSync([day2]).filter((l) => ms(l) < HOLE_FROM || ms(l) >= HOLE_TO);
    const file = join(dir, `spot_${sym}usdt_20240809.jsonl.gz`);
    writeFileSync(file, gzipSync(`${lines.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n`));
    return [day1, file];
  });
}

describe('a backtest over a recorder stop whose depth stream comes back last', () => {
  const files = holeFiles();

  it.each([['catalog', true], ['text', false]] as const)('trades nothing on the book from before the stop and counts the stop as down time (%s source)', async (_, catalog) => {
    const first = Math.min(...files.map((f) => ms(readRecordingLinesSync([f])[0]!)));
    // Every decision a buy, with exits 2 and 3 bps away: the first prints after the stop (2.3 USDT above the last ones
    // before it) trigger an exit.
    const config = testConfig({
      data: { replayFiles: files, catalogDir: join(dir, 'catalog') },
      orchestrator: { buyThreshold: 0.01, sellThreshold: 0.99, minConfidence: 0 },
      risk: { maxOrderNotional: '1000', maxPositionNotional: '5000', maxDrawdownPct: 10, stopLossPct: 0.02, takeProfitPct: 0.03 },
    });
    let tradesBeforeDepth = 0;
    const onLiveBook: number[] = [];
    const submitted: number[] = [];
    const r = await runBacktest(config, {
      seed: 42, catalog, maxSpanMs: DEPTH_BACK + 10_000 - first,
      onSystem: (s) => {
        s.bus.subscribe('md.trade', (m) => {
          const t = s.clock.now();
          if (m.symbol !== 'ETH/USDT' || t < HOLE_TO || t >= DEPTH_BACK) return;
          tradesBeforeDepth++;
          if (s.books!.isLive('ETH/USDT')) onLiveBook.push(t);
        });
        s.bus.subscribe('exec.orderSubmitted', (m) => void submitted.push(m.ts));
      },
    });
    const s = r.summary;

    expect(s.silences).toBe(2);
    expect(tradesBeforeDepth).toBeGreaterThan(0);
    expect(onLiveBook).toEqual([]);
    // An exit went out before the depth came back, and waited for it.
    expect(submitted.filter((t) => t >= HOLE_TO && t < DEPTH_BACK).length).toBeGreaterThan(0);
    expect(r.fills.filter((f) => f.ts >= HOLE_FROM && f.ts < DEPTH_BACK)).toEqual([]);
    expect(r.fills.filter((f) => f.ts >= DEPTH_BACK).length).toBeGreaterThan(0);
    // Down from ETH's last line before the stop (47 ms before it) to the snapshot, plus the wait for the first one.
    expect(s.bookDownMs).toBeGreaterThanOrEqual(DEPTH_BACK - HOLE_FROM);
    expect(s.bookDownMs).toBeLessThan(DEPTH_BACK - HOLE_FROM + 1_000);
    expect(s.bookDownAtEnd).toBe(false);
    expect(s.bookLastDownReason).toMatch(/no line of ETHUSDT after .*a hole in the recording/);
  }, 180_000);
});
