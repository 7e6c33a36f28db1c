import { describe, expect, it } from 'vitest';
import { candlesFromRecordings } from '../../../engine/commands/candles.ts';
import { formatKlinesCsv, loadKlinesCsv } from '../../../engine/market/klines-csv.ts';

const REC = 'data/recordings';
const files = (s: string) => [`${REC}/spot_${s}usdt_20240808.jsonl.gz`, `${REC}/spot_${s}usdt_20240809.jsonl.gz`];
// 23:55 to 00:04 UTC: the full minutes inside the recording (it runs 23:54:13 → 00:05:04).
const FIRST_FULL = Date.UTC(2024, 7, 8, 23, 55);
const LAST_FULL = Date.UTC(2024, 7, 9, 0, 4);

describe('cobalt candles', () => {
  it.each([
    ['btc', 'BTC/USDT', 'data/klines/mintanam-ftrade_BTC_USDT-1m.csv.gz'],
    ['eth', 'ETH/USDT', 'data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz'],
  ])('builds the 1m klines of %s from its trades, equal to the bundled kline rows on every full minute', async (s, symbol, csv) => {
    const r = await candlesFromRecordings(files(s), symbol, '1m');
    const klines = loadKlinesCsv(csv).candles.filter((c) => c.openTime >= FIRST_FULL && c.openTime <= LAST_FULL);
    const rows = (text: string) => text.trim().split('\n').slice(1);
    expect(r.candles.map((c) => c.openTime)).toEqual(klines.map((c) => c.openTime));
    expect(r.candles).toHaveLength(10);
    // Text equality: same decimal strings as the bundled file prints them, volume summed exactly.
    expect(rows(formatKlinesCsv(r.candles))).toEqual(rows(formatKlinesCsv(klines)));
    // The partial first minute (23:54) and the partial hour (23:00) were left out, not printed wrong.
    expect(r.partialRollups).toBeGreaterThanOrEqual(1);
    expect(r.replay.malformed).toBe(0);
  });

  it('builds 1s bars with no missing second once trading started, from both days in order', async () => {
    const r = await candlesFromRecordings([...files('btc'), ...files('eth')], 'BTCUSDT', '1s');
    const t = r.candles.map((c) => c.openTime);
    expect(t.length).toBeGreaterThan(600);
    expect(t.every((x, i) => i === 0 || x - t[i - 1]! === 1_000)).toBe(true);
    expect(r.candles.every((c) => c.low <= Math.min(c.open, c.close) && c.high >= Math.max(c.open, c.close))).toBe(true);
  });
});
