// The failover with real ccxt clients on loopback: Binance is the exchange simulator behind a switchable fault proxy
// (503 while "down"), MEXC is the ccxt mexc client against the same simulator (MEXC's v3 spot API has Binance's
// shapes for klines and ticker/price). The breaker runs on a SimulatedClock.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binanceSource, FailoverMarket, mexcSource } from '../../../actors/data-provider/market-source.ts';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg, PriceMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BinanceRest } from '../../../engine/venues/binance/rest.ts';
import { MexcRest } from '../../../engine/venues/mexc/rest.ts';
import { startExchangeSim, type ExchangeSim } from '../../../engine/venues/sim/server.ts';
import { ETH, REC_START } from './helpers.ts';

let sim: ExchangeSim;
let proxy: Server;
let proxyUrl: string;
let down = false;
const simUrl = () => new URL(sim.url);

beforeAll(async () => {
  sim = await startExchangeSim({ files: ['data/recordings/spot_ethusdt_20240808.jsonl.gz'], speed: 'manual' });
  await sim.replay.advanceBy(30_000);
  proxy = createServer((req, res) => {
    if (down) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
      return;
    }
    const up = request({ host: simUrl().hostname, port: simUrl().port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await sim?.close();
});

describe('DataProvider failover against the exchange simulator', () => {
  it('opens the breaker after 3 Binance failures, serves MEXC prices, and returns to Binance after the probe', async () => {
    const clock = new SimulatedClock(REC_START);
    const bus = new Bus<EngineMsg>();
    const binance = binanceSource(new BinanceRest({ baseUrl: proxyUrl, rateLimit: false, timeoutMs: 5_000 }), new Map([['ETH/USDT', ETH]]));
    const mexc = mexcSource(new MexcRest({ baseUrl: sim.url, rateLimit: false, timeoutMs: 5_000 }));
    const failover = new FailoverMarket(binance, mexc, { clock, failureThreshold: 3, cooldownMs: 30_000, attempts: 1 });
    const dp = new DataProvider({ bus, clock, prices: failover, history: failover, maintenanceMs: 0 });
    const prices: PriceMsg[] = [];
    bus.subscribe('md.price', (m) => prices.push(m));
    const ask = async () => {
      clock.advance(600);
      return (await dp.price('ETH/USDT')).source;
    };

    const sources = [await ask()];
    down = true;
    for (let i = 0; i < 4; i++) sources.push(await ask());
    const opened = failover.breaker.state;
    down = false;
    clock.advance(30_000);
    sources.push(await ask());
    const klines = await failover.klines('ETH/USDT', '1m', { startTime: Date.UTC(2024, 7, 8, 23, 40), limit: 3, nowMs: clock.now() });

    expect(sources).toEqual(['binance', 'mexc', 'mexc', 'mexc', 'mexc', 'binance']);
    expect(opened).toBe('open');
    // Binance: 1 ok, 3 failures, none while open, the probe, the klines call.
    expect(failover.stats).toMatchObject({ primaryCalls: 6, primaryFailures: 3, fallbackCalls: 4, fallbackFailures: 0 });
    expect(failover.breaker.state).toBe('closed');
    expect(prices.map((p) => p.source)).toEqual(sources);
    // Both venues here are the same recording: the same last trade price either way.
    expect(new Set(prices.map((p) => p.price)).size).toBe(1);
    expect(klines.source).toBe('binance');
    expect(klines.candles.map((c) => c.openTime)).toEqual([0, 1, 2].map((i) => Date.UTC(2024, 7, 8, 23, 40 + i)));
  });
});
