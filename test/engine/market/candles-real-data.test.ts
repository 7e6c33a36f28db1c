// Candles built from the bundled real Binance data must equal Binance's own klines exactly (data/README.md).
import { describe, expect, it } from 'vitest';
import { CandleBuilder, findHoles, rollUp } from '../../../engine/market/candles.ts';
import { loadKlinesCsv } from '../../../engine/market/klines-csv.ts';
import type { Candle, Trade } from '../../../engine/messages/market.ts';
import { BinanceFrameDecoder } from '../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';

const K = 'data/klines';
const REC = 'data/recordings';

/** Returns the recorded trades of both files, decoded by the engine's Binance decoder (tsExchange = trade time T). */
function recordedTrades(sym: 'btc' | 'eth', decoder: BinanceFrameDecoder): Trade[] {
  const lines = readRecordingLinesSync([`${REC}/spot_${sym}usdt_20240808.jsonl.gz`, `${REC}/spot_${sym}usdt_20240809.jsonl.gz`]);
  const out: Trade[] = [];
  for (const l of lines) {
    if (!l.text.includes('@trade"')) continue;
    const m = decoder.decode(l);
    if (m.type === 'md.trade') out.push(m);
  }
  return out;
}

const ohlcv = (c: Candle) => [c.openTime, c.open, c.high, c.low, c.close, c.volume];

describe.each([
  ['BTC', 'btc', 'BTC/USDT'],
  ['ETH', 'eth', 'ETH/USDT'],
] as const)('%s real data', (name, sym, unified) => {
  const m1 = loadKlinesCsv(`${K}/mintanam-ftrade_${name}_USDT-1m.csv.gz`, { strict: true }).candles;

  it('builds 1m bars from the recorded trades that equal the 1m klines on every full minute (10 of 10)', () => {
    const inst = makeInstrument(BINANCE_SPOT_DEFAULTS[unified]!);
    const trades = recordedTrades(sym, new BinanceFrameDecoder(inst));
    expect(trades.length).toBe(sym === 'btc' ? 19_904 : 14_515); // SOURCES.md trade counts
    const b = new CandleBuilder({ timeframe: '1m', tickSize: inst.tickSize, lotSize: inst.lotSize });
    const built: Candle[] = [];
    for (const t of trades) built.push(...b.addTrade(t));
    // The first bar (23:54) starts mid-minute and the forming one (00:05) never closes: only full minutes count.
    const full = built.slice(1);
    const byOpen = new Map(m1.map((c) => [c.openTime, c]));
    const compared = full.map((c) => [ohlcv(c), ohlcv(byOpen.get(c.openTime)!)]);
    expect(full.map((c) => new Date(c.openTime).toISOString().slice(11, 16))).toEqual(
      ['23:55', '23:56', '23:57', '23:58', '23:59', '00:00', '00:01', '00:02', '00:03', '00:04']);
    for (const [mine, binance] of compared) expect(mine).toEqual(binance); // exact float equality, volume included
    expect(full.reduce((s, c) => s + (c.trades ?? 0), 0)).toBeGreaterThan(1000);
    expect(b.late).toBe(0);
  });

  it('rolls the 1m klines up to 1h bars equal to the 1h file on all 719 full overlapping hours', () => {
    const h1 = loadKlinesCsv(`${K}/moudux1-ft_userdata_${name}_USDT-1h.csv.gz`, { strict: true }).candles;
    const rolled = rollUp(m1, '1h').filter((c) => c.parts === 60);
    const byOpen = new Map(h1.map((c) => [c.openTime, c]));
    const pairs = rolled.filter((c) => byOpen.has(c.openTime));
    expect(pairs.length).toBe(719);
    const mismatched = pairs.filter((c) => JSON.stringify(ohlcv(c)) !== JSON.stringify(ohlcv(byOpen.get(c.openTime)!)));
    expect(mismatched).toEqual([]);
  });

  it('rolls the 1m klines up to days equal to the RocketAlerts daily file on 2024-07-27..2024-08-24', () => {
    const d1 = loadKlinesCsv(`${K}/rocketalerts_${name}USDT_1d.csv.gz`, { strict: true }).candles;
    const rolled = rollUp(m1, '1d').filter((c) => c.parts === 1440);
    const byOpen = new Map(d1.map((c) => [c.openTime, c]));
    expect(rolled.map((c) => new Date(c.openTime).toISOString().slice(0, 10))).toEqual(
      Array.from({ length: 29 }, (_, i) => new Date(Date.UTC(2024, 6, 27 + i)).toISOString().slice(0, 10)));
    for (const c of rolled) expect(ohlcv(c)).toEqual(ohlcv(byOpen.get(c.openTime)!));
  });

  it('finds no holes in the bundled 1m file', () => {
    expect(findHoles(m1, '1m')).toEqual([]);
    expect(m1.length).toBeGreaterThan(43_000);
  });
});
