import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { nsToMs } from '../../../../engine/types/time.ts';
import { readRecordingLines, readRecordingLinesSync, RecordingFile, splitRecordedLine, type RecordedLine, type RecordingLine, type RecordingReadOptions } from '../../../../engine/venues/replay/recording.ts';

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

  it('yields plain { tsLocalNs, text } objects, as before', async () => {
    const lines = await collect(readRecordingLines([head]));
    expect(Object.keys(lines[0]!).sort()).toEqual(['text', 'tsLocalNs']);
  });
});

/** The reference: readline's line breaks (\n, \r\n, lone \r), blank lines skipped, `<1..20 digits> <text>` kept. */
function reference(content: string): { lines: { ns: bigint; text: string }[]; bad: number } {
  const lines: { ns: bigint; text: string }[] = [];
  let bad = 0;
  for (const l of content.split(/\r\n|\r|\n/)) {
    if (l.length === 0) continue;
    const m = /^(\d{1,20}) ([\s\S]+)$/.exec(l);
    if (m) lines.push({ ns: BigInt(m[1]!), text: m[2]! });
    else bad++;
  }
  return { lines, bad };
}

/** Reads `file` with RecordingFile (nextSync/fill) and returns its lines and bad-line count. */
async function readFile(file: string, opts?: RecordingReadOptions): Promise<{ lines: RecordingLine[]; bad: number }> {
  const stats = { badLines: 0 };
  const f = new RecordingFile(file, stats, opts);
  const lines: RecordingLine[] = [];
  try {
    for (;;) {
      const l = f.nextSync();
      if (l === undefined) break;
      if (l === null) await f.fill();
      else lines.push(l);
    }
  } finally {
    f.close();
  }
  return { lines, bad: stats.badLines };
}

describe('chunked recording reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cobalt-rec-chunks-'));
  const real = readFileSync(head, 'utf8').split('\n').filter((l) => l.length > 0);
  // Every awkward shape at once: CRLF, a lone CR, blank lines (LF and CRLF), bad lines (no ts, letters in the ts, a
  // ts of 21 digits, no text), non-ASCII text (2-, 3- and 4-byte utf8), a line longer than any chunk, short and
  // 20-digit timestamps, and a last line without a newline.
  const content = [
    `${real[0]}\r\n`, `${real[1]}\n`, '\n', '\r\n', 'not a recorded line\n', '12x {"a":1}\n',
    `${'1'.repeat(21)} {"too":"long"}\n`, '1723161254087891268 \n', `${real[2]}\r`,
    '1723161254087891269 {"name":"café ≥ 𝄞 ünïcödé"}\n', `1723161254087891270 {"long":"${'x'.repeat(5000)}"}\n`,
    '7 {"short":1}\n', '1234 {"ms":1}\n', '99999999999999999999 {"beyond":"2^53 us"}\r\n', `${real[3]}`,
  ].join('');
  const ref = reference(content);
  const plain = join(dir, 'awkward.jsonl');
  const gz = join(dir, 'awkward.jsonl.gz');
  writeFileSync(plain, content);
  writeFileSync(gz, gzipSync(content));

  it('the reference itself sees every case (guards the fixture)', () => {
    expect(ref.lines.length).toBe(9);
    expect(ref.bad).toBe(4);
    expect(ref.lines.some((l) => l.text.includes('𝄞'))).toBe(true);
    expect(ref.lines.at(-1)!.text).toBe(real[3]!.slice(20));
  });

  it('the reference breaks lines exactly as node readline (the previous reader) did', async () => {
    const rl = createInterface({ input: createReadStream(gz).pipe(createGunzip()), crlfDelay: Infinity });
    const seen: string[] = [];
    for await (const l of rl) seen.push(l);
    expect(seen.filter((l) => l.length > 0)).toEqual(content.split(/\r\n|\r|\n/).filter((l) => l.length > 0));
  });

  // Plain files are read `chunkBytes` at a time (down to one byte: a boundary inside every line, every CRLF and
  // every utf8 sequence); gzip output comes in chunks of at least 64 bytes. Pieces split the chunks further.
  const cases: [string, RecordingReadOptions][] = [
    ['plain', { chunkBytes: 1, pieceBytes: 1 }], ['plain', { chunkBytes: 2, pieceBytes: 3 }], ['plain', { chunkBytes: 7, pieceBytes: 5 }],
    ['plain', { chunkBytes: 97, pieceBytes: 40 }], ['plain', {}],
    ['gz', { chunkBytes: 64, pieceBytes: 1 }], ['gz', { chunkBytes: 100, pieceBytes: 33 }], ['gz', { chunkBytes: 4096, pieceBytes: 300 }], ['gz', {}],
  ];
  it.each(cases)('%s file, %o: the same lines, timestamps and bad-line count as the reference', async (kind, opts) => {
    const { lines, bad } = await readFile(kind === 'gz' ? gz : plain, opts);
    expect(bad).toBe(ref.bad);
    expect(lines.map((l) => ({ ns: l.tsLocalNs, text: l.text }))).toEqual(ref.lines);
    for (const l of lines) expect(l.tsMs).toBe(nsToMs(l.tsLocalNs));
  });

  it('readRecordingLines gives the reference lines too, over chunk boundaries', async () => {
    const stats = { badLines: 0 };
    const lines = await collect(readRecordingLines([plain, gz], stats, { chunkBytes: 64, pieceBytes: 17 }));
    expect(lines).toEqual([...ref.lines, ...ref.lines].map((l) => ({ tsLocalNs: l.ns, text: l.text })));
    expect(stats.badLines).toBe(2 * ref.bad);
  });

  it('orders by the exact ns: the last three digits, and past 2^53 microseconds', async () => {
    const f = join(dir, 'order.jsonl');
    writeFileSync(f, ['1723161254087891268 a', '1723161254087891267 b', '1723161254087891268 c', '99999999999999999999 d', '99999999999999999998 e', '5 f'].join('\n'));
    const [a, b, c, d, e, g] = (await readFile(f)).lines;
    expect([a!.before(b!), b!.before(a!), a!.before(c!), c!.before(a!)]).toEqual([false, true, false, false]);
    expect([e!.before(d!), d!.before(e!), a!.before(d!), d!.before(a!), g!.before(a!)]).toEqual([true, false, true, false, true]);
    expect(d!.tsLocalNs).toBe(99999999999999999999n);
    expect(d!.tsMs).toBe(nsToMs(99999999999999999999n));
    expect(g!.tsMs).toBe(0);
  });

  it('fails with a clear error naming the file when a gzip file is truncated, after the lines before the cut', async () => {
    const body = Array.from({ length: 3000 }, (_, i) => `${1723161254087891268n + BigInt(i)} {"stream":"btcusdt@trade","data":{"t":${i}}}`).join('\n');
    const cut = join(dir, 'truncated.jsonl.gz');
    const full = gzipSync(body);
    writeFileSync(cut, full.subarray(0, Math.floor(full.length * 0.6)));
    const seen: RecordedLine[] = [];
    const read = async (): Promise<void> => {
      for await (const l of readRecordingLines([cut], undefined, { chunkBytes: 1024 })) seen.push(l);
    };
    await expect(read()).rejects.toThrow(/cannot read recording .*truncated\.jsonl\.gz: unexpected end of file/);
    expect(seen.length).toBeGreaterThan(100);
    expect(seen.length).toBeLessThan(3000);
    expect(seen.every((l, i) => l.text === `{"stream":"btcusdt@trade","data":{"t":${i}}}`)).toBe(true);
  });
});
