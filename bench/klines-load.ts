// What a backtest's DataProvider loads at start (history of ETH/USDT and BTC/USDT, 1m/1h/1d, 1500 bars each, from
// data/klines, at the bundled recording's start), timed before (the former reader and archive, kept in
// test/engine/market/klines-reference.ts) and after (the lazy, process-wide KlinesIndex, which inflates and indexes a
// file only as far as the queries reach and parses only the rows they ask for).
// Each figure is `DataProvider.start()` in a fresh process (cold JIT, nothing cached: what one backtest pays), then
// a second provider in the same process (what the 2nd..nth system of a test or bench run pays). Runs alternate
// before/after; medians and minimums in ms. `identical` checks that both fill every series with the same bars.
// One JSON line on stdout.
//   npx tsx bench/klines-load.ts [runs per side, default 7]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { KlinesArchive } from '../actors/data-provider/klines-archive.ts';
import type { KlineSource } from '../actors/data-provider/market-source.ts';
import { DataProvider } from '../actors/data-provider/provider.ts';
import { createLogger, setLogger } from '../engine/log.ts';
import { Bus } from '../engine/runtime/bus.ts';
import { SimulatedClock } from '../engine/runtime/clock.ts';
import { ReferenceKlinesArchive } from '../test/engine/market/klines-reference.ts';

/** 2024-08-08 23:54:13 UTC: the bundled recording's start, where a backtest's clock stands when history loads. */
const REC_START = Date.UTC(2024, 7, 8, 23, 54, 13);
const DIRS = ['data/klines'];

type Side = 'before' | 'after';

async function loadOnce(side: Side): Promise<{ ms: number; hash: string; bars: number }> {
  const history: KlineSource = side === 'before' ? new ReferenceKlinesArchive(DIRS) : new KlinesArchive(DIRS);
  const provider = new DataProvider({ bus: new Bus(), clock: new SimulatedClock(REC_START), history, maintenanceMs: 0 });
  const t0 = performance.now();
  await provider.start();
  const ms = performance.now() - t0;
  provider.stop();
  const h = createHash('sha256');
  let bars = 0;
  for (const symbol of provider.symbols) {
    for (const tf of ['1m', '1h', '1d'] as const) {
      const s = provider.series(symbol, tf);
      for (let i = 0; i < s.length; i++) {
        const c = s.get(i)!;
        h.update(`${symbol} ${tf} ${c.openTime} ${c.open} ${c.high} ${c.low} ${c.close} ${c.volume} ${c.closed}\n`);
        bars++;
      }
    }
  }
  return { ms, hash: h.digest('hex'), bars };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;

setLogger(createLogger({ level: 'silent' }));
const childSide = process.argv[2] === '--child' ? (process.argv[3] as Side) : undefined;
if (childSide) {
  const first = await loadOnce(childSide);
  const second = await loadOnce(childSide);
  process.stdout.write(`${JSON.stringify({ first: first.ms, second: second.ms, hash: first.hash, same: first.hash === second.hash, bars: first.bars })}\n`);
} else {
  const runs = Number(process.argv[2] ?? 7);
  const self = fileURLToPath(import.meta.url);
  const out: Record<Side, { first: number[]; second: number[]; hashes: Set<string>; bars: number }> = {
    before: { first: [], second: [], hashes: new Set(), bars: 0 },
    after: { first: [], second: [], hashes: new Set(), bars: 0 },
  };
  for (let i = 0; i < runs; i++) {
    for (const side of ['before', 'after'] as const) {
      const line = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', side], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
      const r = JSON.parse(line) as { first: number; second: number; hash: string; same: boolean; bars: number };
      out[side].first.push(r.first);
      out[side].second.push(r.second);
      out[side].hashes.add(r.same ? r.hash : `${r.hash} (second differs)`);
      out[side].bars = r.bars;
    }
  }
  const fig = (side: Side) => ({
    firstMs: { median: r1(median(out[side].first)), min: r1(Math.min(...out[side].first)) },
    secondMs: { median: r1(median(out[side].second)), min: r1(Math.min(...out[side].second)) },
  });
  const before = fig('before');
  const after = fig('after');
  const hashes = new Set([...out.before.hashes, ...out.after.hashes]);
  process.stdout.write(`${JSON.stringify({
    bench: 'klines-load',
    data: 'DataProvider.start() history: ETH+BTC 1m/1h/1d x 1500 bars from data/klines at 2024-08-08 23:54:13 UTC',
    runs, bars: out.after.bars, identical: hashes.size === 1 && out.before.bars === out.after.bars,
    before, after,
    speedup: { first: r1(before.firstMs.median / after.firstMs.median), second: r1(before.secondMs.median / after.secondMs.median) },
  })}\n`);
}
