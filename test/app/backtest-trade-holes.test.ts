// A hole in a recording's trade ids (a recorder reconnect leaves no other marker) cuts the backtest's candles there,
// as it does in the replayed daemon (engine/venues/replay/trade-ids.ts), whether the lines come from the replay catalog
// or the text. The bundled recording has none, so its backtests do not change.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import type { Candle } from '../../engine/messages/market.ts';
import { readRecordingLinesSync } from '../../engine/venues/replay/recording.ts';
import { testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-trade-holes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (m: number, s = 0) => Date.UTC(2024, 7, 8, 23, m, s);

/** The ETH recording of 2024-08-08 with 5 s of lines (every stream, as over a reconnect) cut out at 23:56:19. */
function holeFile(): string {
  const lines = readRecordingLinesSync(['data/recordings/spot_ethusdt_20240808.jsonl.gz']);
  const ms = (ns: bigint) => Number(ns / 1_000_000n);
  const kept = lines.filter((l) => ms(l.tsLocalNs) < at(56, 19) || ms(l.tsLocalNs) >= at(56, 24));
  const file = join(dir, 'eth-hole.jsonl');
  writeFileSync(file, `${kept.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n`);
  return file;
}

describe('a backtest over a hole in the trade ids', () => {
  const file = holeFile();
  it.each([['catalog', true], ['text', false]] as const)('from the %s: counts it and leaves out the minute it falls in', async (_, catalog) => {
    const config = testConfig({ data: { replayFiles: [file], catalogDir: join(dir, 'catalog') } });
    const minutes: Candle[] = [];
    const r = await runBacktest(config, {
      seed: 1, catalog,
      onSystem: (s) => void s.bus.subscribe('md.candle', (m) => {
        if (m.timeframe === '1m' && m.symbol === 'ETH/USDT') minutes.push(m.candle);
      }),
    });
    expect(r.summary.tradeIdGaps).toBe(1);
    const opens = minutes.filter((c) => c.closed).map((c) => c.openTime);
    expect(opens).toContain(at(55));
    expect(opens).toContain(at(57));
    expect(opens).not.toContain(at(56));
  }, 60_000);

  it('finds none in the bundled recording', async () => {
    const r = await runBacktest(testConfig(), { seed: 1, maxSpanMs: 120_000 });
    expect(r.summary.tradeIdGaps).toBe(0);
  }, 60_000);
});
