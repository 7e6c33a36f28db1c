// Backtest review s20r4, finding 1: a silence in the recording dropped the symbol's books for good. A 4 s delivery
// stall that lost nothing (depth update ids and trade ids contiguous) was taken for a recorder stop: the books waited
// for a snapshot the recorder never wrote (it writes them only at start and after a reconnect), so nothing was decided
// or filled for the rest of the run. A silence breaks the books only when the symbol's next depth diff after it does
// not continue the update-id chain (test/app/backtest-hole-book.test.ts: a recorder stop still does).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import { readRecordingLinesSync } from '../../engine/venues/replay/recording.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-stall-book-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** ETH's lines received in [STALL_FROM, STALL_TO) come in one burst at STALL_TO, in order; nothing is lost. */
const STALL_FROM = Date.UTC(2024, 7, 9, 0, 2, 0);
const STALL_TO = STALL_FROM + 4_000;

/** The bundled recordings with ETH's file of 2024-08-09 stalled (mkstall.py of the review). */
function stallFiles(): string[] {
  const from = BigInt(STALL_FROM) * 1_000_000n;
  const to = BigInt(STALL_TO) * 1_000_000n;
  const eth = readRecordingLinesSync(['data/recordings/spot_ethusdt_20240809.jsonl.gz'])
    .map((l) => (l.tsLocalNs >= from && l.tsLocalNs < to ? { ...l, tsLocalNs: to } : l));
  const file = join(dir, 'spot_ethusdt_20240809.jsonl.gz');
  writeFileSync(file, gzipSync(`${eth.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n`));
  return ['data/recordings/spot_ethusdt_20240808.jsonl.gz', file, 'data/recordings/spot_btcusdt_20240808.jsonl.gz', 'data/recordings/spot_btcusdt_20240809.jsonl.gz'];
}

describe('a backtest over a delivery stall that lost nothing', () => {
  const files = stallFiles();
  const first = Math.min(...files.map((f) => Number(readRecordingLinesSync([f])[0]!.tsLocalNs / 1_000_000n)));

  it.each([['catalog', true], ['text', false]] as const)('keeps the book live and trading after the stall (%s source)', async (_, catalog) => {
    const config = testConfig({
      data: { replayFiles: files, catalogDir: join(dir, 'catalog') },
      orchestrator: { buyThreshold: 0.01, sellThreshold: 0.99, minConfidence: 0 },
      risk: { maxOrderNotional: '1000', maxPositionNotional: '5000', maxDrawdownPct: 10, stopLossPct: 0.02, takeProfitPct: 0.03 },
    });
    const decisionsAfter: number[] = [];
    const r = await runBacktest(config, {
      seed: 42, catalog, maxSpanMs: STALL_TO + 30_000 - first,
      onSystem: (s) => {
        s.bus.subscribe('signal.decision', () => {
          if (s.clock.now() > STALL_TO) decisionsAfter.push(s.clock.now());
        });
      },
    });
    const s = r.summary;

    expect(s.silences).toBe(1);
    expect(s.tradeIdGaps).toBe(0);
    expect(s.bookDownAtEnd).toBe(false);
    // Only the wait for the first snapshot at the start (about 300 ms), not the 30 s after the stall.
    expect(s.bookDownMs).toBeLessThan(2_000);
    expect(decisionsAfter.length).toBeGreaterThan(0);
    expect(r.fills.filter((f) => f.ts > STALL_TO).length).toBeGreaterThan(0);
  }, 180_000);
});
