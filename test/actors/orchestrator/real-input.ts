// Real model inputs for the orchestrator tests: 1s bars built from the recorded Binance trades (ETH primary, BTC
// reference; 2024-08-08 23:54 → 2024-08-09 00:05 UTC) and the bundled 1m / 1h / 1d klines, assembled into a
// BaseDataInput at any time inside the recording. No COB: completeness is then 5/6 ≈ 0.83, enough to infer.
import { assembleBaseDataInput, type BaseDataInput, type BdiSources } from '../../../engine/market/base-data-input.ts';
import { CandleBuilder, CandleSeries } from '../../../engine/market/candles.ts';
import { loadKlinesCsv } from '../../../engine/market/klines-csv.ts';
import type { Candle } from '../../../engine/messages/market.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument } from '../../../engine/types/instrument.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../../../engine/types/time.ts';
import { BinanceFrameDecoder } from '../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';

export const ETH: Instrument = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
export const BTC: Instrument = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

/** Real candles of every series, whole files (the input keeps only what closed before its time). */
export interface RealWorld {
  readonly primary: Record<Timeframe, Candle[]>;
  readonly ref1s: Candle[];
  /** Close time of the last full 1s bar of both symbols. */
  readonly end: TsMs;
}

function bars1s(sym: 'eth' | 'btc', inst: Instrument): Candle[] {
  const dec = new BinanceFrameDecoder(inst);
  const b = new CandleBuilder({ timeframe: '1s', tickSize: inst.tickSize, lotSize: inst.lotSize });
  const out: Candle[] = [];
  let last = 0;
  const files = [`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`, `data/recordings/spot_${sym}usdt_20240809.jsonl.gz`];
  for (const line of readRecordingLinesSync(files)) {
    if (!line.text.includes('@trade')) continue;
    const m = dec.decode(line);
    if (m.type !== 'md.trade') continue;
    out.push(...b.addTrade(m));
    last = Math.max(last, m.tsExchange);
  }
  out.push(...b.closeUntil(last + 1));
  return out;
}

let cached: RealWorld | undefined;

/** Loads the real candles once per test file. */
export function loadRealWorld(): RealWorld {
  if (cached) return cached;
  const eth1s = bars1s('eth', ETH);
  const btc1s = bars1s('btc', BTC);
  const end = Math.min(eth1s.at(-1)!.openTime, btc1s.at(-1)!.openTime) + 1_000;
  cached = {
    primary: {
      '1s': eth1s,
      '1m': loadKlinesCsv('data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz').candles,
      '1h': loadKlinesCsv('data/klines/moudux1-ft_userdata_ETH_USDT-1h.csv.gz').candles,
      '1d': loadKlinesCsv('data/klines/rocketalerts_ETHUSDT_1d.csv.gz').candles,
    },
    ref1s: btc1s,
    end,
  };
  return cached;
}

function seriesAt(tf: Timeframe, bars: readonly Candle[], now: TsMs, keep?: number): CandleSeries {
  const s = new CandleSeries(tf);
  const closed = bars.filter((c) => c.openTime + timeframeMs(tf) <= now);
  s.pushAll(keep === undefined ? closed : closed.slice(-keep));
  return s;
}

/** Returns the input sources at `now` (bars closed by then); `keep` cuts a series to its newest bars. */
export function sourcesAt(w: RealWorld, now: TsMs, keep: Partial<Record<Timeframe | 'ref1s', number>> = {}): BdiSources {
  return {
    now,
    primary: {
      '1s': seriesAt('1s', w.primary['1s'], now, keep['1s']),
      '1m': seriesAt('1m', w.primary['1m'], now, keep['1m']),
      '1h': seriesAt('1h', w.primary['1h'], now, keep['1h']),
      '1d': seriesAt('1d', w.primary['1d'], now, keep['1d']),
    },
    reference1s: seriesAt('1s', w.ref1s, now, keep.ref1s),
  };
}

/** Returns the assembled BaseDataInput at `now`. */
export function realInput(w: RealWorld, now: TsMs, keep: Partial<Record<Timeframe | 'ref1s', number>> = {}): BaseDataInput {
  return assembleBaseDataInput(sourcesAt(w, now, keep));
}
