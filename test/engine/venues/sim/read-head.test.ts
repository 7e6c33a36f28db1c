// Task H3 item 3: book-replay's file head and the recording merge's source head are one scan (readHead), each with its
// own idea of a line that names the symbol.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayBook, symbolOfLine } from '../../../../engine/venues/replay/book-replay.ts';
import { RecordingFile } from '../../../../engine/venues/replay/recording.ts';
import { HEAD_SCAN_LINES, readHead } from '../../../../engine/venues/sim/replay.ts';

const dir = mkdtempSync(join(tmpdir(), 'read-head-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SNAPSHOT = '{"lastUpdateId":1,"bids":[],"asks":[]}';
const DEPTH = '{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1723075200100,"s":"ETHUSDT","U":2,"u":3,"b":[],"a":[]}}';
const write = (name: string, lines: readonly string[]): string => {
  const file = join(dir, name);
  writeFileSync(file, `${lines.map((text, i) => `${1_723_075_200_000_000_000n + BigInt(i) * 1_000_000n} ${text}`).join('\n')}\n`);
  return file;
};

describe('readHead', () => {
  it('reads up to the first line that names the symbol, and the file reads on after it', async () => {
    const file = new RecordingFile(write('head.jsonl', [SNAPSHOT, SNAPSHOT, DEPTH, SNAPSHOT]));
    const head = await readHead(file, symbolOfLine);
    let next = file.nextSync();
    while (next === null) {
      await file.fill();
      next = file.nextSync();
    }
    file.close();
    expect([head.symbol, head.lines.map((l) => l.text), next?.text]).toEqual(['ETHUSDT', [SNAPSHOT, SNAPSHOT, DEPTH], SNAPSHOT]);
  });

  it(`gives up after ${HEAD_SCAN_LINES} lines that name no symbol`, async () => {
    const file = new RecordingFile(write('nameless.jsonl', [...Array<string>(HEAD_SCAN_LINES + 5).fill(SNAPSHOT), DEPTH]));
    const head = await readHead(file, symbolOfLine);
    file.close();
    expect([head.symbol, head.lines.length]).toEqual([undefined, HEAD_SCAN_LINES]);
  });

  it('lets book-replay tell a file symbol from a bare event past a REST snapshot', async () => {
    const bare = '{"e":"depthUpdate","E":1723075200100,"s":"ETHUSDT","U":2,"u":3,"b":[],"a":[]}';
    await expect(replayBook([write('bare.jsonl', [SNAPSHOT, bare])], { symbol: 'BTC/USDT' })).rejects.toThrow('symbol BTCUSDT not in recording (found ETHUSDT)');
  });
});
