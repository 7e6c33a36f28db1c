import { describe, expect, it } from 'vitest';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { nsToMs } from '../../../../engine/types/time.ts';
import { BinanceFramePublisher, DEFAULT_STREAMS, streamNames } from '../../../../engine/venues/binance/binance-feed.ts';
import { BinanceFrameDecoder, classifyFrame } from '../../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../../engine/venues/replay/recording.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const recordings = (sym: string) => ['20240808', '20240809'].map((day) => new URL(`../../../../data/recordings/spot_${sym}usdt_${day}.jsonl.gz`, import.meta.url).pathname);

/** A publisher of both instruments on its own bus; `out` collects what it publishes. */
function publisher() {
  const bus = new Bus<EngineMsg>();
  const out: EngineMsg[] = [];
  bus.subscribePrefix('*', (m) => out.push(m));
  return { pub: new BinanceFramePublisher({ bus, venue: 'binance', instruments: [BTC, ETH], depth: 'raw' }), out };
}

describe('BinanceFramePublisher on the bundled recordings', () => {
  it('publishes, routed by symbol (replay) or by stream name (live), what the JSON decoding path gives for every line', () => {
    const replay = publisher();
    const live = publisher();
    const bad: string[] = [];
    let lines = 0;
    for (const [sym, inst] of [['btc', BTC], ['eth', ETH]] as const) {
      const ref = new BinanceFrameDecoder(inst);
      for (const line of readRecordingLinesSync(recordings(sym))) {
        lines++;
        const text = line.text;
        const ts = nsToMs(line.tsLocalNs);
        const kind = classifyFrame(text);
        // What the publisher must send: depth raw, everything else as the JSON path decodes it.
        let want: EngineMsg[] = [];
        if (kind === 'depth') want = [{ type: 'md.depthRaw', venue: 'binance', symbol: inst.symbol, tsLocal: ts, data: text }];
        else if (kind !== 'other') {
          const m = ref.decodeJson(text, ts, kind);
          if (m.type !== 'malformed' && m.type !== 'ignored') want = [m];
        }
        const isEnvelope = text.startsWith('{"stream":"');
        replay.out.length = 0;
        live.out.length = 0;
        replay.pub.publish(text, ts, inst.venueSymbol);
        live.pub.publish(text, ts);
        const wanted = JSON.stringify(want);
        if (JSON.stringify(replay.out) !== wanted) bad.push(`replay: ${text.slice(0, 80)}`);
        // Bare lines (the REST snapshots) name no stream: the live route cannot place them.
        if (JSON.stringify(live.out) !== (isEnvelope ? wanted : '[]')) bad.push(`live: ${text.slice(0, 80)}`);
        if (replay.pub.lastKind !== kind || live.pub.lastKind !== kind) bad.push(`kind: ${text.slice(0, 80)}`);
        if (live.pub.lastLane !== (isEnvelope ? live.pub.lane(inst.venueSymbol) : undefined)) bad.push(`lane: ${text.slice(0, 80)}`);
        if (bad.length > 5) break;
      }
    }
    expect(bad).toEqual([]);
    const c = replay.pub.counters;
    expect([c.frames, c.malformed, c.ignored]).toEqual([lines, 0, 0]);
    expect(c.bookTickers).toBeGreaterThan(130_000);
    expect(c.trades).toBeGreaterThan(34_000);
    expect(c.depth).toBeGreaterThan(12_000);
  });
});

describe('BinanceFramePublisher kinds per symbol', () => {
  it('skips the kinds a symbol is not given (counted as ignored) and publishes the rest, for both routes', () => {
    const lines = readRecordingLinesSync(recordings('btc')).slice(0, 3_000).concat(readRecordingLinesSync(recordings('eth')).slice(0, 3_000));
    for (const routed of [true, false]) {
      const bus = new Bus<EngineMsg>();
      const out: EngineMsg[] = [];
      bus.subscribePrefix('*', (m) => out.push(m));
      const pub = new BinanceFramePublisher({ bus, venue: 'binance', instruments: [BTC, ETH], depth: 'raw', kindsBySymbol: { 'BTC/USDT': ['depth', 'snapshot', 'trade', 'kline'] } });
      const all = new BinanceFramePublisher({ bus: new Bus<EngineMsg>(), venue: 'binance', instruments: [BTC, ETH], depth: 'raw' });
      let btcTickers = 0;
      let ethTickers = 0;
      for (const line of lines) {
        const sym = line.text.includes('btcusdt@') || line.text.includes('"BTCUSDT"') ? 'BTCUSDT' : 'ETHUSDT';
        if (classifyFrame(line.text) === 'bookTicker') sym === 'BTCUSDT' ? btcTickers++ : ethTickers++;
        pub.publish(line.text, nsToMs(line.tsLocalNs), routed ? sym : undefined);
        all.publish(line.text, nsToMs(line.tsLocalNs), routed ? sym : undefined);
      }
      const count = (type: string, symbol: string) => out.filter((m) => m.type === type && 'symbol' in m && m.symbol === symbol).length;
      expect(btcTickers).toBeGreaterThan(100);
      expect(count('md.bookTicker', 'BTC/USDT')).toBe(0);
      expect(count('md.bookTicker', 'ETH/USDT')).toBe(ethTickers);
      expect(count('md.trade', 'BTC/USDT')).toBeGreaterThan(100);
      expect(count('md.depthRaw', 'BTC/USDT')).toBeGreaterThan(100);
      expect(pub.counters.ignored).toBe(all.counters.ignored + btcTickers);
      expect(all.counters.bookTickers).toBe(btcTickers + ethTickers);
      expect(pub.counters.bookTickers).toBe(ethTickers);
    }
  });
});

describe('BinanceFramePublisher kinds and kinds per symbol together', () => {
  it('publishes for a symbol only the kinds both allow', () => {
    const bus = new Bus<EngineMsg>();
    const out: EngineMsg[] = [];
    bus.subscribePrefix('*', (m) => out.push(m));
    const pub = new BinanceFramePublisher({ bus, venue: 'binance', instruments: [BTC, ETH], depth: 'raw', kinds: ['depth', 'trade'], kindsBySymbol: { 'BTC/USDT': ['depth', 'bookTicker'] } });
    for (const sym of ['btc', 'eth']) {
      for (const line of readRecordingLinesSync(recordings(sym)).slice(0, 2_000)) pub.publish(line.text, nsToMs(line.tsLocalNs), sym.toUpperCase() + 'USDT');
    }
    const types = (symbol: string) => [...new Set(out.filter((m) => 'symbol' in m && m.symbol === symbol).map((m) => m.type))].sort();
    expect(types('BTC/USDT')).toEqual(['md.depthRaw']);
    expect(types('ETH/USDT')).toEqual(['md.depthRaw', 'md.trade']);
  });
});

describe('streamNames', () => {
  it('subscribes every stream kind for each symbol, less those a symbol does not publish', () => {
    expect(streamNames([BTC, ETH], DEFAULT_STREAMS)).toEqual([
      'btcusdt@depth@100ms', 'btcusdt@trade', 'btcusdt@bookTicker', 'btcusdt@kline_1m',
      'ethusdt@depth@100ms', 'ethusdt@trade', 'ethusdt@bookTicker', 'ethusdt@kline_1m',
    ]);
    expect(streamNames([BTC, ETH], DEFAULT_STREAMS, { 'BTC/USDT': ['depth', 'snapshot', 'trade', 'kline'] })).toEqual([
      'btcusdt@depth@100ms', 'btcusdt@trade', 'btcusdt@kline_1m',
      'ethusdt@depth@100ms', 'ethusdt@trade', 'ethusdt@bookTicker', 'ethusdt@kline_1m',
    ]);
    expect(streamNames([ETH], ['depth', 'aggTrade', 'kline_1h'], { 'ETH/USDT': ['trade'] })).toEqual(['ethusdt@aggTrade']);
  });
});
