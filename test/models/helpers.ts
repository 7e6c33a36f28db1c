import { loadCandlesCsv, sliceCandles, type Candles } from '../../models/data.ts';

const cache = new Map<string, Candles>();

/** Returns real 1m candles (BTC or ETH, data/klines), bars [from, to). */
export function realCandles(symbol: 'BTC' | 'ETH', from = 0, to?: number): Candles {
  const path = new URL(`../../data/klines/mintanam-ftrade_${symbol}_USDT-1m.csv.gz`, import.meta.url).pathname;
  let c = cache.get(path);
  if (!c) { c = loadCandlesCsv(path); cache.set(path, c); }
  return sliceCandles(c, from, to ?? c.close.length);
}
