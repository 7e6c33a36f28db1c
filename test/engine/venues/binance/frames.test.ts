import { describe, expect, it } from 'vitest';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { BinanceFrameDecoder, classifyFrame } from '../../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../../engine/venues/replay/recording.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const fixture = (name: string) => new URL(`../../../fixtures/binance/${name}`, import.meta.url).pathname;
const [depth, , ticker, trade] = readRecordingLinesSync([fixture('spot-btcusdt-head.jsonl')]);
const [fsnap, fdiff] = readRecordingLinesSync([fixture('futures-btcusdt-depth.jsonl')]);

describe('BinanceFrameDecoder (recorded frames)', () => {
  it('classifies frames by stream name or keys', () => {
    expect([depth, ticker, trade, fsnap, fdiff].map((l) => classifyFrame(l!.text)))
      .toEqual(['depth', 'bookTicker', 'trade', 'snapshot', 'depth']);
    expect(classifyFrame('{"result":null,"id":1}')).toBe('other');
  });

  it('ignores partial-book streams (depth5/10/20), which have no update ids to chain, instead of calling them malformed', () => {
    const env = (stream: string) => `{"stream":"btcusdt@${stream}","data":{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}}`;
    expect(['depth20@100ms', 'depth5', 'depth10@1000ms'].map((s) => classifyFrame(env(s)))).toEqual(['other', 'other', 'other']);
    expect(['depth', 'depth@100ms'].map((s) => classifyFrame(env(s)))).toEqual(['depth', 'depth']);
    const d = new BinanceFrameDecoder(BTC);
    expect(d.decodeText(env('depth20@100ms'), 0)).toMatchObject({ type: 'ignored' });
    expect(d.counters.malformed).toBe(0);
  });

  it('decodes a spot depthUpdate into md.depth with integer levels', () => {
    const m = new BinanceFrameDecoder(BTC).decode(depth!);
    expect(m).toMatchObject({
      type: 'md.depth', venue: 'binance', symbol: 'BTC/USDT', tsExchange: 1723161255208, tsLocal: 1723161253937.085,
      firstUpdateId: 50093239189, finalUpdateId: 50093239202,
    });
    if (m.type !== 'md.depth') throw new Error(m.type);
    expect(m.bids).toEqual([[6173763, 0], [6173017, 0], [5685458, 0]]);
    expect(m.asks[0]).toEqual([6183764, 154698]);
    expect('prevFinalUpdateId' in m).toBe(false);
  });

  it('decodes bookTicker (local time as exchange time: spot has no E) and trade', () => {
    const d = new BinanceFrameDecoder(BTC);
    expect(d.decode(ticker!)).toEqual({
      type: 'md.bookTicker', venue: 'binance', symbol: 'BTC/USDT', tsExchange: 1723161254087.891, tsLocal: 1723161254087.891,
      updateId: 50093239212, bid: 6183763, bidLots: 378826, ask: 6183764, askLots: 154698,
    });
    expect(d.decode(trade!)).toEqual({
      type: 'md.trade', venue: 'binance', symbol: 'BTC/USDT', tsExchange: 1723161255342, tsLocal: 1723161254087.896,
      tradeId: 3735683259, price: 6183763, lots: 2000, buyerMaker: true,
    });
  });

  it('decodes the futures snapshot (with E) and futures diff (with pu)', () => {
    const d = new BinanceFrameDecoder(BTC);
    const s = d.decode(fsnap!);
    const f = d.decode(fdiff!);
    expect(s).toMatchObject({ type: 'md.snapshot', lastUpdateId: 2098021528332, tsExchange: 1667346579146 });
    expect(f).toMatchObject({ type: 'md.depth', firstUpdateId: 2098041693435, finalUpdateId: 2098041696700, prevFinalUpdateId: 2098041693400 });
    if (s.type !== 'md.snapshot') throw new Error(s.type);
    expect([s.bids.length, s.asks.length, s.bids[0]]).toEqual([100, 0, [2037700, 177000]]);
  });

  it.each([
    ['trade with a bad price', trade!.text.replace('"61837.63000000"', '"6183x.63"')],
    ['bookTicker cut short', ticker!.text.slice(0, 80)],
    ['trade without m', trade!.text.replace('"m":true,', '')],
    ['depth with NaN', depth!.text.replace('"0.00000000"', '"NaN"')],
  ])('counts a %s as malformed and says why', (_name, text) => {
    const d = new BinanceFrameDecoder(BTC);
    const m = d.decode({ tsLocalNs: 0n, text });
    expect(m.type).toBe('malformed');
    if (m.type === 'malformed') expect(m.reason).not.toBe('');
    expect(d.counters.malformed).toBe(1);
  });

  it('ignores frames of another symbol without counting them malformed', () => {
    const d = new BinanceFrameDecoder(makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!));
    expect([d.decode(depth!).type, d.decode(trade!).type]).toEqual(['ignored', 'ignored']);
    expect([d.counters.ignored, d.counters.malformed, d.counters.decoded]).toEqual([2, 0, 0]);
  });
});
