// Order-book hot path: recorded Binance depth frame text in -> book updated -> top of book read.
// Ours: DepthParser (byte level) + BookSync + OrderBook. ccxt: JSON.parse + binance pro handleOrderBookMessage into
// ccxt's own OrderBook (sorted float arrays), the path ccxt's watchOrderBook takes. Same frames, same run.
// Prints one JSON line.
import ccxt from 'ccxt';
import type { DepthSnapshot } from '../engine/messages/market.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../engine/types/instrument.ts';
import { BookSync } from '../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder } from '../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../engine/venues/replay/recording.ts';

const PASSES = Number(process.env.BENCH_PASSES ?? 5);

interface Figures { frames: number; framesPerSec: number; p50Us: number; p99Us: number; meanUs: number }

function figures(samples: Float64Array, totalMs: number): Figures {
  const s = Float64Array.from(samples).sort();
  const q = (p: number) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 100) / 100;
  return {
    frames: s.length,
    framesPerSec: Math.round(s.length / (totalMs / 1000)),
    p50Us: q(0.5),
    p99Us: q(0.99),
    meanUs: Math.round((totalMs * 1000 / s.length) * 100) / 100,
  };
}

function load(sym: 'btc' | 'eth') {
  const inst = makeInstrument(BINANCE_SPOT_DEFAULTS[sym === 'btc' ? 'BTC/USDT' : 'ETH/USDT']!);
  const lines = readRecordingLinesSync([`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`, `data/recordings/spot_${sym}usdt_20240809.jsonl.gz`]);
  const snapLine = lines.find((l) => l.text.startsWith('{"lastUpdateId"'))!;
  const snapshot = new BinanceFrameDecoder(inst).decode(snapLine) as DepthSnapshot;
  const raw = JSON.parse(snapLine.text) as { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] };
  // Frames the snapshot does not cover; the first straddles it, so every frame is applied by both books.
  const frames = lines.filter((l) => l.text.includes('@depth')).map((l) => l.text)
    .filter((t) => Number(/"u":(\d+)/.exec(t)![1]) > raw.lastUpdateId);
  return { inst, snapshot, raw, frames };
}

// The live path gets ws Buffers, not strings: the `buffer` figures feed the same frames as Buffers made outside the
// timed loop (ccxt's side then pays `buf.toString()` before JSON.parse, as its ws client does).
function benchOurs(d: ReturnType<typeof load>, frames: readonly (string | Buffer)[] = d.frames): { fig: Figures; check: number } {
  let fig: Figures | undefined;
  let check = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    const decoder = new BinanceFrameDecoder(d.inst);
    const sync = new BookSync(d.inst.venueSymbol);
    sync.onSnapshot(d.snapshot);
    const book = sync.book;
    const samples = new Float64Array(d.frames.length);
    const t0 = performance.now();
    for (let i = 0; i < d.frames.length; i++) {
      const a = process.hrtime.bigint();
      const f = decoder.decodeDepthFrame(frames[i]!);
      if (typeof f !== 'string') sync.onDepth(f);
      check += (book.bestBid() ?? 0) + (book.bestAsk() ?? 0) + book.bestBidLots();
      samples[i] = Number(process.hrtime.bigint() - a) / 1000;
    }
    const ms = performance.now() - t0;
    if (sync.counters.applied !== d.frames.length || sync.state !== 'live') throw new Error('ours: not every frame applied');
    fig = figures(samples, ms);
  }
  return { fig: fig!, check };
}

function benchCcxt(d: ReturnType<typeof load>, frames: readonly (string | Buffer)[] = d.frames): { fig: Figures; check: number } {
  const ex = new ccxt.pro.binance({}) as unknown as {
    orderBook(s: object): { bids: number[][]; asks: number[][]; nonce?: number };
    handleOrderBookMessage(client: unknown, message: unknown, ob: unknown): unknown;
  };
  let fig: Figures | undefined;
  let check = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    const num = (a: [string, string][]) => a.map(([p, q]) => [Number(p), Number(q)]);
    const ob = ex.orderBook({ bids: num(d.raw.bids), asks: num(d.raw.asks), nonce: d.raw.lastUpdateId });
    const samples = new Float64Array(d.frames.length);
    const t0 = performance.now();
    for (let i = 0; i < d.frames.length; i++) {
      const a = process.hrtime.bigint();
      const fr = frames[i]!;
      const msg = JSON.parse(typeof fr === 'string' ? fr : fr.toString()) as { data: object };
      ex.handleOrderBookMessage(undefined, msg.data, ob);
      check += ob.bids[0]![0]! + ob.asks[0]![0]! + ob.bids[0]![1]!;
      samples[i] = Number(process.hrtime.bigint() - a) / 1000;
    }
    fig = figures(samples, performance.now() - t0);
  }
  return { fig: fig!, check };
}

const out: Record<string, unknown> = { bench: 'book', passes: PASSES, node: process.version };
for (const sym of ['btc', 'eth'] as const) {
  const d = load(sym);
  const ours = benchOurs(d);
  const theirs = benchCcxt(d);
  const bufs = d.frames.map((t) => Buffer.from(t));
  const oursBuf = benchOurs(d, bufs);
  const theirsBuf = benchCcxt(d, bufs);
  // Both books must agree on the final top of book, else the comparison is meaningless.
  const sync = new BookSync(d.inst.venueSymbol);
  sync.onSnapshot(d.snapshot);
  const dec = new BinanceFrameDecoder(d.inst);
  for (const t of d.frames) sync.onDepth(dec.decodeDepthFrame(t) as never);
  out[sym] = {
    ours: ours.fig,
    ccxt: theirs.fig,
    speedupP50: Math.round((theirs.fig.p50Us / ours.fig.p50Us) * 10) / 10,
    speedupThroughput: Math.round((ours.fig.framesPerSec / theirs.fig.framesPerSec) * 10) / 10,
    buffer: {
      ours: oursBuf.fig,
      ccxt: theirsBuf.fig,
      speedupP50: Math.round((theirsBuf.fig.p50Us / oursBuf.fig.p50Us) * 10) / 10,
    },
    finalTop: { bid: sync.book.bestBid(), ask: sync.book.bestAsk() },
  };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
