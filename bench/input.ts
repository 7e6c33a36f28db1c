// Benchmark: assembling + validating one BaseDataInput from filled series and a live COB, and the COB snapshot
// cost per book update, on the bundled real data. Prints one JSON line. Run: npx tsx bench/input.ts
//   bdi_assemble_validate_*   from scratch (assembleBaseDataInput: every series walked and packed)
//   bdi_incremental_tick_*    the DataProvider's BdiAssembler as a decision tick sees it: a new bar on both 1s series,
//                             1m/1h/1d unchanged (their packed blocks and the pivots are reused)
//   bdi_incremental_same_*    the BdiAssembler with nothing changed but the clock
import { assembleBaseDataInput, BdiAssembler, BDI_LENGTH, type BdiSources } from '../engine/market/base-data-input.ts';
import { CandleBuilder, CandleSeries } from '../engine/market/candles.ts';
import { ConsolidatedBook } from '../engine/market/cob.ts';
import { loadKlinesCsv } from '../engine/market/klines-csv.ts';
import type { ModelOutput } from '../engine/messages/signals.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument } from '../engine/types/instrument.ts';
import { BookSync } from '../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder } from '../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../engine/venues/replay/recording.ts';

const pct = (xs: number[], p: number): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;

interface Replayed { series1s: CandleSeries; cob: ConsolidatedBook; updateUs: number[]; levels: number; lastTs: number }

/** Replays one symbol's recording: trades into 1s candles, depth into a synced book and a COB updated per diff. */
function replay(sym: 'eth' | 'btc', inst: Instrument, bucketSize: string): Replayed {
  const dec = new BinanceFrameDecoder(inst);
  const sync = new BookSync(inst.venueSymbol, { rules: 'spot' });
  const cob = new ConsolidatedBook({ symbol: inst.symbol, bucketSize });
  cob.addVenue({ venue: 'binance', book: sync.book, tickSize: inst.tickSize, lotSize: inst.lotSize });
  const builder = new CandleBuilder({ timeframe: '1s', tickSize: inst.tickSize, lotSize: inst.lotSize });
  const series1s = new CandleSeries('1s');
  const updateUs: number[] = [];
  let lastTs = 0;
  for (const line of readRecordingLinesSync([`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`, `data/recordings/spot_${sym}usdt_20240809.jsonl.gz`])) {
    if (line.text.includes('bookTicker')) continue;
    const m = dec.decode(line);
    if (m.type === 'md.trade') {
      series1s.pushAll(builder.addTrade(m));
      lastTs = Math.max(lastTs, m.tsExchange);
    } else if (m.type === 'md.snapshot') {
      sync.onSnapshot(m);
    } else if (m.type === 'md.depth' && sync.onDiff(m) === 'applied') {
      const t0 = performance.now();
      cob.touch('binance', m.tsExchange);
      cob.update(m.tsExchange);
      updateUs.push((performance.now() - t0) * 1_000);
      lastTs = Math.max(lastTs, m.tsExchange);
    }
  }
  return { series1s, cob, updateUs, levels: sync.book.size('bid') + sync.book.size('ask'), lastTs };
}

const eth = replay('eth', makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!), '1');
const btc = replay('btc', makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!), '10');
const now = Math.max(eth.lastTs, btc.lastTs) + 1;

const filled = (tf: '1m' | '1h' | '1d', file: string): CandleSeries => {
  const s = new CandleSeries(tf);
  const tfMs = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 }[tf];
  s.pushAll(loadKlinesCsv(file).candles.filter((c) => c.openTime + tfMs <= now));
  return s;
};
const hidden = new Float32Array(32).fill(0.1);
const out = (model: string): ModelOutput => ({ model, version: '1', symbol: 'ETH/USDT', ts: now - 500, action: 'HOLD', probabilities: [0.2, 0.2, 0.6], confidence: 0.6, hidden });
const src: BdiSources = {
  now,
  primary: {
    '1s': eth.series1s,
    '1m': filled('1m', 'data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz'),
    '1h': filled('1h', 'data/klines/moudux1-ft_userdata_ETH_USDT-1h.csv.gz'),
    '1d': filled('1d', 'data/klines/rocketalerts_ETHUSDT_1d.csv.gz'),
  },
  reference1s: btc.series1s,
  cob: eth.cob.update(now),
  models: { cnn: out('cnn'), dqn: out('dqn') },
};

const buf = new Float32Array(BDI_LENGTH);
for (let i = 0; i < 300; i++) assembleBaseDataInput(src, buf); // warm-up
const bdiUs: number[] = [];
let completeness = 0;
// CPU time per call as well: on a shared, overloaded machine wall-clock p99 mostly measures preemption.
const cpu0 = process.cpuUsage();
for (let i = 0; i < 3_000; i++) {
  const t0 = performance.now();
  const r = assembleBaseDataInput(src, buf);
  bdiUs.push((performance.now() - t0) * 1_000);
  completeness = r.validation.completeness;
}
const cpu = process.cpuUsage(cpu0);
const bdiCpuMeanUs = (cpu.user + cpu.system) / 3_000;
const freshUs: number[] = [];
for (let i = 0; i < 1_000; i++) {
  const t0 = performance.now();
  assembleBaseDataInput(src);
  freshUs.push((performance.now() - t0) * 1_000);
}

// Incremental: each call first appends one 1s bar to both 1s series (a copy of an older real bar, one second later).
const asm = new BdiAssembler();
const p1s = src.primary['1s'] as CandleSeries;
const r1s = src.reference1s as CandleSeries;
const pBars = p1s.tail(300);
const rBars = r1s.tail(300);
let tickSrc: BdiSources = src;
const stepTick = (i: number): void => {
  const pl = p1s.last()!;
  const rl = r1s.last()!;
  p1s.push({ ...pBars[i % pBars.length]!, openTime: pl.openTime + 1_000 });
  r1s.push({ ...rBars[i % rBars.length]!, openTime: rl.openTime + 1_000 });
  tickSrc = { ...src, now: pl.openTime + 2_001 };
};
for (let i = 0; i < 300; i++) {
  stepTick(i);
  asm.assemble(tickSrc, buf);
}
const incUs: number[] = [];
let incCpu = 0;
for (let i = 0; i < 3_000; i++) {
  stepTick(i);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  asm.assemble(tickSrc, buf);
  incUs.push((performance.now() - t0) * 1_000);
  const c = process.cpuUsage(c0);
  incCpu += c.user + c.system;
}
const sameUs: number[] = [];
for (let i = 0; i < 3_000; i++) {
  const t0 = performance.now();
  asm.assemble(tickSrc, buf);
  sameUs.push((performance.now() - t0) * 1_000);
}

const cobFig = (r: Replayed) => ({
  updates: r.updateUs.length,
  p50_us: r1(pct(r.updateUs, 50)),
  p99_us: r1(pct(r.updateUs, 99)),
  mean_us: r1(r.updateUs.reduce((a, b) => a + b, 0) / r.updateUs.length),
  book_levels: r.levels,
});

console.log(JSON.stringify({
  bench: 'input',
  bdi_length: BDI_LENGTH,
  bdi_completeness: completeness,
  bdi_assemble_validate_p50_us: r1(pct(bdiUs, 50)),
  bdi_assemble_validate_p90_us: r1(pct(bdiUs, 90)),
  bdi_assemble_validate_p99_us: r1(pct(bdiUs, 99)),
  bdi_assemble_validate_cpu_mean_us: r1(bdiCpuMeanUs),
  bdi_new_buffer_p50_us: r1(pct(freshUs, 50)),
  bdi_new_buffer_p99_us: r1(pct(freshUs, 99)),
  bdi_incremental_tick_p50_us: r1(pct(incUs, 50)),
  bdi_incremental_tick_p99_us: r1(pct(incUs, 99)),
  bdi_incremental_tick_cpu_mean_us: r1(incCpu / 3_000),
  bdi_incremental_same_p50_us: r1(pct(sameUs, 50)),
  bdi_incremental_same_p99_us: r1(pct(sameUs, 99)),
  bdi_incremental_stats: asm.stats,
  bdi_p99_target_us: 1_000,
  cob_update_eth_bucket1: cobFig(eth),
  cob_update_btc_bucket10: cobFig(btc),
  loadavg_1m: r1((await import('node:os')).loadavg()[0]!),
  node: process.version,
}));
