// Frame decoding on the bundled recordings (all 4 files, 179k lines): ns per line through BinanceFrameDecoder for
// bookTicker, trade and depth frames, the JSON reference path (`decodeJson`: JSON.parse + field checks, what every
// non-depth frame took before the byte-level path) against `decodeText` (byte-level bookTicker/trade parser, falling
// back to JSON for anything else), plus `BinanceFramePublisher.publish` per line as a backtest drives it (raw depth,
// a bus with no subscriber). Prints one JSON line. Run: npx tsx bench/decode.ts   (BENCH_PASSES, default 7)
import { readdirSync } from 'node:fs';
import type { EngineMsg } from '../engine/messages/index.ts';
import { Bus } from '../engine/runtime/bus.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument } from '../engine/types/instrument.ts';
import { nsToMs, type TsMs } from '../engine/types/time.ts';
import { BinanceFramePublisher } from '../engine/venues/binance/binance-feed.ts';
import { BinanceFrameDecoder, classifyFrame, type DecodedFrame, type FrameKind } from '../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../engine/venues/replay/recording.ts';

const PASSES = Number(process.env.BENCH_PASSES ?? 7);
const DIR = 'data/recordings';
const KINDS = ['bookTicker', 'trade', 'depth'] as const;
type Kind = (typeof KINDS)[number];

interface Line { readonly text: string; readonly ts: TsMs; readonly kind: FrameKind; readonly venueSymbol: string }
interface Lane { readonly inst: Instrument; readonly byKind: Record<Kind, Line[]> }

const insts = new Map<string, Instrument>([['btc', makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!)], ['eth', makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!)]]);
const lanes: Lane[] = [];
const all: Line[] = [];
for (const [sym, inst] of insts) {
  const files = readdirSync(DIR).filter((f) => f.startsWith(`spot_${sym}usdt_`)).sort().map((f) => `${DIR}/${f}`);
  const byKind: Record<Kind, Line[]> = { bookTicker: [], trade: [], depth: [] };
  for (const l of readRecordingLinesSync(files)) {
    const line: Line = { text: l.text, ts: nsToMs(l.tsLocalNs), kind: classifyFrame(l.text), venueSymbol: inst.venueSymbol };
    all.push(line);
    if (line.kind === 'bookTicker' || line.kind === 'trade' || line.kind === 'depth') byKind[line.kind].push(line);
  }
  lanes.push({ inst, byKind });
}
// The recordings are per symbol; a backtest merges them by time.
all.sort((a, b) => a.ts - b.ts);

type Path = (d: BinanceFrameDecoder, l: Line) => DecodedFrame;
const viaJson: Path = (d, l) => d.decodeJson(l.text, l.ts, l.kind);
const viaText: Path = (d, l) => d.decodeText(l.text, l.ts, l.kind);

let sink = 0;

/** Returns the best-of-passes ns per line of `path` over every line of `kind`. */
function nsPerLine(kind: Kind, path: Path): number {
  let best = Infinity;
  let n = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    let ns = 0n;
    n = 0;
    for (const lane of lanes) {
      const d = new BinanceFrameDecoder(lane.inst);
      const lines = lane.byKind[kind];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < lines.length; i++) {
        const m = path(d, lines[i]!);
        if (m.type === 'malformed') sink++;
      }
      ns += process.hrtime.bigint() - t0;
      n += lines.length;
      if (d.counters.malformed !== 0) throw new Error(`${kind}: ${d.counters.malformed} malformed frames`);
    }
    best = Math.min(best, Number(ns) / n);
  }
  return Math.round(best);
}

function publishNsPerLine(): number {
  let best = Infinity;
  for (let pass = 0; pass < PASSES; pass++) {
    const bus = new Bus<EngineMsg>();
    const pub = new BinanceFramePublisher({ bus, venue: 'binance', instruments: [...insts.values()], depth: 'raw' });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < all.length; i++) pub.publish(all[i]!.text, all[i]!.ts, all[i]!.venueSymbol);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / all.length);
    sink += pub.counters.published;
  }
  return Math.round(best);
}

const out: Record<string, number | string> = { bench: 'decode', passes: PASSES, lines: all.length };
for (const kind of KINDS) out[`${kind}_lines`] = lanes.reduce((s, l) => s + l.byKind[kind].length, 0);
// Interleave the two paths so machine load drifts hit both alike.
for (const kind of KINDS) {
  out[`${kind}_json_ns`] = nsPerLine(kind, viaJson);
  out[`${kind}_fast_ns`] = nsPerLine(kind, viaText);
}
out['publish_all_ns'] = publishNsPerLine();
out['sink'] = sink;
process.stdout.write(`${JSON.stringify(out)}\n`);
