// The unmodified ccxt `binance` client (and ccxt.pro) against the simulator on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ccxt from 'ccxt';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240808.jsonl.gz'];
const KEY = 'ccxtTestKey0001';
const SECRET = 'ccxt-test-secret-0001';

let sim: ExchangeSim;

function client(secret = SECRET): InstanceType<typeof ccxt.pro.binance> {
  const api = `${sim.url}/api/v3`;
  return new ccxt.pro.binance({
    apiKey: KEY,
    secret,
    enableRateLimit: false,
    urls: { api: { public: api, private: api, v1: `${sim.url}/api/v1`, ws: { spot: `${sim.wsUrl}/ws` } } },
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  });
}

const waitFor = <T>(event: string, pred: (x: T) => boolean): Promise<T> =>
  new Promise((resolve) => {
    const h = (x: T) => {
      if (!pred(x)) return;
      sim.events.off(event, h);
      resolve(x);
    };
    sim.events.on(event, h);
  });

beforeAll(async () => {
  sim = await startExchangeSim({ files: FILES, speed: 'manual', accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '100000', BTC: '1' } }] });
  await sim.replay.advanceBy(10_000);
});
afterAll(async () => {
  await sim?.close();
});

describe('ccxt binance against the simulator', () => {
  it('trades through loadMarkets, order book, OHLCV, balance, orders and cancel', async () => {
    const ex = client();
    const markets = await ex.loadMarkets();
    const m = markets['BTC/USDT']!;
    const book = await ex.fetchOrderBook('BTC/USDT', 5);
    const ohlcv = await ex.fetchOHLCV('BTC/USDT', '1m', undefined, 3);
    const bal0 = await ex.fetchBalance();
    const simBook = sim.venue.market('BTCUSDT').sync.book;
    const bestAskBefore = simBook.bestAsk()!;
    const askLots = simBook.bestAskLots();

    const mkt = await ex.createOrder('BTC/USDT', 'market', 'buy', 0.01);
    const bal1 = await ex.fetchBalance();
    const lim = await ex.createOrder('BTC/USDT', 'limit', 'buy', 0.001, 50000);
    const open = await ex.fetchOpenOrders('BTC/USDT');
    const bal2 = await ex.fetchBalance();
    await ex.cancelOrder(String(lim.id), 'BTC/USDT');
    const openAfter = await ex.fetchOpenOrders('BTC/USDT');
    const bal3 = await ex.fetchBalance();

    expect(m.precision.price).toBe(0.01);
    expect(m.precision.amount).toBe(0.00001);
    expect(m.limits.cost?.min).toBe(5);
    expect(book.bids[0]![0]!).toBeLessThan(book.asks[0]![0]!);
    expect(book.bids[0]![0]!).toBe(simBook.bestBid()! / 100);
    expect(book.asks[0]![0]!).toBe(bestAskBefore / 100);
    expect(book.asks[0]![1]!).toBe(askLots / 1e5);
    expect(ohlcv).toHaveLength(3);
    expect(ohlcv[2]![0]! - ohlcv[1]![0]!).toBe(60_000);
    expect(bal0['USDT']!.free).toBe(100000);
    expect(bal0['BTC']!.free).toBe(1);

    // The market buy took the best ask (0.01 BTC is within its size here) at its price, fee 0.1% in BTC.
    expect(askLots).toBeGreaterThanOrEqual(1000);
    expect(mkt.status).toBe('closed');
    expect(mkt.filled).toBe(0.01);
    expect(mkt.average).toBe(bestAskBefore / 100);
    expect(mkt.fee?.currency).toBe('BTC');
    expect(mkt.fee?.cost).toBeCloseTo(0.00001, 12);
    const cost = Math.round(bestAskBefore * 0.01 * 1e6) / 1e8;
    expect(bal1['USDT']!.free).toBeCloseTo(100000 - cost, 8);
    expect(bal1['BTC']!.free).toBeCloseTo(1 + 0.01 - 0.00001, 12);

    expect(open.map((o) => o.id)).toEqual([lim.id]);
    expect(open[0]!.price).toBe(50000);
    expect(bal2['USDT']!.used).toBeCloseTo(50, 8);
    expect(openAfter).toEqual([]);
    expect(bal3['USDT']!.used).toBe(0);
    expect(bal3['USDT']!.free).toBeCloseTo(bal1['USDT']!.free!, 8);
  });

  it('rejects a bad signature with AuthenticationError', async () => {
    const ex = client('not-the-secret');
    await ex.loadMarkets();
    await expect(ex.fetchBalance()).rejects.toBeInstanceOf(ccxt.AuthenticationError);
  });

  it('watches the order book over ws:// and matches the simulator book', async () => {
    const ex = client();
    await ex.loadMarkets();
    await ex.loadHttpProxyAgent();
    const subscribed = waitFor<string>('subscribe', (s) => s === 'btcusdt@depth@100ms');
    const snap = waitFor<{ path: string }>('request', (r) => r.path === '/api/v3/depth');
    const watching = ex.watchOrderBook('BTC/USDT');
    await subscribed;
    await sim.replay.advanceBy(1_000); // diffs that make ccxt fetch its snapshot
    await snap;
    await sim.replay.advanceBy(1_000); // diffs on top of the snapshot
    const first = await watching;
    // The promise resolves on the first update after the snapshot; let ccxt consume the frames already sent (the
    // replay is paused, so the simulator's book no longer moves) and compare the whole top of both books.
    const sync = sim.venue.market('BTCUSDT').sync;
    const live = () => (ex as unknown as { orderbooks: Record<string, { nonce: number; bids: number[][]; asks: number[][] }> }).orderbooks['BTC/USDT']!;
    for (let i = 0; i < 2000 && live().nonce !== sync.lastUpdateId; i++) await new Promise((r) => setTimeout(r, 1));
    const ob = live();
    const top = (side: 'bid' | 'ask') => sync.book.levels(side, 10).map(([p, q]) => [p / 100, q / 1e5]);
    const got = { nonce: ob.nonce, bids: ob.bids.slice(0, 10).map((l) => [l[0], l[1]]), asks: ob.asks.slice(0, 10).map((l) => [l[0], l[1]]) };
    await ex.close();
    expect(first.bids[0]![0]!).toBeLessThan(first.asks[0]![0]!);
    expect(got).toEqual({ nonce: sync.lastUpdateId, bids: top('bid'), asks: top('ask') });
  });
});
