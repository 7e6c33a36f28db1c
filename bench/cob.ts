// COB snapshot cost: ConsolidatedBook.update() at every 100 ms of the bundled BTC and ETH recordings, over a book
// walked level by level (plain OrderBook) vs a book that keeps bucket sums (OrderBook.trackBuckets), both fed the
// same frames. Also the price of keeping the sums: µs per depth frame applied to each book. Prints one JSON line.
import { ConsolidatedBook, type CobSnapshot } from '../engine/market/cob.ts';
import type { DepthSnapshot } from '../engine/messages/market.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../engine/types/instrument.ts';
import type { TsMs } from '../engine/types/time.ts';
import { BookSync } from '../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder, classifyFrame } from '../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../engine/venues/replay/recording.ts';

const PASSES = Number(process.env.BENCH_PASSES ?? 3);

interface Figures { samples: number; meanUs: number; p50Us: number; p99Us: number }

function figures(samples: number[]): Figures {
  const s = Float64Array.from(samples).sort();
  const r = (x: number) => Math.round(x * 100) / 100;
  const q = (p: number) => r(s[Math.min(s.length - 1, Math.floor(p * s.length))]!);
  return { samples: s.length, meanUs: r(s.reduce((a, b) => a + b, 0) / s.length), p50Us: q(0.5), p99Us: q(0.99) };
}

const us = (from: bigint) => Number(process.hrtime.bigint() - from) / 1000;

function same(a: CobSnapshot, b: CobSnapshot): boolean {
  if (a.centerBucket !== b.centerBucket && !(Number.isNaN(a.centerBucket) && Number.isNaN(b.centerBucket))) return false;
  for (let k = 0; k < a.bidBuckets.length; k++) if (a.bidBuckets[k] !== b.bidBuckets[k] || a.askBuckets[k] !== b.askBuckets[k]) return false;
  return Object.is(a.imbalance, b.imbalance) && Object.is(a.imbalanceNear, b.imbalanceNear);
}

function run(symbol: 'BTC/USDT' | 'ETH/USDT', bucketSize: string) {
  const inst = makeInstrument(BINANCE_SPOT_DEFAULTS[symbol]!);
  const file = symbol === 'BTC/USDT' ? 'btc' : 'eth';
  const lines = readRecordingLinesSync([`data/recordings/spot_${file}usdt_20240808.jsonl.gz`, `data/recordings/spot_${file}usdt_20240809.jsonl.gz`])
    .filter((l) => { const k = classifyFrame(l.text); return k === 'depth' || k === 'snapshot'; });
  let out: Record<string, unknown> = {};
  for (let pass = 0; pass < PASSES; pass++) {
    const decoder = new BinanceFrameDecoder(inst);
    const plain = new BookSync(inst.venueSymbol);
    const tracking = new BookSync(inst.venueSymbol);
    const walked = new ConsolidatedBook({ symbol, bucketSize });
    const summed = new ConsolidatedBook({ symbol, bucketSize });
    walked.addVenue({ venue: 'binance', book: plain.book, tickSize: inst.tickSize, lotSize: inst.lotSize });
    tracking.book.trackBuckets(summed.addVenue({ venue: 'binance', book: tracking.book, tickSize: inst.tickSize, lotSize: inst.lotSize }));
    const walkUs: number[] = [];
    const sumUs: number[] = [];
    const applyPlainUs: number[] = [];
    const applyTrackingUs: number[] = [];
    let tick = NaN;
    for (const line of lines) {
      const now = Number(line.tsLocalNs / 1_000_000n);
      const t = Math.floor(now / 100);
      if (t !== tick && plain.isLive()) {
        const ts = (t * 100) as TsMs;
        // Alternate which goes first so neither always runs on the other's warmed caches.
        let w: CobSnapshot;
        let s: CobSnapshot;
        if (walkUs.length % 2 === 0) {
          let a = process.hrtime.bigint();
          w = walked.update(ts);
          walkUs.push(us(a));
          a = process.hrtime.bigint();
          s = summed.update(ts);
          sumUs.push(us(a));
        } else {
          let a = process.hrtime.bigint();
          s = summed.update(ts);
          sumUs.push(us(a));
          a = process.hrtime.bigint();
          w = walked.update(ts);
          walkUs.push(us(a));
        }
        if (!same(w, s)) throw new Error(`${symbol}: bucket sums and walk disagree at ${ts}`);
      }
      tick = t;
      if (line.text.startsWith('{"lastUpdateId"')) {
        const snap = decoder.decode(line) as DepthSnapshot;
        plain.onSnapshot(snap);
        tracking.onSnapshot(snap);
        continue;
      }
      const f = decoder.decodeDepthFrame(line.text);
      if (typeof f === 'string') continue;
      let a = process.hrtime.bigint();
      plain.onDepth(f);
      applyPlainUs.push(us(a));
      a = process.hrtime.bigint();
      tracking.onDepth(f);
      applyTrackingUs.push(us(a));
      walked.touch('binance', now as TsMs);
      summed.touch('binance', now as TsMs);
    }
    const walk = figures(walkUs);
    const sums = figures(sumUs);
    out = {
      updates: walk.samples,
      levels: { bid: plain.book.size('bid'), ask: plain.book.size('ask') },
      walk,
      sums,
      speedupMean: Math.round((walk.meanUs / sums.meanUs) * 10) / 10,
      speedupP50: Math.round((walk.p50Us / sums.p50Us) * 10) / 10,
      applyFrame: { plain: figures(applyPlainUs), tracking: figures(applyTrackingUs) },
    };
  }
  return out;
}

const result = { bench: 'cob', passes: PASSES, node: process.version, btc: run('BTC/USDT', '10'), eth: run('ETH/USDT', '1') };
process.stdout.write(`${JSON.stringify(result)}\n`);
