// Benchmark: reading + merging the bundled recording (4 gzip files, 2 symbols) by receive time, as the backtest does,
// old reader vs new. Prints one JSON line. Run: npx tsx bench/replay-read.ts [rounds]
//   old        the previous reader, kept here verbatim as the baseline: createReadStream -> createGunzip -> readline,
//              an async generator per file, BigInt per line, `await merge.next()` per line, nsToMs per line
//   new_sync   RecordingMerge: `merge.nextSync() ?? (await merge.next())` and `line.tsMs` (the backtest's fast path)
//   new_async  RecordingMerge with `await merge.next()` per line and `nsToMs(line.tsLocalNs)` (callers not switched)
// Per variant, best and median of the rounds: wall ms, lines/s and main-thread ms (event-loop active time: what the
// reader takes from the loop; inflating on the libuv pool runs beside it). `check` proves every variant read the
// same lines in the same order (count, and a hash over symbol, ms time and text length).
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { nsToMs } from '../engine/types/time.ts';
import { splitRecordedLine, type RecordedLine } from '../engine/venues/replay/recording.ts';
import { RecordingMerge } from '../engine/venues/sim/replay.ts';

const FILES = ['btc', 'eth'].flatMap((s) => ['20240808', '20240809'].map((d) => `data/recordings/spot_${s}usdt_${d}.jsonl.gz`));

// ---- the previous implementation (engine/venues/replay/recording.ts + engine/venues/sim/replay.ts before the change)
async function* oldReadLines(files: string[], stats: { badLines: number }): AsyncIterable<RecordedLine> {
  for (const file of files) {
    const raw = createReadStream(file);
    const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
    raw.on('error', (err) => input.destroy(err));
    const rl = createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of rl) {
        if (line.length === 0) continue;
        const rec = splitRecordedLine(line);
        if (rec) yield rec;
        else stats.badLines++;
      }
    } finally {
      rl.close();
      raw.destroy();
    }
  }
}

interface OldSource { symbol: string; firstNs: bigint; head: RecordedLine[]; rest: AsyncIterator<RecordedLine> }
interface OldLane { symbol: string; it: AsyncIterator<RecordedLine>; next: RecordedLine | undefined }

class OldMerge {
  lanes: OldLane[] = [];
  stats = { badLines: 0 };
  static async open(files: readonly string[]): Promise<OldMerge> {
    const m = new OldMerge();
    const sources: OldSource[] = [];
    for (const file of files) {
      const it = oldReadLines([file], m.stats)[Symbol.asyncIterator]();
      const head: RecordedLine[] = [];
      let symbol: string | undefined;
      while (!symbol && head.length < 10_000) {
        const r = await it.next();
        if (r.done) break;
        head.push(r.value);
        symbol = /^\{"stream":"([a-z0-9]+)@/.exec(r.value.text)?.[1]?.toUpperCase();
      }
      sources.push({ symbol: symbol!, firstNs: head[0]!.tsLocalNs, head, rest: it });
    }
    const bySymbol = new Map<string, OldSource[]>();
    for (const s of sources) bySymbol.set(s.symbol, [...(bySymbol.get(s.symbol) ?? []), s]);
    for (const [symbol, list] of bySymbol) {
      list.sort((a, b) => (a.firstNs < b.firstNs ? -1 : a.firstNs > b.firstNs ? 1 : 0));
      const lane: OldLane = { symbol, it: chain(list), next: undefined };
      const r = await lane.it.next();
      lane.next = r.done ? undefined : r.value;
      m.lanes.push(lane);
    }
    return m;
  }
  async next(): Promise<{ symbol: string; tsLocalNs: bigint; text: string } | undefined> {
    let best: OldLane | undefined;
    for (const l of this.lanes) if (l.next && (!best || l.next.tsLocalNs < best.next!.tsLocalNs)) best = l;
    if (!best) return undefined;
    const line = best.next!;
    const r = await best.it.next();
    best.next = r.done ? undefined : r.value;
    return { symbol: best.symbol, tsLocalNs: line.tsLocalNs, text: line.text };
  }
}

async function* chain(list: readonly OldSource[]): AsyncGenerator<RecordedLine> {
  for (const s of list) {
    yield* s.head;
    for (;;) {
      const r = await s.rest.next();
      if (r.done) break;
      yield r.value;
    }
  }
}
// ---- end of the previous implementation

interface Run { lines: number; hash: number; wallMs: number; mainMs: number }

const mix = (h: number, sym: string, ms: number, len: number): number =>
  (Math.imul(h ^ (sym.charCodeAt(0) + len * 31), 0x9e3779b1) + Math.round(ms * 1000)) | 0;

async function measure(body: () => Promise<{ lines: number; hash: number }>): Promise<Run> {
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const r = await body();
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  return { ...r, wallMs, mainMs: elu.active };
}

async function runOld(): Promise<{ lines: number; hash: number }> {
  const m = await OldMerge.open(FILES);
  let lines = 0;
  let hash = 0;
  for (let l = await m.next(); l; l = await m.next()) {
    hash = mix(hash, l.symbol, nsToMs(l.tsLocalNs), l.text.length);
    lines++;
  }
  return { lines, hash };
}

async function runNewSync(): Promise<{ lines: number; hash: number }> {
  const m = await RecordingMerge.open(FILES);
  let lines = 0;
  let hash = 0;
  for (;;) {
    const l = m.nextSync() ?? (await m.next());
    if (!l) break;
    hash = mix(hash, l.symbol, l.tsMs, l.text.length);
    lines++;
  }
  await m.close();
  return { lines, hash };
}

async function runNewAsync(): Promise<{ lines: number; hash: number }> {
  const m = await RecordingMerge.open(FILES);
  let lines = 0;
  let hash = 0;
  for (let l = await m.next(); l; l = await m.next()) {
    hash = mix(hash, l.symbol, nsToMs(l.tsLocalNs), l.text.length);
    lines++;
  }
  await m.close();
  return { lines, hash };
}

const rounds = Math.max(1, Number(process.argv[2] ?? 5));
const variants = { old: runOld, new_sync: runNewSync, new_async: runNewAsync };
const runs: Record<string, Run[]> = { old: [], new_sync: [], new_async: [] };
await runNewSync(); // warm-up: module compilation and the first inflate
for (let i = 0; i < rounds; i++) for (const [k, f] of Object.entries(variants)) runs[k]!.push(await measure(f));

const r1 = (x: number): number => Math.round(x * 10) / 10;
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out: Record<string, unknown> = { bench: 'replay-read', files: FILES.length, rounds };
for (const [k, rs] of Object.entries(runs)) {
  const wall = rs.map((r) => r.wallMs);
  out[k] = {
    lines: rs[0]!.lines,
    wall_ms_best: r1(Math.min(...wall)), wall_ms_median: r1(median(wall)),
    lines_per_s_best: Math.round(rs[0]!.lines / (Math.min(...wall) / 1000)),
    main_ms_best: r1(Math.min(...rs.map((r) => r.mainMs))), main_ms_median: r1(median(rs.map((r) => r.mainMs))),
  };
}
const all = Object.values(runs).flat();
out.check = all.every((r) => r.lines === all[0]!.lines && r.hash === all[0]!.hash) ? 'same lines, same order' : 'MISMATCH';
out.speedup_wall_median = r1(median(runs.old!.map((r) => r.wallMs)) / median(runs.new_sync!.map((r) => r.wallMs)));
console.log(JSON.stringify(out));
