// The data a config names, checked before anything opens it: `config check`, `cobalt run` and `cobalt backtest` all
// refuse what these find, so a path that is a folder, a file that is no recording, a recording listed twice, a kline
// folder without kline files or prices off the configured tick end as one line each rather than a stack trace, a
// silent empty history or a replay whose every price is refused.
import { closeSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { klinesFileMatches } from '../market/klines-csv.ts';
import { frameStreamOf, splitRecordedLine, type FrameStream } from '../venues/replay/recording.ts';
import { isMultipleOf, instrumentSpecsOf, type Config } from './schema.ts';

/** Compressed (or plain) bytes of a recording read to check it: some hundred trades and quotes of a Binance capture. */
export const RECORDING_HEAD_BYTES = 64 * 1024;
// A bound on what that prefix may inflate to: a real capture compresses about tenfold, a crafted file far more.
const MAX_HEAD_TEXT = 16 * 1024 * 1024;
const TIMEFRAMES = ['1s', '1m', '1h', '1d'] as const;
// The prices of the frames checked against the tick: a trade's price, a bookTicker's best bid and ask.
const priceRe = (key: string): RegExp => new RegExp(`"${key}":"(\\d+(?:\\.\\d+)?)"`);
const PRICE_RES: Readonly<Record<string, readonly RegExp[]>> = { trade: [priceRe('p')], aggTrade: [priceRe('p')], bookTicker: [priceRe('b'), priceRe('a')] };

type PathKind = 'missing' | 'file' | 'directory' | 'other' | { readonly unreadable: string };

function pathKind(p: string): PathKind {
  try {
    const st = statSync(p);
    return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  } catch (err) {
    // ENOTDIR: a file stands where a folder on the way should be; the path is not there, and its parent says why.
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : { unreadable: (err as Error).message };
  }
}

/**
 * Returns what is wrong with the data paths of `config`, one `key: problem` line each (paths as written): a recording
 * that is missing, not a file, not a recording, listed twice, or whose first prices are off its symbol's tick; a kline
 * folder that is missing, not a folder, or holds no kline file of the config's symbols; a catalog folder that is a file.
 */
export function missingDataPaths(config: Config): string[] {
  return [...replayFileProblems(config), ...klinesDirProblems(config), ...catalogDirProblems(config.data.catalogDir)];
}

function replayFileProblems(config: Config): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  config.data.replayFiles.forEach((file, i) => {
    const key = `data.replayFiles[${i}]`;
    const kind = pathKind(file);
    if (kind !== 'file') {
      problems.push(`${key}: ${kind === 'missing' ? `no such file ${file}` : `${file} ${kindProblem(kind, 'a recording file')}`}`);
      return;
    }
    // The same recording twice would be replayed twice (the merge does not tell): refuse it by the file it resolves to.
    const real = realpathSync(file);
    const first = seen.get(real);
    if (first !== undefined) {
      problems.push(`${key}: ${file} is the same file as data.replayFiles[${first}]: each recording is replayed once, list it once`);
      return;
    }
    seen.set(real, i);
    const problem = recordingProblem(file, config);
    if (problem !== undefined) problems.push(`${key}: ${problem}`);
  });
  return problems;
}

function kindProblem(kind: Exclude<PathKind, 'missing'>, expected: string): string {
  if (typeof kind === 'object') return `cannot be read: ${kind.unreadable}`;
  return `is ${kind === 'directory' ? 'a directory' : kind === 'file' ? 'a file' : 'not a regular file'}, not ${expected}`;
}

// Returns why `file` is not a recording the engine can replay on the config's grid, or undefined.
function recordingProblem(file: string, config: Config): string | undefined {
  let lines: string[];
  try {
    lines = headLines(file);
  } catch (err) {
    return `${file} cannot be read as a recording: ${(err as Error).message}`;
  }
  // `<receive_ts_ns> {"stream":"<symbol>@<kind>…`: the combined-stream frames, the lines that tell a recording's symbol.
  const frames = lines.flatMap((line) => {
    const stream = frameStreamOf(splitRecordedLine(line)?.text ?? '');
    return stream ? [{ ...stream, line }] : [];
  });
  if (frames.length === 0) {
    return `${file} is not a recording: no '<receive_ts_ns> {"stream":…}' line in its first ${RECORDING_HEAD_BYTES / 1024} KiB (record one with 'cobalt record')`;
  }
  return offGridPrice(file, frames, config);
}

// The whole lines of the first RECORDING_HEAD_BYTES of `file`, inflated when its name ends in .gz (as the readers do).
function headLines(file: string): string[] {
  const buf = Buffer.alloc(RECORDING_HEAD_BYTES);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  const head = buf.subarray(0, n);
  // Z_SYNC_FLUSH: the prefix ends mid-stream, and what it inflates to so far is wanted, not an "unexpected end".
  const text = (file.endsWith('.gz') ? gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: MAX_HEAD_TEXT }) : head).toString('utf8');
  const lines = text.split(/\r?\n/);
  // The last line may be cut by the prefix; a file shorter than the prefix ends with a whole one (or none).
  if (n === buf.length) lines.pop();
  return lines;
}

// Returns the first price of a configured symbol in the head that is not a whole number of its tick, named with the
// key that sets the tick, or undefined. The data is parsed on that grid: such a replay has every price refused.
function offGridPrice(file: string, frames: readonly (FrameStream & { readonly line: string })[], config: Config): string | undefined {
  const specs = instrumentSpecsOf(config);
  const bySymbol = new Map([config.symbols.primary, config.symbols.reference]
    .filter((s) => Object.hasOwn(specs, s))
    .map((s) => [s.replace('/', ''), specs[s]!] as const));
  for (const f of frames) {
    const spec = bySymbol.get(f.symbol);
    for (const re of PRICE_RES[f.kind] ?? []) {
      const price = re.exec(f.line)?.[1];
      if (spec === undefined || price === undefined || isMultipleOf(price, spec.tickSize)) continue;
      const setBy = Object.hasOwn(config.instruments, spec.symbol)
        ? `instruments[${JSON.stringify(spec.symbol)}].tickSize ${spec.tickSize}`
        : `the bundled ${spec.symbol} tick size ${spec.tickSize} (set instruments[${JSON.stringify(spec.symbol)}] to the venue's)`;
      return `${file} has ${spec.symbol} ${f.kind} price ${price}, not a multiple of ${setBy}: the recording's prices are on a finer grid, which the engine cannot read on this one (no book, no fill)`;
    }
  }
  return undefined;
}

function klinesDirProblems(config: Config): string[] {
  const symbols = [config.symbols.primary, config.symbols.reference];
  const problems: string[] = [];
  config.data.klinesDirs.forEach((dir, i) => {
    const key = `data.klinesDirs[${i}]`;
    const kind = pathKind(dir);
    if (kind === 'missing') problems.push(`${key}: no such directory ${dir}`);
    else if (kind !== 'directory') problems.push(`${key}: ${dir} ${kindProblem(kind, 'a directory of kline CSV files')}`);
    else if (!readdirSync(dir).some((name) => symbols.some((s) => TIMEFRAMES.some((tf) => klinesFileMatches(name, s, tf))))) {
      // The archive would find nothing there and the engine would start without history, saying nothing.
      problems.push(`${key}: ${dir} holds no kline file of ${symbols.join(' or ')} (named like ${symbols[0]!.replace('/', '_')}-1m.csv.gz); `
        + 'leave it out of data.klinesDirs to run without kline history');
    }
  });
  return problems;
}

// The catalog folder is created on first use: a file in its place, or in the place of a folder above it, fails then.
function catalogDirProblems(dir: string): string[] {
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    const kind = pathKind(p);
    if (kind === 'directory') return [];
    if (kind !== 'missing') {
      const what = p === path.resolve(dir) ? dir : `${p} (above ${dir})`;
      return [`data.catalogDir: ${what} ${kindProblem(kind, 'a directory')}`];
    }
    if (path.dirname(p) === p) return [];
  }
}
