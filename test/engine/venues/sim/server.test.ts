// Raw HTTP and WebSocket checks of the simulator: exact Binance error bodies, signing, recvWindow, rate limit, streams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';
import { signPayload } from '../../../../engine/venues/sim/signing.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';

const FILES = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
const KEY = 'rawTestKey0001';
const SECRET = 'raw-test-secret-0001';
const WALL = 1_900_000_000_000;

let sim: ExchangeSim;
const wall = new SimulatedClock(WALL);

beforeAll(async () => {
  sim = await startExchangeSim({
    files: FILES, speed: 'manual', wallClock: wall, weightLimitPerMinute: 200,
    accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: '1000' } }],
  });
});
afterAll(async () => {
  await sim?.close();
});

async function signed(method: string, path: string, params: Record<string, string>, opts: { secret?: string; key?: string | null } = {}) {
  const q = new URLSearchParams(params).toString();
  const sig = signPayload(q, opts.secret ?? SECRET);
  const headers: Record<string, string> = {};
  if (opts.key !== null) headers['X-MBX-APIKEY'] = opts.key ?? KEY;
  const r = await fetch(`${sim.url}${path}?${q}&signature=${sig}`, { method, headers });
  return { status: r.status, body: await r.json() as unknown };
}

describe('exchange simulator REST', () => {
  it.each([
    ['a wrong secret', { secret: 'wrong-secret-xx' }, WALL, 400, { code: -1022, msg: 'Signature for this request is not valid.' }],
    ['no API key', { key: null }, WALL, 401, { code: -2014, msg: 'API-key format invalid.' }],
    ['an unknown API key', { key: 'unknownKey999' }, WALL, 401, { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' }],
    ['a timestamp older than recvWindow', {}, WALL - 6_000, 400, { code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' }],
  ] as const)('rejects %s with the Binance error', async (_what, opts, ts, status, body) => {
    const r = await signed('GET', '/api/v3/account', { timestamp: String(ts), recvWindow: '5000' }, opts);
    expect(r).toEqual({ status, body });
  });

  it('accepts a correctly signed request inside recvWindow and reports balances', async () => {
    const r = await signed('GET', '/api/v3/account', { timestamp: String(WALL - 4_000), recvWindow: '5000' });
    expect(r.status).toBe(200);
    expect((r.body as { balances: unknown[] }).balances).toContainEqual({ asset: 'USDT', free: '1000.00000000', locked: '0.00000000' });
  });

  it('signs over query plus form body as Binance does', async () => {
    const body = new URLSearchParams({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.001', price: '50000', timestamp: String(WALL) }).toString();
    const r = await fetch(`${sim.url}/api/v3/order`, {
      method: 'POST', headers: { 'X-MBX-APIKEY': KEY, 'content-type': 'application/x-www-form-urlencoded' },
      body: `${body}&signature=${signPayload(body, SECRET)}`,
    });
    const j = await r.json() as Record<string, unknown>;
    expect([r.status, j['status'], j['price'], j['origQty'], j['fills']]).toEqual([200, 'NEW', '50000.00000000', '0.00100000', []]);
  });

  it('takes the query string value of a parameter also sent in the body, with the signature over both (review_sim 2)', async () => {
    const query = new URLSearchParams({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.001', price: '50000.00', newClientOrderId: 'queryWins1' }).toString();
    const body = new URLSearchParams({ price: '51000.00', newClientOrderId: 'bodyLoses1', timestamp: String(WALL) }).toString();
    const r = await fetch(`${sim.url}/api/v3/order?${query}`, {
      method: 'POST', headers: { 'X-MBX-APIKEY': KEY, 'content-type': 'application/x-www-form-urlencoded' },
      body: `${body}&signature=${signPayload(query + body, SECRET)}`,
    });
    const j = await r.json() as Record<string, unknown>;
    const bad = await fetch(`${sim.url}/api/v3/order?${query}`, {
      method: 'POST', headers: { 'X-MBX-APIKEY': KEY, 'content-type': 'application/x-www-form-urlencoded' },
      body: `${body}&signature=${signPayload(query, SECRET)}`,
    });
    expect([r.status, j['price'], j['clientOrderId']]).toEqual([200, '50000.00000000', 'queryWins1']);
    expect([bad.status, await bad.json()]).toEqual([400, { code: -1022, msg: 'Signature for this request is not valid.' }]);
  });

  it.each([
    [{ quantity: '0.000001', price: '50000' }, { code: -1013, msg: 'Filter failure: LOT_SIZE' }],
    [{ quantity: '0.001', price: '50000.001' }, { code: -1013, msg: 'Filter failure: PRICE_FILTER' }],
    [{ quantity: '0.00001', price: '50000' }, { code: -1013, msg: 'Filter failure: NOTIONAL' }],
    [{ quantity: '1', price: '50000' }, { code: -2010, msg: 'Account has insufficient balance for requested action.' }],
  ])('refuses order %j', async (p, body) => {
    const r = await signed('POST', '/api/v3/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', ...p, timestamp: String(WALL) });
    expect(r).toEqual({ status: 400, body });
  });

  it('answers -2011 when cancelling an unknown order and -1121 for an unknown symbol', async () => {
    const a = await signed('DELETE', '/api/v3/order', { symbol: 'BTCUSDT', orderId: '999999', timestamp: String(WALL) });
    const b = await fetch(`${sim.url}/api/v3/depth?symbol=NOPEUSDT`);
    expect(a).toEqual({ status: 400, body: { code: -2011, msg: 'Unknown order sent.' } });
    expect([b.status, await b.json()]).toEqual([400, { code: -1121, msg: 'Invalid symbol.' }]);
  });

  it('answers 429 with -1003 past the request weight limit, until the minute turns', async () => {
    wall.advance(60_000);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await fetch(`${sim.url}/api/v3/exchangeInfo`)).status); // weight 20 each: 200 of 200
    const r = await fetch(`${sim.url}/api/v3/ping`);
    const body = await r.json() as { code: number };
    wall.advance(60_000);
    const after = (await fetch(`${sim.url}/api/v3/ping`)).status;
    wall.set(WALL + 240_000);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect([r.status, body.code]).toEqual([429, -1003]);
    expect(after).toBe(200);
  });

  it('serves depth whose lastUpdateId chains with the next diff on the stream', async () => {
    const depth = await (await fetch(`${sim.url}/api/v3/depth?symbol=BTCUSDT&limit=5`)).json() as { lastUpdateId: number; bids: string[][] };
    const ws = new WebSocket(`${sim.wsUrl}/stream?streams=btcusdt@depth@100ms`);
    const first = new Promise<{ stream: string; data: { U: number; u: number } }>((resolve) => ws.once('message', (m) => resolve(JSON.parse(m.toString()))));
    await new Promise((r) => ws.once('open', r));
    await sim.replay.advanceBy(500);
    const msg = await first;
    ws.close();
    expect(depth.bids).toHaveLength(5);
    expect(msg.stream).toBe('btcusdt@depth@100ms');
    expect(msg.data.U).toBe(depth.lastUpdateId + 1);
  });
});

describe('exchange simulator klines', () => {
  type Row = [number, string, string, string, string, string, number, string, number, string, string, string];
  const get = async (q: string): Promise<{ status: number; body: unknown }> => {
    const r = await fetch(`${sim.url}/api/v3/klines?symbol=BTCUSDT&${q}`);
    return { status: r.status, body: await r.json() as unknown };
  };

  it('rolls 1h and 1d klines up from the 1m bars, on UTC buckets, the one in progress up to now', async () => {
    const hours = (await get('interval=1h&limit=30')).body as Row[];
    const days = (await get('interval=1d&limit=3')).body as Row[];
    const now = sim.clock.now();
    const sum = (rows: Row[], i: number): number => rows.reduce((a, r) => a + Number(r[i]), 0);
    for (const h of hours.slice(-3)) {
      const mins = (await get(`interval=1m&startTime=${h[0]}&endTime=${h[0] + 3_599_999}&limit=60`)).body as Row[];
      expect(h[0] % 3_600_000).toBe(0);
      expect(h[6]).toBe(h[0] + 3_599_999);
      expect([h[1], h[4]]).toEqual([mins[0]![1], mins.at(-1)![4]]);
      expect(Number(h[2])).toBe(Math.max(...mins.map((m) => Number(m[2]))));
      expect(Number(h[3])).toBe(Math.min(...mins.map((m) => Number(m[3]))));
      expect(Number(h[5])).toBeCloseTo(sum(mins, 5), 6);
    }
    expect(hours).toHaveLength(30);
    expect(hours.at(-1)![0]).toBe(Math.floor(now / 3_600_000) * 3_600_000);
    expect(days.map((d) => d[0] % 86_400_000)).toEqual([0, 0, 0]);
    expect(days.at(-1)![0]).toBe(Math.floor(now / 86_400_000) * 86_400_000);
    // The day in progress holds nothing after now: its high is the highest of its minutes so far.
    const today = (await get(`interval=1h&startTime=${days.at(-1)![0]}&limit=24`)).body as Row[];
    expect(Number(days.at(-1)![2])).toBe(Math.max(...today.map((h) => Number(h[2]))));
  });

  it('serves closed buckets before the 1m history from that interval\'s own CSV, as Binance serves years of them', async () => {
    // data/klines: 1m from 2024-07-26 14:15, 1h (moudux1) from 2024-01-01, 1d (rocketalerts) from 2022-11-11.
    const day = ((await get(`interval=1d&startTime=${Date.UTC(2024, 6, 1)}&limit=1`)).body as Row[])[0]!;
    const hour = ((await get(`interval=1h&startTime=${Date.UTC(2024, 6, 20, 5)}&limit=1`)).body as Row[])[0]!;
    const days = (await get('interval=1d&limit=1000')).body as Row[];
    expect(day.slice(0, 6)).toEqual([Date.UTC(2024, 6, 1), '62772.01000000', '63861.76000000', '62497.20000000', '62899.99000000', '24547.10538000']);
    expect(hour.slice(0, 6)).toEqual([Date.UTC(2024, 6, 20, 5), '66660.84000000', '66660.84000000', '66436.00000000', '66537.32000000', '423.02560000']);
    // 2022-11-11 to the day in progress, 2024-08-08: one bar a day, none after now.
    expect(days).toHaveLength(637);
    expect([days[0]![0], days.at(-1)![0]]).toEqual([Date.UTC(2022, 10, 11), Date.UTC(2024, 7, 8)]);
  });

  it.each(['1s', '1w', 'toString', '60m'])('refuses interval %s with -1120', async (interval) => {
    expect(await get(`interval=${interval}`)).toEqual({ status: 400, body: { code: -1120, msg: 'Invalid interval.' } });
  });
});

describe('exchange simulator WebSocket', () => {
  it('handles SUBSCRIBE, LIST_SUBSCRIPTIONS and UNSUBSCRIBE, sending raw payloads on /ws', async () => {
    const ws = new WebSocket(`${sim.wsUrl}/ws`);
    const msgs: unknown[] = [];
    ws.on('message', (m) => msgs.push(JSON.parse(m.toString())));
    await new Promise((r) => ws.once('open', r));
    const next = (n: number) => new Promise<void>((resolve) => {
      const check = () => (msgs.length >= n ? resolve() : ws.once('message', () => setImmediate(check)));
      check();
    });
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@trade', 'btcusdt@bookTicker'], id: 1 }));
    await next(1);
    ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 2 }));
    await next(2);
    ws.send(JSON.stringify({ method: 'UNSUBSCRIBE', params: ['btcusdt@bookTicker'], id: 3 }));
    await next(3);
    ws.send(JSON.stringify({ method: 'NOPE', id: 4 }));
    await next(4);
    const before = msgs.length;
    await sim.replay.advanceBy(3_000);
    await next(before + 1);
    const dropped = sim.dropAllConnections();
    await new Promise((r) => ws.once('close', r));
    const events = msgs.slice(4) as Array<{ e?: string; u?: number }>;
    expect(msgs.slice(0, 3)).toEqual([{ result: null, id: 1 }, { result: ['btcusdt@trade', 'btcusdt@bookTicker'], id: 2 }, { result: null, id: 3 }]);
    expect((msgs[3] as { error: { code: number }; id: number }).error.code).toBe(2);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.e === 'trade')).toBe(true);
    expect(dropped).toBeGreaterThanOrEqual(1);
  });
});
