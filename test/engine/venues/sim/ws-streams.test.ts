// The simulator's combined-stream envelopes name streams as Binance does (`btcusdt@bookTicker`, `ethusdt@aggTrade`),
// so the engine's case-sensitive frame classifier (engine/venues/binance/frames.ts) sees them. Regression: review_sim
// finding 1, the simulator lower-cased the names and BinanceFeed dropped every bookTicker and aggTrade frame.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { BinanceFeed } from '../../../../engine/venues/binance/binance-feed.ts';
import { BinanceRest } from '../../../../engine/venues/binance/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

let sim: ExchangeSim;
beforeAll(async () => {
  sim = await startExchangeSim({ files: FILES, speed: 'manual', weightLimitPerMinute: 1_000_000 });
}, 60_000);
afterAll(async () => {
  await sim?.close();
});

describe('exchange simulator stream names', () => {
  it('echoes the camelCase stream name in envelopes and LIST_SUBSCRIPTIONS, matching names case-insensitively', async () => {
    const ws = new WebSocket(`${sim.wsUrl}/stream?streams=btcusdt@bookTicker`);
    const msgs: Array<{ stream?: string; result?: unknown; id?: number }> = [];
    ws.on('message', (m) => msgs.push(JSON.parse(m.toString())));
    await new Promise((r) => ws.once('open', r));
    const reply = (id: number) => new Promise<void>((resolve) => {
      const check = () => (msgs.some((m) => m.id === id) ? resolve() : ws.once('message', () => setImmediate(check)));
      check();
    });
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@aggTrade', 'btcusdt@BOOKTICKER'], id: 1 }));
    await reply(1);
    ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 2 }));
    await reply(2);
    await sim.replay.advanceBy(5_000);
    await turns(50);
    ws.close();
    const streams = new Set(msgs.map((m) => m.stream).filter((s) => s !== undefined));
    expect(msgs.find((m) => m.id === 2)).toEqual({ result: ['btcusdt@bookTicker', 'btcusdt@aggTrade'], id: 2 });
    expect([...streams].sort()).toEqual(['btcusdt@aggTrade', 'btcusdt@bookTicker']);
  });

  it('delivers bookTicker and aggTrade frames that BinanceFeed publishes on the bus', async () => {
    const clock = new SimulatedClock(1_000_000);
    const bus = new Bus<EngineMsg>();
    const seen = { bookTicker: 0, trade: 0 };
    bus.subscribe('md.bookTicker', () => seen.bookTicker++);
    bus.subscribe('md.trade', () => seen.trade++);
    const rest = new BinanceRest({ baseUrl: sim.url, rateLimit: false });
    const feed = new BinanceFeed({ bus, clock, instruments: [BTC], wsUrl: sim.wsUrl, rest, streams: ['bookTicker', 'aggTrade'] });
    await feed.start();
    for (let i = 0; i < 100 && (seen.bookTicker === 0 || seen.trade === 0); i++) {
      clock.advance(50);
      await sim.replay.advanceBy(100);
      await turns(30);
    }
    await feed.stop();
    expect(seen.bookTicker).toBeGreaterThan(0);
    expect(seen.trade).toBeGreaterThan(0);
    expect(feed.counters.bookTickers).toBe(seen.bookTicker);
    expect(feed.counters.ignored).toBe(0);
  }, 60_000);
});
