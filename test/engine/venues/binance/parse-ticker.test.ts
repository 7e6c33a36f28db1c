import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument } from '../../../../engine/types/instrument.ts';
import { nsToMs, type TsMs } from '../../../../engine/types/time.ts';
import { BinanceFrameDecoder, classifyFrame, type DecodedFrame, type FrameKind } from '../../../../engine/venues/binance/frames.ts';
import { instrumentGrid } from '../../../../engine/venues/binance/parse-depth.ts';
import { TickerParser } from '../../../../engine/venues/binance/parse-ticker.ts';
import { readRecordingLinesSync } from '../../../../engine/venues/replay/recording.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const recordings = (sym: string) => ['20240808', '20240809'].map((day) => new URL(`../../../../data/recordings/spot_${sym}usdt_${day}.jsonl.gz`, import.meta.url).pathname);

const TICKER = '{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}';
const TRADE = '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}';
const AGG = '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161255343,"s":"BTCUSDT","a":26129,"p":"61837.63000000","q":"0.02000000","f":100,"l":105,"T":1723161255342,"m":false,"M":true}}';
const TS = 1723161254087.891 as TsMs;

/** Decodes `text` both ways, each with a fresh decoder; returns both results and both decoders' counters. */
function bothWays(text: string, kind: FrameKind = classifyFrame(text), inst: Instrument = BTC) {
  const fast = new BinanceFrameDecoder(inst);
  const json = new BinanceFrameDecoder(inst);
  return {
    fast: fast.decodeText(text, TS, kind), json: json.decodeJson(text, TS, kind),
    fastCounters: fast.counters, jsonCounters: json.counters,
  };
}

/** Returns why `a` and `b` differ (values, key order), or '' when they are the same message. */
function difference(a: DecodedFrame, b: DecodedFrame): string {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join() !== kb.join()) return `keys ${ka.join()} vs ${kb.join()}`;
  for (const k of ka) {
    const va = (a as unknown as Record<string, unknown>)[k];
    const vb = (b as unknown as Record<string, unknown>)[k];
    if (!Object.is(va, vb)) return `${k}: ${String(va)} vs ${String(vb)}`;
  }
  return '';
}

describe('byte-level bookTicker/trade decoding against the JSON path', () => {
  it('gives the same message for every bookTicker and trade line of the four recordings, all via the byte path', () => {
    const mismatches: string[] = [];
    const refused: string[] = [];
    const seen = { bookTicker: 0, trade: 0 };
    for (const [sym, inst] of [['btc', BTC], ['eth', ETH]] as const) {
      const fast = new BinanceFrameDecoder(inst);
      const json = new BinanceFrameDecoder(inst);
      const parser = new TickerParser(instrumentGrid(inst), inst.venueSymbol);
      for (const line of readRecordingLinesSync(recordings(sym))) {
        const kind = classifyFrame(line.text);
        if (kind !== 'bookTicker' && kind !== 'trade') continue;
        seen[kind]++;
        const ts = nsToMs(line.tsLocalNs);
        const why = difference(fast.decodeText(line.text, ts, kind), json.decodeJson(line.text, ts, kind));
        if (why !== '' && mismatches.length < 5) mismatches.push(`${why} in ${line.text}`);
        const accepted = kind === 'bookTicker' ? parser.bookTicker(line.text) : parser.trade(line.text);
        if (!accepted && refused.length < 5) refused.push(line.text);
      }
      expect(fast.counters).toEqual(json.counters);
      expect(fast.counters.malformed + fast.counters.ignored).toBe(0);
    }
    expect(mismatches).toEqual([]);
    expect(refused).toEqual([]);
    // The bundled recordings: ~132k bookTicker and ~34k trade lines.
    expect(seen.bookTicker).toBeGreaterThan(130_000);
    expect(seen.trade).toBeGreaterThan(34_000);
  });

  it('decodes a spot aggTrade on the byte path to the JSON path message (id from a)', () => {
    const p = new TickerParser(instrumentGrid(BTC), 'BTCUSDT');
    const r = bothWays(AGG);
    expect(p.trade(AGG)).toBe(true);
    expect([p.isAgg, p.tradeId, p.buyerMaker]).toEqual([true, 26129, false]);
    expect(r.fast).toStrictEqual(r.json);
    expect(r.fast).toMatchObject({ type: 'md.trade', tradeId: 26129, price: 6183763, lots: 2000, buyerMaker: false, tsExchange: 1723161255342 });
  });

  it('rounds an off-grid quantity on the byte path as the JSON path does', () => {
    const text = TICKER.replace('"B":"3.78826000"', '"B":"3.788265"').replace('"A":"1.54698000"', '"A":"0.000001"');
    const r = bothWays(text);
    expect(new TickerParser(instrumentGrid(BTC), 'BTCUSDT').bookTicker(text)).toBe(true);
    expect(r.fast).toStrictEqual(r.json);
    expect(r.fast).toMatchObject({ bidLots: 378827, askLots: 1 });
  });

  // Each case: a frame the byte path must refuse or judge exactly as JSON.parse + field checks do, and the outcome.
  it.each<[string, string, DecodedFrame['type'], FrameKind?]>([
    ['off-grid price', TICKER.replace('"b":"61837.63000000"', '"b":"61837.635"'), 'malformed'],
    ['off-grid trade price', TRADE.replace('"p":"61837.63000000"', '"p":"61837.6301"'), 'malformed'],
    ['zero price', TICKER.replace('"a":"61837.64000000"', '"a":"0.00000000"'), 'malformed'],
    ['missing B', TICKER.replace('"B":"3.78826000",', ''), 'malformed'],
    ['missing m', TRADE.replace('"m":true,', ''), 'malformed'],
    ['missing T', TRADE.replace('"T":1723161255342,', ''), 'malformed'],
    ['m as a string', TRADE.replace('"m":true', '"m":"true"'), 'malformed'],
    ['escaped symbol', TICKER.replace('"s":"BTCUSDT"', '"s":"BTC\\u0055SDT"'), 'md.bookTicker'],
    ['escaped decimal', TRADE.replace('"q":"0.02000000"', '"q":"0.0\\u0032"'), 'md.trade'],
    ['escaped stream name', TICKER.replace('btcusdt@bookTicker', 'btcusdt\\u0040bookTicker'), 'md.bookTicker', 'bookTicker'],
    ['extra E (futures bookTicker time)', TICKER.replace('"u":', '"E":1723161255999,"u":'), 'md.bookTicker'],
    ['extra field X (futures trade)', TRADE.replace('"m":true', '"X":"MARKET","m":true'), 'md.trade'],
    ['M as null (ignored field)', TRADE.replace('"M":true', '"M":null'), 'md.trade'],
    ['no M at all', TRADE.replace(',"M":true', ''), 'md.trade'],
    ['reordered keys', TICKER.replace('"u":50093239212,"s":"BTCUSDT"', '"s":"BTCUSDT","u":50093239212'), 'md.bookTicker'],
    ['futures trade key order', '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":3,"p":"1.00","q":"0.5","X":"MARKET","m":false}}', 'md.trade'],
    ['futures aggTrade key order', '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"a":7,"s":"BTCUSDT","p":"1.00","q":"0.5","f":1,"l":2,"T":2,"m":false}}', 'md.trade'],
    ['data before stream', `{"data":${TICKER.slice(TICKER.indexOf('"data":') + 7, -1)},"stream":"btcusdt@bookTicker"}`, 'md.bookTicker', 'bookTicker'],
    ['bare bookTicker event', TICKER.slice(TICKER.indexOf('"data":') + 7, -1), 'md.bookTicker'],
    ['bare trade event', TRADE.slice(TRADE.indexOf('"data":') + 7, -1), 'md.trade'],
    ['blanks', TICKER.replace(',"s":', ', "s" : '), 'md.bookTicker'],
    ['update id with a fraction', TICKER.replace('"u":50093239212', '"u":50093239212.0'), 'md.bookTicker'],
    ['update id as an exponent', TICKER.replace('"u":50093239212', '"u":5e3'), 'md.bookTicker'],
    ['update id with a leading zero', TICKER.replace('"u":50093239212', '"u":050093239212'), 'malformed'],
    ['huge update id', TICKER.replace('"u":50093239212', '"u":99999999999999999999'), 'malformed'],
    ['update id 2^53', TICKER.replace('"u":50093239212', '"u":9007199254740993'), 'malformed'],
    ['largest safe trade id', TRADE.replace('"t":3735683259', '"t":9007199254740991'), 'md.trade'],
    ['huge price', TICKER.replace('"b":"61837.63000000"', '"b":"123456789012345678901234.5"'), 'malformed'],
    ['huge quantity', TRADE.replace('"q":"0.02000000"', '"q":"99999999999999999"'), 'malformed'],
    ['negative update id', TICKER.replace('"u":50093239212', '"u":-1'), 'malformed'],
    ['negative zero update id', TICKER.replace('"u":50093239212', '"u":-0'), 'md.bookTicker'],
    ['negative price', TICKER.replace('"b":"61837.63000000"', '"b":"-61837.63"'), 'malformed'],
    ['negative quantity', TRADE.replace('"q":"0.02000000"', '"q":"-0.02"'), 'malformed'],
    ['empty price', TICKER.replace('"b":"61837.63000000"', '"b":""'), 'malformed'],
    ['empty quantity', TRADE.replace('"q":"0.02000000"', '"q":""'), 'malformed'],
    ['price with a bare dot', TICKER.replace('"b":"61837.63000000"', '"b":"61837."'), 'malformed'],
    ['price as a number', TICKER.replace('"b":"61837.63000000"', '"b":61837.63'), 'malformed'],
    ['another symbol', TICKER.replace('"s":"BTCUSDT"', '"s":"ETHUSDT"'), 'ignored'],
    ['trade of another symbol', TRADE.replace('"s":"BTCUSDT"', '"s":"BTCUSDTX"'), 'ignored'],
    ['unknown event type', TRADE.replace('"e":"trade"', '"e":"trades"'), 'malformed'],
    ['trailing garbage', `${TICKER}x`, 'malformed'],
    ['trailing newline', `${TRADE}\n`, 'md.trade'],
    ['truncated', TRADE.slice(0, -3), 'malformed'],
    ['control character in the stream name', TICKER.replace('btcusdt@bookTicker', 'btcusdt@bookTicker\u0001'), 'malformed', 'bookTicker'],
    ['non-ASCII stream name', TICKER.replace('btcusdt@bookTicker', 'btcusdt@bookTicker\u00e9\u20ac'), 'md.bookTicker', 'bookTicker'],
    ['a trade frame decoded as bookTicker', TRADE, 'malformed', 'bookTicker'],
    ['a bookTicker frame decoded as trade', TICKER, 'malformed', 'trade'],
    ['duplicate key (JSON keeps the last)', TICKER.replace('"A":"1.54698000"', '"A":"1.54698000","A":"2.0"'), 'md.bookTicker'],
  ])('%s: same result as the JSON path', (_name, text, type, kind) => {
    const r = bothWays(text, kind);
    expect(r.fast).toStrictEqual(r.json);
    expect(difference(r.fast, r.json)).toBe('');
    expect(r.fastCounters).toEqual(r.jsonCounters);
    expect(r.fast.type).toBe(type);
  });

  it('gives the JSON path result for recorded frames with random one-character edits', () => {
    const alphabet = '0123456789.-e"{}[],: \\uEtsmpqTbBaA'.split('');
    fc.assert(
      fc.property(
        fc.constantFrom(TICKER, TRADE, AGG),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'insert', 'delete'), fc.constantFrom(...alphabet)), { minLength: 1, maxLength: 3 }),
        (base: string, edits) => {
          let text = base;
          for (const [at, op, ch] of edits) {
            const i = at % (text.length + 1);
            text = op === 'insert' ? text.slice(0, i) + ch + text.slice(i)
              : op === 'delete' ? text.slice(0, i) + text.slice(i + 1)
              : text.slice(0, i) + ch + text.slice(i + 1);
          }
          for (const kind of [classifyFrame(text), classifyFrame(base)]) {
            const r = bothWays(text, kind);
            expect(r.fast).toStrictEqual(r.json);
            expect(difference(r.fast, r.json)).toBe('');
            expect(r.fastCounters).toEqual(r.jsonCounters);
          }
        },
      ),
      { numRuns: 4000, seed: 20240808 },
    );
  });
});
