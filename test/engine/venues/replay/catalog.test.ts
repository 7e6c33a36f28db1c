// The replay catalog against the text it was built from: every message of the bundled recording (real Binance
// ETH/USDT and BTC/USDT, 2024-08-08 23:54 → 00:05) published both ways, counters included; the cache file's life.
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { BinanceFramePublisher } from '../../../../engine/venues/binance/binance-feed.ts';
import type { FrameKind } from '../../../../engine/venues/binance/frames.ts';
import { DepthFrame, DepthParser, instrumentGrid } from '../../../../engine/venues/binance/parse-depth.ts';
import { ReplayCatalog } from '../../../../engine/venues/replay/catalog.ts';
import { RecordingMerge } from '../../../../engine/venues/sim/replay.ts';

const FILES = [
  'data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz',
  'data/recordings/spot_btcusdt_20240808.jsonl.gz', 'data/recordings/spot_btcusdt_20240809.jsonl.gz',
];
const INSTRUMENTS = [makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!), makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!)];
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'cobalt-catalog-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Seen = { ts: number; msg: EngineMsg };

function publisher(kindsBySymbol?: Record<string, readonly FrameKind[]>) {
  const bus = new Bus<EngineMsg>();
  const seen: Seen[] = [];
  let now = 0;
  for (const t of ['md.trade', 'md.bookTicker', 'md.depthRaw', 'md.snapshot', 'md.candle', 'md.depth'] as const) {
    bus.subscribe(t, (m) => void seen.push({ ts: now, msg: m }));
  }
  const pub = new BinanceFramePublisher({ bus, venue: 'binance', instruments: INSTRUMENTS, depth: 'raw', ...(kindsBySymbol ? { kindsBySymbol } : {}) });
  return { pub, seen, at: (t: number) => void (now = t) };
}

async function viaText(files: string[], kinds?: Record<string, readonly FrameKind[]>) {
  const p = publisher(kinds);
  const merge = await RecordingMerge.open(files);
  let lines = 0;
  for (;;) {
    const l = merge.nextSync() ?? (await merge.next());
    if (!l) break;
    lines++;
    p.at(l.tsMs);
    p.pub.publish(l.text, l.tsMs, l.symbol);
  }
  await merge.close();
  return { ...p, lines };
}

function viaCatalog(cat: ReplayCatalog, kinds?: Record<string, readonly FrameKind[]>) {
  const p = publisher(kinds);
  const c = cat.cursor(p.pub);
  let lines = 0;
  while (c.next()) {
    lines++;
    p.at(c.ts);
    c.publish();
  }
  return { ...p, lines };
}

// A depthRaw carrying text becomes the frame the consumers' parser makes of it, so both sides compare as frames.
function asFrames(seen: Seen[]): unknown[] {
  const parsers = new Map(INSTRUMENTS.map((i) => [i.symbol, new DepthParser(instrumentGrid(i))]));
  return seen.map(({ ts, msg }) => {
    if (msg.type !== 'md.depthRaw') return { ts, msg };
    const p = parsers.get(msg.symbol)!;
    expect(p.parse(msg.data)).toBe(true);
    const { data: _data, ...rest } = msg;
    return { ts, msg: rest, frame: { ...p.frame.clone(), bids: p.frame.bids.slice(0, 2 * p.frame.bidCount), asks: p.frame.asks.slice(0, 2 * p.frame.askCount) } };
  });
}

describe('ReplayCatalog on the bundled recording', () => {
  let catalog: ReplayCatalog;

  it('publishes every message, at the same line, with the same counters as the text', async () => {
    catalog = await ReplayCatalog.build(FILES, INSTRUMENTS);
    const text = await viaText(FILES);
    const cat = viaCatalog(catalog);
    expect(text.lines).toBe(179_318);
    expect([cat.lines, catalog.records]).toEqual([text.lines, text.lines]);
    expect(cat.seen.length).toBe(text.seen.length);
    const kinds = new Set(text.seen.map((s) => s.msg.type));
    expect(kinds).toEqual(new Set(['md.trade', 'md.bookTicker', 'md.depthRaw', 'md.snapshot']));
    // Depth goes out parsed: a DepthFrame, not the text.
    expect(cat.seen.find((s) => s.msg.type === 'md.depthRaw')!.msg).toMatchObject({ data: expect.any(DepthFrame) });
    expect(asFrames(cat.seen)).toStrictEqual(asFrames(text.seen));
    expect(cat.pub.counters).toEqual(text.pub.counters);
    expect(cat.pub.lanes.map((l) => l.decoder.counters)).toEqual(text.pub.lanes.map((l) => l.decoder.counters));
  });

  it('skips and counts the kinds a lane does not publish, as the text path does', async () => {
    const kinds = { 'BTC/USDT': ['trade', 'kline'] as FrameKind[] };
    const text = await viaText(FILES, kinds);
    const cat = viaCatalog(catalog, kinds);
    expect(text.pub.counters.ignored).toBeGreaterThan(70_000);
    expect(asFrames(cat.seen)).toStrictEqual(asFrames(text.seen));
    expect(cat.pub.counters).toEqual(text.pub.counters);
  });

  it('keeps a malformed line as text, so it is counted and skipped at replay as before', async () => {
    const dir = tempDir();
    const lines = gunzipSync(readFileSync(FILES[0]!)).toString('utf8').split('\n').slice(0, 400);
    // Break a depth diff (a level that is no number), a trade (no price) and a bookTicker (cut short).
    const broken = lines.map((l, i) => {
      if (i === 50 && l.includes('@depth')) return l.replace(/"b":\[\["/, '"b":[["x');
      if (l.includes('@trade') && i > 100 && i < 120) return l.replace(/"p":"[0-9.]+"/, '"p":"?"');
      if (l.includes('@bookTicker') && i > 200 && i < 205) return l.slice(0, 60);
      return l;
    });
    const file = join(dir, 'spot_ethusdt_broken.jsonl');
    writeFileSync(file, broken.join('\n'));
    const cat = await ReplayCatalog.build([file], INSTRUMENTS);
    const text = await viaText([file]);
    const replay = viaCatalog(cat);
    expect(text.pub.counters.malformed).toBeGreaterThan(0);
    expect(replay.pub.counters).toEqual(text.pub.counters);
    // The broken depth diff is published as text both ways; its consumers count it malformed.
    const raw = replay.seen.filter((s) => s.msg.type === 'md.depthRaw' && typeof s.msg.data === 'string');
    expect(raw.length).toBe(broken[50]!.includes('"x') ? 1 : 0);
    expect(replay.seen.map((s) => s.msg.type)).toEqual(text.seen.map((s) => s.msg.type));
  });

  it('is written once, read back whole, and rebuilt when its file changes or the cache is damaged', async () => {
    const dir = tempDir();
    const file = join(dir, 'spot_ethusdt_part.jsonl');
    writeFileSync(file, gunzipSync(readFileSync(FILES[0]!)).toString('utf8').split('\n').slice(0, 2_000).join('\n'));
    const a = await ReplayCatalog.open([file], INSTRUMENTS, join(dir, 'cat'));
    const b = await ReplayCatalog.open([file], INSTRUMENTS, join(dir, 'cat'));
    expect([a.built, b.built, b.path]).toEqual([true, false, a.path]);
    // b is the copy kept in memory; another recording's catalog replaces it, so the next open reads the file.
    const other = join(dir, 'spot_ethusdt_other.jsonl');
    writeFileSync(other, gunzipSync(readFileSync(FILES[0]!)).toString('utf8').split('\n').slice(2_000, 2_500).join('\n'));
    expect((await ReplayCatalog.open([other], INSTRUMENTS, join(dir, 'cat'))).built).toBe(true);
    const fromDisk = await ReplayCatalog.open([file], INSTRUMENTS, join(dir, 'cat'));
    expect([fromDisk.built, fromDisk.catalog === a.catalog]).toEqual([false, false]);
    // From the file, the header is read at once and the records in the background: nothing replays before they are in.
    expect([fromDisk.catalog.firstMs, fromDisk.catalog.lastMs, fromDisk.catalog.records]).toEqual([a.catalog.firstMs, a.catalog.lastMs, a.catalog.records]);
    expect(a.catalog.firstMs).toBeGreaterThan(1.7e12);
    expect(() => viaCatalog(fromDisk.catalog)).toThrow('its records are still loading');
    await fromDisk.catalog.loaded();
    expect(viaCatalog(fromDisk.catalog).seen).toStrictEqual(viaCatalog(a.catalog).seen);
    expect(viaCatalog(b.catalog).seen).toStrictEqual(viaCatalog(a.catalog).seen);
    // A file cut after its header was read: loaded() names it (the next open sees the cut and rebuilds).
    const whole = readFileSync(a.path);
    await (await ReplayCatalog.open([other], INSTRUMENTS, join(dir, 'cat'))).catalog.loaded();
    const cut = await ReplayCatalog.open([file], INSTRUMENTS, join(dir, 'cat'));
    expect(cut.built).toBe(false);
    writeFileSync(a.path, whole.subarray(0, whole.length - 800));
    await expect(cut.catalog.loaded()).rejects.toThrow(/replay catalog .* ends at byte .*delete it to rebuild/);
    writeFileSync(a.path, whole);
    // A damaged cache file is not trusted.
    writeFileSync(a.path, whole.subarray(0, whole.length - 800));
    const c = await ReplayCatalog.open([file], INSTRUMENTS, join(dir, 'cat'));
    expect([c.built, c.rebuiltBecause]).toEqual([true, expect.stringMatching(/^truncated/)]);
    writeFileSync(c.path, 'not one');
    expect((await ReplayCatalog.open([file], INSTRUMENTS, join(dir, 'cat'))).rebuiltBecause).toBe('not a catalog file');
    // A recording changed in place gets a new key, hence a new catalog.
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    const d = await ReplayCatalog.open([file], INSTRUMENTS, join(dir, 'cat'));
    expect([d.built, d.path === a.path]).toEqual([true, false]);
    // A missing recording is named, as the text reader names it.
    await expect(ReplayCatalog.open([join(dir, 'gone.jsonl')], INSTRUMENTS, join(dir, 'cat'))).rejects.toThrow(/cannot read recording .*gone\.jsonl/);
  });
});
