import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { nsToMs } from '../../../../engine/types/time.ts';
import { readRecordingLinesSync, type RecordedLine, type RecordingReadOptions } from '../../../../engine/venues/replay/recording.ts';
import { RecordingMerge, type SymbolLine } from '../../../../engine/venues/sim/replay.ts';

const rec = (sym: string, day: string): string => `data/recordings/spot_${sym}usdt_${day}.jsonl.gz`;
// Deliberately not in time order: the merge must chain each symbol's files by their first timestamp.
const ALL = [rec('eth', '20240809'), rec('btc', '20240808'), rec('eth', '20240808'), rec('btc', '20240809')];

interface Flat { symbol: string; ns: bigint; text: string }

/**
 * The reference merge, written plainly over readRecordingLinesSync (gunzipSync + split): files grouped by the symbol
 * of their first stream frame (symbols in the order first seen), each symbol's files chained by first timestamp,
 * then repeatedly the earliest next line, ties to the symbol seen first.
 */
function referenceMerge(files: readonly string[]): Flat[] {
  const bySymbol = new Map<string, RecordedLine[][]>();
  for (const f of files) {
    const lines = readRecordingLinesSync([f]);
    const sym = lines.map((l) => /^\{"stream":"([a-z0-9]+)@/.exec(l.text)?.[1]).find((s) => s !== undefined)!.toUpperCase();
    bySymbol.set(sym, [...(bySymbol.get(sym) ?? []), lines]);
  }
  const lanes = [...bySymbol].map(([symbol, list]) => ({
    symbol, at: 0,
    lines: list.sort((a, b) => (a[0]!.tsLocalNs < b[0]!.tsLocalNs ? -1 : a[0]!.tsLocalNs > b[0]!.tsLocalNs ? 1 : 0)).flat(),
  }));
  const out: Flat[] = [];
  for (;;) {
    let best: (typeof lanes)[number] | undefined;
    for (const l of lanes) if (l.at < l.lines.length && (!best || l.lines[l.at]!.tsLocalNs < best.lines[best.at]!.tsLocalNs)) best = l;
    if (!best) return out;
    const line = best.lines[best.at++]!;
    out.push({ symbol: best.symbol, ns: line.tsLocalNs, text: line.text });
  }
}

/** Drains the merge with `nextSync() ?? next()` (or only `next()`), checking peekNs/peekMs against every line. */
async function drain(m: RecordingMerge, mode: 'sync' | 'async'): Promise<{ lines: SymbolLine[]; peekMisses: number; syncLines: number }> {
  const lines: SymbolLine[] = [];
  let peekMisses = 0;
  let syncLines = 0;
  for (;;) {
    const ns = m.peekNs();
    const ms = m.peekMs();
    let line = mode === 'sync' ? m.nextSync() : undefined;
    if (line) syncLines++;
    line ??= await m.next();
    if (!line) {
      if (ns !== undefined || ms !== undefined) peekMisses++;
      break;
    }
    if (ns !== line.tsLocalNs || ms !== line.tsMs) peekMisses++;
    lines.push(line);
  }
  await m.close();
  return { lines, peekMisses, syncLines };
}

/** Index of the first line that differs from the reference (-1 when all match and the lengths agree). */
function firstMismatch(got: readonly SymbolLine[], want: readonly Flat[]): number {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) {
    const g = got[i];
    const w = want[i];
    if (!g || !w || g.symbol !== w.symbol || g.tsLocalNs !== w.ns || g.text !== w.text || g.tsMs !== nsToMs(w.ns)) return i;
  }
  return -1;
}

describe('RecordingMerge over the bundled recording (4 files, 2 symbols)', () => {
  const want = referenceMerge(ALL);

  it('the reference is the whole recording, both symbols interleaved (guards the comparison)', () => {
    expect(want.length).toBe(179_318);
    expect(new Set(want.map((l) => l.symbol))).toEqual(new Set(['ETHUSDT', 'BTCUSDT']));
    let switches = 0;
    for (let i = 1; i < want.length; i++) if (want[i]!.symbol !== want[i - 1]!.symbol) switches++;
    expect(switches).toBeGreaterThan(10_000);
  });

  const modes: ['sync' | 'async', RecordingReadOptions][] = [['sync', {}], ['async', {}], ['sync', { chunkBytes: 4096, pieceBytes: 1000 }]];
  it.each(modes)('%s path, %o: the same lines (symbol, ns, text, ms) in the same order, peek exact throughout', async (mode, opts) => {
    const m = await RecordingMerge.open(ALL, opts);
    expect(m.symbols).toEqual(['ETHUSDT', 'BTCUSDT']);
    const { lines, peekMisses, syncLines } = await drain(m, mode);
    expect(firstMismatch(lines, want)).toBe(-1);
    expect(peekMisses).toBe(0);
    expect(m.stats.badLines).toBe(0);
    // The sync path hands out nearly every line without awaiting: it awaits only when a file has no chunk ready.
    if (mode === 'sync') expect(syncLines).toBeGreaterThan(lines.length * 0.95);
  }, 60_000);
});

describe('RecordingMerge on small files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cobalt-merge-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const frame = (sym: string, i: number): string => `{"stream":"${sym}@trade","data":{"E":1723161255${String(i).padStart(3, '0')},"t":${i}}}`;
  const write = (name: string, lines: string[]): string => {
    const f = join(dir, name);
    writeFileSync(f, name.endsWith('.gz') ? gzipSync(lines.join('\n')) : lines.join('\n'));
    return f;
  };

  it('breaks ties by the symbol found first, orders by the last ns digits, and chains files of a symbol in time order', async () => {
    const eth2 = write('eth2.jsonl', ['2000000000000000100 ' + frame('ethusdt', 5)]);
    const btc = write('btc.jsonl', ['1000000000000000100 ' + frame('btcusdt', 1), '1000000000000000102 ' + frame('btcusdt', 2), '1000000000000000102 ' + frame('btcusdt', 3)]);
    const eth1 = write('eth1.jsonl.gz', ['{"lastUpdateId":1}', '1000000000000000101 {"lastUpdateId":7}', '1000000000000000102 ' + frame('ethusdt', 4), 'bad line']);
    const m = await RecordingMerge.open([eth2, btc, eth1], { chunkBytes: 64, pieceBytes: 16 });
    expect(m.symbols).toEqual(['ETHUSDT', 'BTCUSDT']);
    const { lines } = await drain(m, 'sync');
    // At ...102 both symbols have a line: ETH (first seen) goes first, then BTC's two in file order.
    expect(lines.map((l) => `${l.symbol} ${l.tsLocalNs % 1000n} ${l.text.slice(-7)}`)).toEqual([
      'BTCUSDT 100 "t":1}}', 'ETHUSDT 101 eId":7}', 'ETHUSDT 102 "t":4}}', 'BTCUSDT 102 "t":2}}', 'BTCUSDT 102 "t":3}}', 'ETHUSDT 100 "t":5}}',
    ]);
    expect(m.stats.badLines).toBe(2);
    // The offset comes from the first E in the first symbol's earliest file (ETH's frame 4), as before.
    expect(m.offsetMs).toBe(1723161255004 - 1_000_000_000_000);
  });

  it('fails with a ParseError naming the file when a gzip file is truncated mid-replay', async () => {
    const body = Array.from({ length: 4000 }, (_, i) => `${1723161254087891268n + BigInt(i)} ${frame('btcusdt', i % 1000)}`);
    const full = gzipSync(body.join('\n'));
    const cut = join(dir, 'cut.jsonl.gz');
    writeFileSync(cut, full.subarray(0, Math.floor(full.length * 0.5)));
    const m = await RecordingMerge.open([cut], { chunkBytes: 1024 });
    let n = 0;
    const run = async (): Promise<void> => {
      for (let l = m.nextSync() ?? (await m.next()); l; l = m.nextSync() ?? (await m.next())) n++;
    };
    await expect(run()).rejects.toThrow(/cannot read recording .*cut\.jsonl\.gz: unexpected end of file/);
    expect(n).toBeGreaterThan(100);
    expect(n).toBeLessThan(4000);
    await m.close();
  });

  it('names a missing file and a file without any stream frame', async () => {
    const ok = write('ok.jsonl', ['1000000000000000100 ' + frame('btcusdt', 1)]);
    await expect(RecordingMerge.open([ok, join(dir, 'missing.jsonl.gz')])).rejects.toThrow(/missing\.jsonl\.gz/);
    const noStream = write('nostream.jsonl', ['1000000000000000100 {"lastUpdateId":1}']);
    await expect(RecordingMerge.open([noStream])).rejects.toThrow(/nostream\.jsonl has no combined-stream frame/);
  });
});
