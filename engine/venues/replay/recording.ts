import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip, gunzipSync } from 'node:zlib';
import { ParseError } from '../../types/errors.ts';

/** One line of a recording: the local receive time and the JSON text after it. */
export interface RecordedLine {
  /** Local receive time in nanoseconds since the epoch (the recorder's clock). */
  tsLocalNs: bigint;
  /** The JSON part of the line (a combined-stream envelope or a bare REST snapshot). */
  text: string;
}

/** Counts of lines a reader could not split into `<ts_ns> <json>`. */
export interface RecordingStats {
  badLines: number;
}

const isGz = (file: string): boolean => file.endsWith('.gz');

/** Returns the line split into ts and JSON text, or undefined when it is not `<digits> <text>`. */
export function splitRecordedLine(line: string): RecordedLine | undefined {
  const sp = line.indexOf(' ');
  if (sp <= 0 || sp > 20) return undefined;
  for (let i = 0; i < sp; i++) {
    const c = line.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const text = line.endsWith('\r') ? line.slice(sp + 1, -1) : line.slice(sp + 1);
  if (text.length === 0) return undefined;
  return { tsLocalNs: BigInt(line.slice(0, sp)), text };
}

/**
 * Returns the lines of `files` in order (gzip or plain, chosen by the `.gz` suffix) as an async stream.
 * Blank lines are skipped; a line that is not `<ts_ns> <json>` is counted in `stats.badLines` and skipped.
 */
export async function* readRecordingLines(files: string[], stats?: RecordingStats): AsyncIterable<RecordedLine> {
  for (const file of files) {
    const raw = createReadStream(file);
    const input = isGz(file) ? raw.pipe(createGunzip()) : raw;
    raw.on('error', (err) => input.destroy(err));
    const rl = createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of rl) {
        if (line.length === 0) continue;
        const rec = splitRecordedLine(line);
        if (rec) yield rec;
        else if (stats) stats.badLines++;
      }
    } catch (err) {
      throw new ParseError(`cannot read recording ${file}: ${(err as Error).message}`, { cause: err });
    } finally {
      rl.close();
      raw.destroy();
    }
  }
}

/** Returns every line of `files` in order, read synchronously (small files, tests and benchmarks). */
export function readRecordingLinesSync(files: string[], stats?: RecordingStats): RecordedLine[] {
  const out: RecordedLine[] = [];
  for (const file of files) {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
      if (isGz(file)) buf = gunzipSync(buf);
    } catch (err) {
      throw new ParseError(`cannot read recording ${file}: ${(err as Error).message}`, { cause: err });
    }
    for (const line of buf.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      const rec = splitRecordedLine(line);
      if (rec) out.push(rec);
      else if (stats) stats.badLines++;
    }
  }
  return out;
}
