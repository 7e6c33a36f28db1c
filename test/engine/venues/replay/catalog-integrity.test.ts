// A cached catalog whose bytes were damaged (a flipped bit, a bad disk) used to replay garbage: one ticker record
// read as a depth record put the cursor out of step, and the backtest ended early as if finished. Each record's
// structure is checked as the cursor reaches it now: a damaged catalog stops the replay and is deleted, to be rebuilt. And a recording rewritten in place with
// its size and mtime kept (cp -p, rsync -t) used to reuse the stale catalog: the key holds the ctime now.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { BinanceFramePublisher } from '../../../../engine/venues/binance/binance-feed.ts';
import { ReplayCatalog } from '../../../../engine/venues/replay/catalog.ts';

const INSTRUMENTS = [makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!), makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!)];
const dir = mkdtempSync(join(tmpdir(), 'cobalt-catalog-integrity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const recording = (sym: string, from: number, to: number): string =>
  gunzipSync(readFileSync(`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`)).toString('utf8').split('\n').slice(from, to).join('\n') + '\n';
const eth = join(dir, 'spot_ethusdt.jsonl');
const btc = join(dir, 'spot_btcusdt.jsonl');
writeFileSync(eth, recording('eth', 0, 3_000));
writeFileSync(btc, recording('btc', 0, 3_000));
const catDir = join(dir, 'cat');

function replay(cat: ReplayCatalog): string[] {
  const bus = new Bus<EngineMsg>();
  const seen: string[] = [];
  for (const t of ['md.trade', 'md.bookTicker', 'md.depthRaw', 'md.snapshot'] as const) bus.subscribe(t, (m) => void seen.push(JSON.stringify(m)));
  const pub = new BinanceFramePublisher({ bus, venue: 'binance', instruments: INSTRUMENTS, depth: 'raw' });
  const c = cat.cursor(pub);
  while (c.next()) c.publish();
  return seen;
}

// Another catalog opened in between drops the in-memory copy, as a fresh process would find it.
const other = join(dir, 'spot_ethusdt_other.jsonl');
writeFileSync(other, recording('eth', 3_000, 3_100));
async function reopen() {
  await (await ReplayCatalog.open([other], INSTRUMENTS, catDir)).catalog.loaded();
  return ReplayCatalog.open([eth, btc], INSTRUMENTS, catDir);
}

/** The file's records, laid out as the format is: magic, u32 header length, JSON header, padding to 8, float64s. */
function layout(file: Buffer) {
  const len = file.readUInt32LE('COBALTCAT'.length);
  const start = (('COBALTCAT'.length + 4 + len + 7) & ~7);
  const nums = new Float64Array(file.buffer.slice(file.byteOffset + start, file.byteOffset + file.length));
  const at: Record<number, number[]> = { 0: [], 1: [], 2: [], 3: [] };
  for (let p = 0; p < nums.length;) {
    const k = nums[p]!;
    at[k]!.push(p);
    p += [4, 8, 9][k] ?? 11 + 2 * (nums[p + 9]! + nums[p + 10]!);
  }
  return { start, nums, at };
}

describe('ReplayCatalog: a damaged cache file', async () => {
  const built = await ReplayCatalog.open([eth, btc], INSTRUMENTS, catDir);
  const path = built.path;
  const whole = readFileSync(path);
  const intact = replay(built.catalog);
  const { start, nums, at } = layout(whole);
  // Record offsets well inside the file (the 20th of each kind).
  const ticker = at[2]![20]!;
  const trade = at[1]![20]!;
  const depth = at[3]![20]!;
  const damage = (edit: (x: Float64Array) => void): Buffer => {
    const x = nums.slice();
    edit(x);
    const b = Buffer.from(whole);
    Buffer.from(x.buffer).copy(b, start);
    return b;
  };
  const quoted = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it.each([
    // One bit: 2.0 is 0x4000…, 3.0 is 0x4008….
    { what: 'a ticker read as a depth record', bytes: () => damage((x) => void (new Uint8Array(x.buffer)[ticker * 8 + 6]! ^= 0x08)) },
    { what: 'a ticker\'s kind that is no kind', bytes: () => damage((x) => void (new Uint8Array(x.buffer)[ticker * 8 + 7]! ^= 0x01)) },
    { what: 'a depth record with one bid level more', bytes: () => damage((x) => void (x[depth + 9]! += 1)) },
    { what: 'a symbol index out of range', bytes: () => damage((x) => void (x[trade + 1] = 7)) },
    { what: 'a receive time an hour out', bytes: () => damage((x) => void (x[trade + 2]! += 3_600_000)) },
    { what: 'a header that counts one record more', bytes: () => {
      const text = whole.toString('latin1');
      const records = `"records":${built.catalog.records}`;
      expect(text).toContain(records);
      return Buffer.from(text.replace(records, `"records":${String(built.catalog.records + 1).padStart(records.length - 10, '0')}`), 'latin1');
    } },
  ])('stops the replay naming the file and the record, when it holds $what; deleted, it is rebuilt whole', async ({ bytes }) => {
    writeFileSync(path, bytes());
    const damaged = await reopen();
    expect(damaged.built).toBe(false);
    await damaged.catalog.loaded();
    expect(() => replay(damaged.catalog)).toThrow(new RegExp(`replay catalog ${quoted} is damaged at record \\d+ of \\d+: .*deleted, and the next run rebuilds it`));
    expect(existsSync(path)).toBe(false);
    const again = await reopen();
    expect(again.built).toBe(true);
    expect(replay(again.catalog)).toEqual(intact);
    expect(readFileSync(path).equals(whole)).toBe(true);
  });
});

describe('ReplayCatalog: a recording rewritten in place with its size and mtime kept', () => {
  it('gets a new catalog', async () => {
    const f = join(dir, 'spot_ethusdt_inplace.jsonl');
    const text = recording('eth', 0, 2_000);
    writeFileSync(f, text);
    const first = await ReplayCatalog.open([f], INSTRUMENTS, catDir);
    await first.catalog.loaded();
    const st = statSync(f);
    // touch -r keeps the mtime to the ns (utimes from JS numbers rounds it).
    execFileSync('touch', ['-r', f, `${f}.times`]);
    // Same length, other prices; then the times put back, as cp -p or rsync -t leave them.
    const edited = text.replaceAll('"p":"2683.80000000"', '"p":"9999.99000000"');
    expect(edited).not.toBe(text);
    writeFileSync(f, edited);
    execFileSync('touch', ['-r', `${f}.times`, f]);
    expect(statSync(f)).toMatchObject({ size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
    const second = await ReplayCatalog.open([f], INSTRUMENTS, catDir);
    expect(second.built).toBe(true);
    expect(second.path).not.toBe(first.path);
  });
});
