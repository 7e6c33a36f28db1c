// The events a trader expects pushed that the webhook did not push (webhook review, finding 4): a reconciliation that
// found a mismatch, rejected orders (folded per code for 5 min, an exit's rejection critical), the market-data feed
// dropping and coming back, and the REST market data moving to the MEXC fallback and back.
import { describe, expect, it } from 'vitest';
import { FailoverMarket, type MarketSource } from '../../actors/data-provider/market-source.ts';
import { REJECTION_FOLD_MS } from '../../app/alerts-webhook.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { FeedState } from '../../engine/messages/feed.ts';
import type { OrderIntent } from '../../engine/messages/orders.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { VenueError } from '../../engine/types/errors.ts';
import { clientOrderIdFor, intentId } from '../../engine/types/ids.ts';
import type { Lots } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { until } from '../wait-until.ts';
import { webhookRigs, type WebhookRig } from './webhook-on-receiver.ts';

const T0 = 1_723_161_300_000 as TsMs;
const rig = webhookRigs({ t0: T0, webhook: { enabled: true }, from: { mode: 'live', account: 'binance' } });

const intent = (id: string, side: 'buy' | 'sell', reduceOnly: boolean): OrderIntent => ({
  id: intentId(id), symbol: 'BTC/USDT', side, orderType: 'market', lots: 10 as Lots, timeInForce: 'IOC', reduceOnly, reason: 'test', ts: T0,
});

describe('reconciliation findings', () => {
  type Short = { symbol: string; asset: string; booked: string; venue: string };
  const btc = (booked: string, venue: string): Short => ({ symbol: 'BTC/USDT', asset: 'BTC', booked, venue });
  const reconciled = (short: Short[], ordersUnresolved: number): EngineMsg => ({
    type: 'exec.reconciled', venue: 'binance', fillsApplied: 0, ordersClosed: 0, ordersAdopted: 0, ordersUnresolved,
    positionMismatches: short.map((q) => q.symbol), positionQuantities: short, ts: T0,
  });

  it('pushes a critical RECONCILE_MISMATCH naming the symbol and the unresolved orders, once while the findings last; nothing for a clean one', async () => {
    const w = await rig();
    w.bus.publish(reconciled([], 0));
    w.bus.publish(reconciled([btc('0.003', '0')], 2));
    w.bus.publish(reconciled([btc('0.003', '0')], 2));
    w.bus.publish(reconciled([], 1));
    const got = await w.posted();

    expect(got.map((p) => [p.code, p.severity])).toEqual([['RECONCILE_MISMATCH', 'critical'], ['RECONCILE_MISMATCH', 'critical']]);
    expect(got[0]!.text).toContain('BTC/USDT');
    expect(got[0]!.text).toContain('2 order(s) left unresolved');
    expect(got[0]!.symbol).toBe('BTC/USDT');
    expect(got[1]!.text).toContain('1 order(s) left unresolved');
  });

  // Task A1: the post said "quantities in the POSITION_MISMATCH log line"; a trader on a phone has no log.
  it('states the booked and the venue quantity of each symbol exactly, and posts again when a mismatch changes size', async () => {
    const w = await rig();
    const eth: Short = { symbol: 'ETH/USDT', asset: 'ETH', booked: '0.5', venue: '0.300000001' };
    w.bus.publish(reconciled([btc('0.003', '0'), eth], 0));
    w.bus.publish(reconciled([eth, btc('0.003', '0')], 0)); // the same findings in another order
    w.bus.publish(reconciled([btc('0.003', '0.001'), eth], 0));
    const got = await w.posted();

    expect(got.map((p) => p.text)).toEqual([
      "[cobalt live binance] CRITICAL RECONCILE_MISMATCH: reconciliation with binance: booked position above the venue's balance for "
        + 'BTC/USDT (booked 0.003 BTC, venue holds 0 BTC), ETH/USDT (booked 0.5 ETH, venue holds 0.300000001 ETH)',
      "[cobalt live binance] CRITICAL RECONCILE_MISMATCH: reconciliation with binance: booked position above the venue's balance for "
        + 'BTC/USDT (booked 0.003 BTC, venue holds 0.001 BTC), ETH/USDT (booked 0.5 ETH, venue holds 0.300000001 ETH)',
    ]);
    expect(got.map((p) => p.symbol)).toEqual([undefined, undefined]);
  });
});

describe('rejected orders', () => {
  const reject = (w: WebhookRig, id: string, code: string, side: 'buy' | 'sell' = 'buy', reduceOnly = false) => {
    w.bus.publish({ type: 'risk.orderApproved', intent: intent(id, side, reduceOnly), ts: T0 });
    w.bus.publish({ type: 'exec.orderRejected', clientOrderId: clientOrderIdFor(id), code, message: 'account has insufficient balance', ts: T0 });
  };

  it('posts the first rejection of a code, folds the next ones for 5 minutes of the webhook clock and then says how many', async () => {
    const w = await rig();
    for (let i = 0; i < 8; i++) reject(w, `e${i}`, 'INSUFFICIENT_BALANCE');
    reject(w, 'other', 'INVALID_ORDER');
    await until(() => w.server.received.length === 2, 'the first two rejections');
    w.clock.advance(REJECTION_FOLD_MS);
    await until(() => w.server.received.length === 3, 'the folded count');
    w.clock.advance(REJECTION_FOLD_MS); // nothing folded in the next 5 min: no line
    reject(w, 'later', 'INSUFFICIENT_BALANCE');
    const got = await w.posted();

    expect(got.map((p) => [p.code, p.severity])).toEqual([
      ['ORDER_REJECTED', 'warning'], ['ORDER_REJECTED', 'warning'], ['ORDER_REJECTED', 'warning'], ['ORDER_REJECTED', 'warning'],
    ]);
    expect(got[0]!.text).toContain('order buy BTC/USDT');
    expect(got[0]!.text).toContain('rejected INSUFFICIENT_BALANCE');
    expect(got[1]!.text).toContain('rejected INVALID_ORDER');
    expect(got[2]!.text).toContain('INSUFFICIENT_BALANCE ×7 in the last 5 min');
    expect(got[3]!.text).not.toContain('×');
  });

  it('makes the rejection of an exit (a reduce-only sell) critical, folded apart from the entries', async () => {
    const w = await rig();
    reject(w, 'entry', 'INSUFFICIENT_BALANCE');
    reject(w, 'risk-exit-1', 'INSUFFICIENT_BALANCE', 'sell', true);
    const got = await w.posted();

    expect(got.map((p) => [p.code, p.severity])).toEqual([['ORDER_REJECTED', 'warning'], ['EXIT_REJECTED', 'critical']]);
    expect(got[1]!.text).toContain('exit sell BTC/USDT');
  });

  it('posts the folded count at shutdown rather than losing it', async () => {
    const w = await rig();
    for (let i = 0; i < 3; i++) reject(w, `s${i}`, 'INSUFFICIENT_BALANCE');
    const got = await w.posted();

    expect(got.map((p) => p.text.includes('INSUFFICIENT_BALANCE ×2 in the last 5 min'))).toEqual([false, true]);
  });
});

describe('market-data feed', () => {
  it('pushes FEED_DOWN when the feed drops and FEED_UP when it is live again; nothing for the first live or a repeat', async () => {
    const w = await rig();
    const status = (s: FeedState, dt: number) => w.bus.publish({ type: 'md.feedStatus', venue: 'binance', source: 'live', status: s, ts: (T0 + dt) as TsMs });
    for (const [s, dt] of [['connecting', 0], ['live', 1], ['waiting', 1_000], ['connecting', 2_000], ['waiting', 3_000], ['live', 43_000], ['stopped', 50_000]] as const) status(s, dt);
    const got = await w.posted();

    expect(got.map((p) => [p.code, p.severity])).toEqual([['FEED_DOWN', 'warning'], ['FEED_UP', 'info']]);
    expect(got[0]!.text).toContain('binance (live) waiting');
    expect(got[1]!.text).toContain('live again after 42 s waiting');
  });

  it('pushes FEED_FALLBACK when the real FailoverMarket moves to MEXC and FEED_PRIMARY when a probe of Binance succeeds', async () => {
    const w = await rig();
    const clock = new SimulatedClock(T0);
    let binanceDown = true;
    const source = (name: 'binance' | 'mexc', down: () => boolean): MarketSource => ({
      name,
      klines: () => Promise.reject(new VenueError(`${name} klines not served here`)),
      price: () => (down() ? Promise.reject(new VenueError(`${name} ticker/price: HTTP 503`)) : Promise.resolve(60_000)),
    });
    const failover = new FailoverMarket(source('binance', () => binanceDown), source('mexc', () => false), {
      clock, failureThreshold: 2, cooldownMs: 30_000, attempts: 1, bus: w.bus,
    });
    const sources: string[] = [];
    for (let i = 0; i < 3; i++) sources.push((await failover.price('BTC/USDT')).source);
    binanceDown = false;
    clock.advance(30_000);
    sources.push((await failover.price('BTC/USDT')).source);
    const got = await w.posted();

    expect(sources).toEqual(['mexc', 'mexc', 'mexc', 'binance']);
    expect(got.map((p) => [p.code, p.severity])).toEqual([['FEED_FALLBACK', 'warning'], ['FEED_PRIMARY', 'info']]);
    expect(got[0]!.text).toContain('from mexc instead of binance');
    expect(got[1]!.text).toContain('from binance again');
  });
});
