import { describe, expect, it } from 'vitest';
import { DepthParser, depthGrid, instrumentGrid } from '../../../../engine/venues/binance/parse-depth.ts';
import { readRecordingLinesSync } from '../../../../engine/venues/replay/recording.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { parseDecimal, type Decimal } from '../../../../engine/types/decimal.ts';
import { toSteps } from '../../../../engine/types/price.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const fixture = (name: string) => new URL(`../../../fixtures/binance/${name}`, import.meta.url).pathname;
const firstSpotFrame = readRecordingLinesSync([fixture('spot-btcusdt-head.jsonl')])[0]!.text;

/** The reference: JSON.parse + exact bigint steps; off-grid sizes rounded half-up to a lot, never to 0. */
function refSteps(s: string, step: Decimal, isPrice: boolean): number {
  try {
    return toSteps(s, step, isPrice ? 'price' : 'quantity');
  } catch (err) {
    if (isPrice) throw err;
    const v = parseDecimal(s);
    const scale = Math.max(v.scale, step.scale);
    const num = v.mantissa * 10n ** BigInt(scale - v.scale);
    const den = step.mantissa * 10n ** BigInt(scale - step.scale);
    const q = (2n * num + den) / (2n * den);
    return Number(q === 0n ? 1n : q);
  }
}

function reference(text: string, tick: Decimal, lot: Decimal) {
  const j = JSON.parse(text);
  const d = j.data ?? j;
  const lv = (a: [string, string][]) => a.flatMap(([p, q]) => [refSteps(p, tick, true), refSteps(q, lot, false)]);
  return { U: d.U, u: d.u, pu: d.pu ?? -1, E: d.E, T: d.T ?? -1, s: d.s, bids: lv(d.b), asks: lv(d.a) };
}

function parsed(p: DepthParser) {
  const f = p.frame;
  return {
    U: f.firstUpdateId, u: f.finalUpdateId, pu: f.prevFinalUpdateId, E: f.eventTime, T: f.txTime, s: f.symbol,
    bids: f.bids.slice(0, f.bidCount * 2), asks: f.asks.slice(0, f.askCount * 2),
  };
}

describe('DepthParser', () => {
  it('reads every field of a recorded spot frame into ticks and lots', () => {
    const p = new DepthParser(instrumentGrid(BTC));
    expect(p.parse(firstSpotFrame)).toBe(true);
    const f = p.frame;
    expect([f.firstUpdateId, f.finalUpdateId, f.prevFinalUpdateId, f.eventTime, f.txTime, f.symbol])
      .toEqual([50093239189, 50093239202, -1, 1723161255208, -1, 'BTCUSDT']);
    expect(f.bids.slice(0, 2 * f.bidCount)).toEqual([6173763, 0, 6173017, 0, 5685458, 0]);
    expect(f.askCount).toBe(9);
    expect(f.asks.slice(0, 4)).toEqual([6183764, 154698, 6183985, 0]);
    expect(f.asks.slice(16, 18)).toEqual([6193764, 2000]);
  });

  it('reads the same frame from a Buffer (a ws message)', () => {
    const p = new DepthParser(instrumentGrid(BTC));
    expect(p.parse(Buffer.from(firstSpotFrame))).toBe(true);
    expect(p.frame.finalUpdateId).toBe(50093239202);
  });

  it('reads a USD-M futures frame with pu and T, keys in another order, bare and with whitespace', () => {
    const p = new DepthParser(depthGrid(parseDecimal('0.1'), parseDecimal('0.001')));
    const text = '{ "b": [ ["20376.90", "0.001"] ], "pu": 2098041693400, "T": 1667347199935, "u": 2098041696700,\n'
      + ' "U": 2098041693435, "s": "BTCUSDT", "a": [], "E": 1667347199939, "e": "depthUpdate" }';
    expect(p.parse(text)).toBe(true);
    expect(parsed(p)).toEqual({
      U: 2098041693435, u: 2098041696700, pu: 2098041693400, E: 1667347199939, T: 1667347199935, s: 'BTCUSDT',
      bids: [203769, 1], asks: [],
    });
  });

  it('reads the real futures diff of the fixture (pu present) equal to the JSON reference', () => {
    const line = readRecordingLinesSync([fixture('futures-btcusdt-depth.jsonl')])[1]!.text;
    const p = new DepthParser(depthGrid(parseDecimal('0.1'), parseDecimal('0.001'), 'reject'));
    expect(p.parse(line), p.frame.error).toBe(true);
    expect(parsed(p)).toEqual(reference(line, parseDecimal('0.1'), parseDecimal('0.001')));
  });

  const bad = (from: string, to: string) => firstSpotFrame.replace(from, to);
  it.each([
    ['NaN price', bad('"61737.63000000"', '"NaN"')],
    ['negative quantity', bad('"1.54698000"', '"-1.54698000"')],
    ['off-grid price', bad('"61737.63000000"', '"61737.635"')],
    ['exponent', bad('"1.54698000"', '"1.5e-3"')],
    ['empty quantity', bad('"1.54698000"', '""')],
    ['trailing dot', bad('"1.54698000"', '"1."')],
    ['unquoted number', bad('"1.54698000"', '1.54698')],
    ['zero price', bad('"61737.63000000"', '"0.00"')],
    ['three-entry level', bad('["61730.17000000","0.00000000"]', '["61730.17000000","0.00000000","x"]')],
    ['truncated frame', firstSpotFrame.slice(0, 300)],
    ['missing closing brace', firstSpotFrame.slice(0, -1)],
    ['trailing garbage', `${firstSpotFrame}x`],
    ['missing u', bad('"u":50093239202,', '')],
    ['fractional U', bad('"U":50093239189', '"U":50093239189.5')],
    ['negative E', bad('"E":1723161255208', '"E":-1')],
    ['U after u', bad('"U":50093239189', '"U":50093239999')],
    ['other event type', bad('"depthUpdate"', '"depthUpdat"')],
    ['not JSON', 'hello'],
    ['empty', ''],
  ])('rejects %s as malformed', (_name, text) => {
    const p = new DepthParser(instrumentGrid(BTC));
    expect(p.parse(text)).toBe(false);
    expect(p.frame.error).not.toBe('');
  });

  it('rounds an off-grid quantity half-up (never to 0) and counts it; rejects it under qtyOffGrid reject', () => {
    const text = bad('"1.54698000"', '"25.426189"').replace('"0.32329000"', '"0.000001"');
    const round = new DepthParser(instrumentGrid(BTC));
    expect(round.parse(text)).toBe(true);
    expect([round.frame.asks[1], round.frame.asks[7], round.frame.qtyRounded]).toEqual([2542619, 1, 2]);
    const strict = new DepthParser(instrumentGrid(BTC, 'reject'));
    expect(strict.parse(text)).toBe(false);
  });

  it('equals JSON.parse + exact toSteps on every depth frame of the bundled recordings', () => {
    const files = ['btc', 'eth'].flatMap((s) => [`data/recordings/spot_${s}usdt_20240808.jsonl.gz`, `data/recordings/spot_${s}usdt_20240809.jsonl.gz`]);
    let frames = 0;
    let rounded = 0;
    for (const file of files) {
      const inst = file.includes('btc') ? BTC : ETH;
      const p = new DepthParser(instrumentGrid(inst));
      for (const { text } of readRecordingLinesSync([file])) {
        if (!text.includes('@depth')) continue;
        expect(p.parse(text), p.frame.error).toBe(true);
        rounded += p.frame.qtyRounded;
        const got = parsed(p);
        const want = reference(text, inst.tickSize, inst.lotSize);
        if (JSON.stringify(got) !== JSON.stringify(want)) expect(got).toEqual(want);
        frames++;
      }
    }
    expect(frames).toBe(3451 + 3044 + 3434 + 3036);
    // The 10 real off-grid sizes (levels far from the touch, e.g. 25.426189 BTC at 200000) hit the rounding path.
    expect(rounded).toBe(10);
  });

  it('a second parser of the same text on the same grid takes a copy of the first frame, equal to its own parse', () => {
    const files = ['data/recordings/spot_ethusdt_20240808.jsonl.gz'];
    const cob = new DepthParser(instrumentGrid(ETH));
    const paper = new DepthParser(instrumentGrid(ETH));
    const alone = new DepthParser(instrumentGrid(ETH));
    let frames = 0;
    let previous: ReturnType<typeof parsed> | undefined;
    for (const { text } of readRecordingLinesSync(files)) {
      if (!text.includes('@depth')) continue;
      expect(cob.parse(text)).toBe(true);
      const held = parsed(cob);
      expect(paper.parse(text)).toBe(true); // the memo hit
      // Parse it fresh by interleaving another text first, so `alone` cannot take the memo.
      if (previous) expect(alone.parse(firstSpotFrame)).toBe(true);
      expect(alone.parse(text)).toBe(true);
      const want = parsed(alone);
      if (JSON.stringify(parsed(paper)) !== JSON.stringify(want)) expect(parsed(paper)).toEqual(want);
      expect(paper.frame.qtyRounded).toBe(alone.frame.qtyRounded);
      // The copy is the second parser's own: the first one moving on does not change it.
      expect(parsed(cob)).toEqual(held);
      previous = want;
      frames++;
    }
    expect(frames).toBe(3434);
    // The frames do not share arrays.
    expect(paper.frame.bids).not.toBe(cob.frame.bids);
  });

  it('the memo copies a failure with its reason, and another grid parses for itself', () => {
    const bad = firstSpotFrame.slice(0, 60);
    const a = new DepthParser(instrumentGrid(BTC));
    const b = new DepthParser(instrumentGrid(BTC));
    expect(a.parse(bad)).toBe(false);
    expect(b.parse(bad)).toBe(false);
    expect(b.frame.error).toBe(a.frame.error);
    expect(b.frame.error).not.toBe('');
    // A finer tick: prices land on another grid, so a copy would be wrong; it must parse again.
    const fine = new DepthParser(depthGrid(parseDecimal('0.001'), BTC.lotSize));
    const own = new DepthParser(instrumentGrid(BTC));
    expect(own.parse(firstSpotFrame)).toBe(true);
    expect(fine.parse(firstSpotFrame)).toBe(true);
    expect(fine.frame.bids.slice(0, fine.frame.bidCount * 2)).toEqual(reference(firstSpotFrame, parseDecimal('0.001'), BTC.lotSize).bids);
    expect(fine.frame.bids[0]).toBe(own.frame.bids[0]! * 10);
  });

  it('reads prices on a whole-number tick (scale 0): trailing zero fractions pass, others are off the grid', () => {
    const p = new DepthParser(depthGrid(parseDecimal('1'), parseDecimal('1')));
    const frame = (px: string) => `{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["${px}","3"]],"a":[]}`;
    expect([p.parse(frame('100')), p.frame.bids[0], p.parse(frame('100.00')), p.frame.bids[0], p.parse(frame('100.5'))])
      .toEqual([true, 100, true, 100, false]);
    expect([p.steps('7.0', true), p.steps('7.1', true)]).toEqual([7, -1]);
  });

  it('leaves nothing of a longer frame behind for a shorter one parsed after it (reused scratch buffer)', () => {
    const p = new DepthParser(instrumentGrid(BTC));
    expect(p.parse(firstSpotFrame)).toBe(true);
    // A prefix of the same frame: the old bytes after it must read as the end, not as the rest of the frame.
    for (const cut of [firstSpotFrame.length - 1, firstSpotFrame.indexOf('"a":[') + 6, 40]) {
      expect(p.parse(firstSpotFrame.slice(0, cut)), `cut at ${cut}`).toBe(false);
    }
    expect(p.parse(firstSpotFrame)).toBe(true);
    expect(p.frame.askCount).toBe(9);
  });

  it('skips unknown non-ASCII string values and reads the same symbol from text and bytes', () => {
    const text = firstSpotFrame.replace('"e":"depthUpdate"', '"note":"prix ≥ 61 000 €","e":"depthUpdate"');
    const p = new DepthParser(instrumentGrid(BTC));
    expect(p.parse(text), p.frame.error).toBe(true);
    expect([p.frame.symbol, p.frame.askCount]).toEqual(['BTCUSDT', 9]);
    expect(p.parse(Buffer.from(text))).toBe(true);
    expect(p.frame.symbol).toBe('BTCUSDT');
    expect([p.steps('6183763', true), p.steps('61837.6٣', true), p.steps('', false), p.steps('1.5"', false)]).toEqual([618376300, -1, -1, -1]);
  });

  it('parses a lone decimal with the same rules', () => {
    const p = new DepthParser(instrumentGrid(BTC));
    expect([p.steps('61837.63000000', true), p.steps('3.78826000', false), p.steps('1.001', true), p.steps('1"', true)])
      .toEqual([6183763, 378826, -1, -1]);
  });
});
