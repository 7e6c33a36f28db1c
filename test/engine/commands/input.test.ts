import { describe, expect, it } from 'vitest';
import { inputFromRecordings } from '../../../engine/commands/input.ts';
import { configSchema } from '../../../engine/config/schema.ts';
import { BDI_LENGTH } from '../../../engine/market/base-data-input.ts';

const FILES = ['btc', 'eth'].flatMap((s) => [`data/recordings/spot_${s}usdt_20240808.jsonl.gz`, `data/recordings/spot_${s}usdt_20240809.jsonl.gz`]);

describe('cobalt input', () => {
  it('replays both symbols through the DataProvider and the COB and assembles a complete BaseDataInput', async () => {
    const config = configSchema.parse({ data: { klinesDirs: ['data/klines'] } });
    const r = await inputFromRecordings(FILES, config);
    expect(r.time).toBe('2024-08-09T00:05:04.543Z');
    for (const s of ['ETH/USDT', 'BTC/USDT']) {
      expect(r.series[s]!['1s']).toBeGreaterThanOrEqual(600); // 23:54:15 → 00:05:04 from trades
      expect(r.series[s]!['1m']).toBe(1500);
      expect(r.series[s]!['1h']).toBe(1500);
      expect(r.series[s]!['1d']).toBe(637); // 2022-11-11 … 2024-08-08, the last one closed at midnight
    }
    expect(r.reasons).toEqual([]);
    expect(r.completeness).toBeCloseTo(1, 9);
    expect(r.canInfer).toBe(true);
    expect(r.frames).toEqual({ primary1s: 300, primary1m: 300, primary1h: 300, primary1d: 300, reference1s: 300 });
    expect(r.buckets).toMatchObject({ bucketSize: 1, range: 20, count: 41 });
    expect(r.buckets!.mid).toBeGreaterThan(2670);
    expect(r.buckets!.mid).toBeLessThan(2685);
    expect(Object.keys(r.imbalanceMA!)).toEqual(['1s', '5s', '15s', '60s']);
    expect(Object.values(r.imbalanceMA!).every((x) => x !== null && Math.abs(x) <= 1)).toBe(true);
    expect(Object.keys(r.pivots)).toEqual(['1', '2', '3', '4', '5']);
    expect(r.pivots['1']!).toBeGreaterThan(r.pivots['2']!);
    expect(r.featureLength).toBe(BDI_LENGTH);
    expect(r.replay.malformed).toBe(0);
    expect(r.backfilledBars).toBeGreaterThan(0);
  });
});
