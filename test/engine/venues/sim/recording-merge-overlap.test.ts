// Files of one symbol are chained one after another: two that overlap in time (trades recorded apart from the book,
// or by a second recorder) were replayed whole one after the other, the second's lines behind the clock. The merge
// refuses them now, on the text path and in a catalog build alike, naming both files and the times.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParseError } from '../../../../engine/types/errors.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { ReplayCatalog } from '../../../../engine/venues/replay/catalog.ts';
import { RecordingMerge } from '../../../../engine/venues/sim/replay.ts';

const dir = mkdtempSync(join(tmpdir(), 'cobalt-merge-overlap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Receive times 1723161255.000 s + ms; a trade frame of `sym` per line.
const line = (sym: string, ms: number): string => `${1723161255000n + BigInt(ms)}000000 {"stream":"${sym}@trade","data":{"E":${1723161255000 + ms},"t":${ms}}}`;
const write = (name: string, sym: string, ms: number[]): string => {
  const f = join(dir, name);
  writeFileSync(f, ms.map((t) => line(sym, t)).join('\n'));
  return f;
};

async function drain(files: string[]): Promise<number[]> {
  const m = await RecordingMerge.open(files);
  const out: number[] = [];
  try {
    for (let l = m.nextSync() ?? (await m.next()); l; l = m.nextSync() ?? (await m.next())) out.push(l.tsMs - 1723161255000);
  } finally {
    await m.close();
  }
  return out;
}

describe('RecordingMerge: files of one symbol that overlap in time', () => {
  const a = write('eth_a.jsonl', 'ethusdt', [0, 10, 20, 30]);
  const b = write('eth_b.jsonl', 'ethusdt', [15, 25, 40]);
  const btc = write('btc.jsonl', 'btcusdt', [5, 35]);

  it('are refused when the second one begins, naming both files and both times', async () => {
    const run = drain([btc, b, a]);
    await expect(run).rejects.toThrow(ParseError);
    await expect(run).rejects.toThrow(/eth_b\.jsonl .*2024-08-08T23:54:15\.015Z.*eth_a\.jsonl .*2024-08-08T23:54:15\.030Z/);
  });

  it('are refused by a catalog build, which reads through the same merge', async () => {
    const instruments = [makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!), makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!)];
    await expect(ReplayCatalog.build([a, b, btc], instruments)).rejects.toThrow(/eth_b\.jsonl .*eth_a\.jsonl/);
  });

  it('still chain when the next file starts at the very time the previous one ends', async () => {
    const c = write('eth_c.jsonl', 'ethusdt', [30, 45]);
    expect(await drain([c, a, btc])).toEqual([0, 5, 10, 20, 30, 30, 35, 45]);
  });
});
