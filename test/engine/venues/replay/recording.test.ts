import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readRecordingLines, readRecordingLinesSync, splitRecordedLine, type RecordedLine } from '../../../../engine/venues/replay/recording.ts';

const head = new URL('../../../fixtures/binance/spot-btcusdt-head.jsonl', import.meta.url).pathname;

async function collect(it: AsyncIterable<RecordedLine>): Promise<RecordedLine[]> {
  const out: RecordedLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

describe('recording reader', () => {
  it('splits `<ts_ns> <json>` exactly and refuses other shapes', () => {
    expect(splitRecordedLine('1723161254087891268 {"a":1}')).toEqual({ tsLocalNs: 1723161254087891268n, text: '{"a":1}' });
    expect(splitRecordedLine('{"a":1}')).toBeUndefined();
    expect(splitRecordedLine('12x {"a":1}')).toBeUndefined();
    expect(splitRecordedLine('12 ')).toBeUndefined();
  });

  it('reads plain and gz files in order, the same lines async and sync, counting bad lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cobalt-rec-'));
    const plain = readFileSync(head, 'utf8');
    const gz = join(dir, 'part2.jsonl.gz');
    writeFileSync(gz, gzipSync(`${plain}not a line\n\n`));
    const stats = { badLines: 0 };
    const lines = await collect(readRecordingLines([head, gz], stats));
    expect(lines.length).toBe(8);
    expect(stats.badLines).toBe(1);
    expect(lines[0]!.tsLocalNs).toBe(1723161253937085768n);
    expect(lines[4]!.text).toBe(lines[0]!.text);
    expect(readRecordingLinesSync([head, gz])).toEqual(lines);
  });

  it('fails with the file name when a file is missing', async () => {
    await expect(collect(readRecordingLines(['/nonexistent/x.jsonl.gz']))).rejects.toThrow(/nonexistent\/x\.jsonl\.gz/);
    expect(() => readRecordingLinesSync(['/nonexistent/y.jsonl'])).toThrow(/nonexistent\/y\.jsonl/);
  });
});
