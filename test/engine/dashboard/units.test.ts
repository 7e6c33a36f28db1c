import { describe, expect, it } from 'vitest';
import { controlMessages } from '../../../engine/dashboard/controls.ts';
import { bearerToken, bindProblem, resolveDashboardToken, tokenMatches } from '../../../engine/dashboard/auth.ts';
import { SeqRing } from '../../../engine/dashboard/seq-ring.ts';
import { TopicThrottle } from '../../../engine/dashboard/throttle.ts';
import { DashboardViewModel } from '../../../engine/dashboard/view-model.ts';
import { DashboardMetrics, type LoopLagSource } from '../../../engine/dashboard/metrics.ts';
import { CobAggregator } from '../../../actors/cob-aggregator/logic.ts';
import type { CobSnapshot } from '../../../engine/market/cob.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { money } from '../../../engine/types/money.ts';
import { createRiskState, onSetLimits } from '../../../actors/risk-manager/logic.ts';
import { DEFAULT_LIMITS } from '../../../actors/risk-manager/limits.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, priceToTicks, qtyToLots } from '../../../engine/types/instrument.ts';
import type { Lots } from '../../../engine/types/price.ts';

describe('SeqRing', () => {
  it('returns only what changed after a cursor, the replaced last item included', () => {
    const r = new SeqRing<string>(10);
    r.push('a');
    r.push('b');
    const first = r.since(-1);
    r.replaceLast('b2');
    r.push('c');
    const next = r.since(first.seq);
    expect(first).toEqual({ reset: true, items: ['a', 'b'], seq: 2 });
    expect(next).toEqual({ reset: false, items: ['b2', 'c'], seq: 4 });
    expect(r.since(next.seq).items).toEqual([]);
  });

  it('resets a cursor older than the oldest kept item and keeps at most capacity items', () => {
    const r = new SeqRing<number>(3);
    for (let i = 0; i < 10; i++) r.push(i);
    // Item i carries seq i + 1: 7, 8, 9 are kept with seqs 8, 9, 10.
    const s = r.since(6);
    expect(s.reset).toBe(true);
    expect(s.items).toEqual([7, 8, 9]);
    expect(r.length).toBe(3);
    expect(r.since(7)).toEqual({ reset: false, items: [7, 8, 9], seq: 10 });
    expect(r.since(9)).toEqual({ reset: false, items: [9], seq: 10 });
  });
});

describe('TopicThrottle', () => {
  it('coalesces a burst into at most maxHz flushes per second, each topic once, spaced by the interval', () => {
    const clock = new SimulatedClock(1_000_000);
    const flushes: { t: number; topics: string[] }[] = [];
    const th = new TopicThrottle<string>({ clock, maxHz: 4, flush: (ts) => flushes.push({ t: clock.now(), topics: [...ts] }) });
    for (let i = 0; i < 1000; i++) {
      th.mark(i % 3 === 0 ? 'cob' : 'candles');
      clock.advance(1);
    }
    clock.advance(1000);
    const gaps = flushes.slice(1).map((f, i) => f.t - flushes[i]!.t);
    expect(flushes.length).toBeLessThanOrEqual(5);
    expect(flushes.length).toBeGreaterThanOrEqual(4);
    expect(gaps.every((g) => g >= 250)).toBe(true);
    expect(flushes.every((f) => new Set(f.topics).size === f.topics.length)).toBe(true);
    expect(th.stats).toEqual({ marked: 1000, flushes: flushes.length, coalesced: 1000 - flushes.reduce((s, f) => s + f.topics.length, 0) });
  });

  it('never flushes inside mark (payloads are not built on the bus handler path)', () => {
    const clock = new SimulatedClock(0);
    let n = 0;
    const th = new TopicThrottle<string>({ clock, maxHz: 10, flush: () => n++ });
    th.mark('x');
    const during = n;
    clock.advance(0);
    expect(during).toBe(0);
    expect(n).toBe(1);
  });
});

describe('controls', () => {
  it.each([
    ['stop', {}, [{ type: 'risk.killSwitch', on: true, reason: 'dashboard: operator stop', ts: 5 }]],
    ['start', {}, [{ type: 'risk.killSwitch', on: false, reason: 'dashboard: operator start', ts: 5 }, { type: 'risk.resume', ts: 5 }]],
    ['start', { resetPeak: true }, [{ type: 'risk.killSwitch', on: false, reason: 'dashboard: operator start', ts: 5 }, { type: 'risk.resume', resetPeak: true, ts: 5 }]],
    ['kill', { reason: 'flash crash' }, [{ type: 'risk.killSwitch', on: true, reason: 'dashboard: flash crash', ts: 5 }, { type: 'risk.flatten', reason: 'dashboard: flash crash', ts: 5 }]],
    ['thresholds', { buy: 0.7 }, [{ type: 'orchestrator.setThresholds', buy: 0.7 }]],
    ['thresholds', { buy: 0.7, sell: 0.6, minConfidence: 0.5 }, [{ type: 'orchestrator.setThresholds', buy: 0.7, sell: 0.6, minConfidence: 0.5 }]],
    ['rollback', { model: 'cnn' }, [{ type: 'orchestrator.rollback', model: 'cnn' }]],
    ['limits', { maxOrderNotional: '250.5', stopLossBps: 150 }, [{ type: 'risk.setLimits', limits: { maxOrderNotional: money('250.5'), stopLossBps: 150 }, ts: 5 }]],
    ['limits', { warnVar99: '300', maxVar99: '600.5', exitOrderType: 'limit', exitSlippageBps: 15 }, [{
      type: 'risk.setLimits', limits: { warnVar99: money('300'), maxVar99: money('600.5'), exitOrderType: 'limit', exitSlippageBps: 15 }, ts: 5,
    }]],
    ['limits', { symbol: 'ETH/USDT', maxOrderLots: 5000 }, [{ type: 'risk.setLimits', limits: { symbols: { 'ETH/USDT': { maxOrderLots: 5000 } } }, ts: 5 }]],
    ['limits', { maxOrderNotional: '250', symbol: 'ETH/USDT', maxOrderLots: 5000, maxPositionLots: 20_000 }, [{
      type: 'risk.setLimits', limits: { maxOrderNotional: money('250'), symbols: { 'ETH/USDT': { maxOrderLots: 5000, maxPositionLots: 20_000 } } }, ts: 5,
    }]],
  ])('maps %s %j to bus messages', (action, body, messages) => {
    expect(controlMessages(action, body, 5)).toEqual({ ok: true, action, messages });
  });

  it.each([
    ['thresholds', { buy: 1.5 }, 400],
    ['thresholds', {}, 400],
    ['thresholds', { buy: '0.5' }, 400],
    ['rollback', {}, 400],
    ['limits', {}, 400],
    ['limits', { maxOrderNotional: 250 }, 400],
    ['limits', { maxOrderNotional: '1e3' }, 400],
    ['limits', { maxDrawdownBps: 20_000 }, 400],
    ['limits', { maxVar95: 10 }, 400],
    ['limits', { exitOrderType: 'stop' }, 400],
    ['limits', { maxDrawdownBps: null }, 400],
    ['limits', { exitSlippageBps: null }, 400],
    ['limits', { maxOrderLots: 5000 }, 400],
    ['limits', { symbol: 'ETH/USDT' }, 400],
    ['limits', { symbol: 'ETH/USDT', maxOrderLots: 0 }, 400],
    ['limits', { symbol: 'ETH/USDT', maxOrderLots: 1.5 }, 400],
    ['limits', { symbol: 'ETH/USDT', maxOrderLots: '5000' }, 400],
    ['limits', { symbol: 'ETHUSDT', maxPositionLots: 5000 }, 400],
    ['stop', { extra: 1 }, 400],
    ['launch', {}, 404],
  ])('refuses %s %j with %i', (action, body, status) => {
    const r = controlMessages(action, body, 5);
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.status).toBe(status);
  });

  it('turns null into a limit removed: the key is sent, undefined, so the RiskManager\'s merge drops it', () => {
    const r = controlMessages('limits', { stopLossBps: null, maxVar99: null, takeProfitBps: 300 }, 5);
    const sent = r.ok && r.messages[0]!.type === 'risk.setLimits' ? r.messages[0]!.limits : undefined;
    expect(sent).toStrictEqual({ stopLossBps: undefined, maxVar99: undefined, takeProfitBps: 300 });
    const merged = onSetLimits(createRiskState({ limits: { ...DEFAULT_LIMITS, maxVar99: money('500') }, instruments: [makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT'])], cash: money('1') }), sent!, 5);
    expect([merged.state.limits.stopLossBps, merged.state.limits.maxVar99, merged.state.limits.takeProfitBps, merged.out[0]!.type]).toEqual([undefined, undefined, 300, 'risk.limitsChanged']);
  });

  it('sets one symbol\'s lot caps without touching another symbol\'s or a cap not named; null removes a cap', () => {
    const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
    const btc = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
    const s0 = createRiskState({
      limits: { ...DEFAULT_LIMITS, symbols: { 'ETH/USDT': { maxOrderLots: 3000 as Lots, maxPositionLots: 6000 as Lots }, 'BTC/USDT': { maxOrderLots: 100 as Lots } } },
      instruments: [eth, btc], cash: money('1'),
    });
    const sent = (body: object) => {
      const r = controlMessages('limits', body, 5);
      return r.ok && r.messages[0]!.type === 'risk.setLimits' ? r.messages[0]!.limits : undefined;
    };
    const raised = onSetLimits(s0, sent({ symbol: 'ETH/USDT', maxOrderLots: 4000 })!, 5);
    const offOrder = onSetLimits(raised.state, sent({ symbol: 'ETH/USDT', maxOrderLots: null })!, 5);
    const offAll = onSetLimits(offOrder.state, sent({ symbol: 'ETH/USDT', maxPositionLots: null })!, 5);
    expect(raised.state.limits.symbols).toStrictEqual({ 'ETH/USDT': { maxOrderLots: 4000, maxPositionLots: 6000 }, 'BTC/USDT': { maxOrderLots: 100 } });
    expect(offOrder.state.limits.symbols).toStrictEqual({ 'ETH/USDT': { maxPositionLots: 6000 }, 'BTC/USDT': { maxOrderLots: 100 } });
    expect(offAll.state.limits.symbols).toStrictEqual({ 'BTC/USDT': { maxOrderLots: 100 } });
    expect([raised, offOrder, offAll].map((st) => st.out[0]!.type)).toEqual(['risk.limitsChanged', 'risk.limitsChanged', 'risk.limitsChanged']);
  });

  it('refuses lot caps for a symbol the RiskManager does not trade (LIMITS_INVALID) and keeps its limits', () => {
    const s0 = createRiskState({ limits: DEFAULT_LIMITS, instruments: [makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!)], cash: money('1') });
    const r = controlMessages('limits', { symbol: 'SOL/USDT', maxOrderLots: 10 }, 5);
    const step = onSetLimits(s0, r.ok && r.messages[0]!.type === 'risk.setLimits' ? r.messages[0]!.limits : {}, 5);
    expect(step.state).toBe(s0);
    expect(step.out).toEqual([expect.objectContaining({ type: 'risk.alert', code: 'LIMITS_INVALID', message: expect.stringContaining('symbols.SOL/USDT') })]);
  });
});

describe('risk panel', () => {
  it('says the lot caps in the LIMITS_SET alert, per symbol, and that there are none', () => {
    const bus = new Bus<EngineMsg>();
    const view = new DashboardViewModel({ bus });
    view.start();
    bus.publish({ type: 'risk.limitsChanged', limits: { ...DEFAULT_LIMITS, symbols: { 'ETH/USDT': { maxOrderLots: 5000 as Lots } } }, ts: 5 });
    bus.publish({ type: 'risk.limitsChanged', limits: DEFAULT_LIMITS, ts: 6 });
    const alerts = (view.build('risk', new Map()) as { alerts: { items: { code: string; message: string }[] } }).alerts.items;
    expect(alerts.map((a) => a.code)).toEqual(['LIMITS_SET', 'LIMITS_SET']);
    expect(alerts[0]!.message).toMatch(/exits market, ETH\/USDT max order 5000 lots, max position off$/);
    expect(alerts[1]!.message).toMatch(/exits market, no lot caps$/);
  });
});

describe('fills', () => {
  it('are shown in the order venue\'s increments, not the market data\'s', () => {
    const bus = new Bus<EngineMsg>();
    // The data's ETH/USDT (tick 0.01, lot 0.0001) and a venue that counts in lots of 0.001 and ticks of 0.1.
    const data = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
    const venue = makeInstrument({ symbol: 'ETH/USDT', venue: 'mexc', tickSize: '0.1', lotSize: '0.001', minNotional: '1' });
    const view = new DashboardViewModel({ bus, instruments: [data], venueInstruments: [venue] });
    view.start();
    // 5 lots at 26,838 ticks on the venue: 0.005 ETH at 2,683.80 (the recording's first trade price).
    bus.publish({
      type: 'exec.orderFilled', ts: 10,
      fill: { clientOrderId: 'c-1' as never, venueOrderId: 'v-1' as never, tradeId: '1', venue: 'mexc', symbol: 'ETH/USDT', side: 'buy', price: 26_838 as never, lots: 5 as Lots, fee: 0n as never, feeAsset: 'USDT', liquidity: 'taker', ts: 10 },
    });
    const { fills } = view.build('orders', new Map()) as { fills: { items: { qty: number; price: number }[] } };
    expect(fills.items).toHaveLength(1);
    expect(fills.items[0]!.qty).toBeCloseTo(0.005, 12);
    expect(fills.items[0]!.price).toBeCloseTo(2683.8, 9);
  });
});

describe('auth', () => {
  it('compares tokens of any length without throwing', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches('a-much-longer-token', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
  });

  it('reads bearer tokens and generates one when none is configured', () => {
    const gen = resolveDashboardToken({});
    expect(bearerToken('Bearer xyz')).toBe('xyz');
    expect(bearerToken('bearer xyz ')).toBe('xyz');
    expect(bearerToken('Basic xyz')).toBeUndefined();
    expect(resolveDashboardToken({ dashboardToken: 'set' })).toEqual({ token: 'set', generated: false });
    expect(gen.generated).toBe(true);
    expect(gen.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('applies the config preflight rule: a non-loopback host needs a configured token', () => {
    expect(bindProblem('127.0.0.1', undefined)).toBeUndefined();
    expect(bindProblem('localhost', undefined)).toBeUndefined();
    expect(bindProblem('0.0.0.0', undefined)).toMatch(/not loopback: set COBALT_DASHBOARD_TOKEN/);
    expect(bindProblem('0.0.0.0', 'x'.repeat(22))).toBeUndefined();
  });
});

describe('fills table', () => {
  it('shows each fee in the asset it was paid in (base, quote or another), not as quote', () => {
    const bus = new Bus<EngineMsg>();
    const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
    const view = new DashboardViewModel({ bus, instruments: [eth] });
    view.start();
    const fill = (id: string, side: 'buy' | 'sell', fee: string, feeAsset: string) => bus.publish({
      type: 'exec.orderFilled', ts: 10,
      fill: {
        clientOrderId: id as never, venueOrderId: `v-${id}` as never, tradeId: id, venue: 'paper', symbol: 'ETH/USDT', side, price: priceToTicks(eth, '2000'),
        lots: qtyToLots(eth, '0.05'), fee: money(fee), feeAsset, liquidity: 'taker', ts: 10,
      },
    });
    // The paper venue charges a buy's fee in the base asset, a sell's in the quote; a Binance account may pay in BNB.
    fill('b', 'buy', '0.00005', 'ETH');
    fill('s', 'sell', '0.1', 'USDT');
    fill('n', 'buy', '0.003', 'BNB');
    const { fills } = view.build('orders', new Map()) as { fills: { items: { fee: number; feeAsset: string }[] } };
    expect(fills.items.map((f) => [f.fee, f.feeAsset])).toEqual([[0.00005, 'ETH'], [0.1, 'USDT'], [0.003, 'BNB']]);
  });
});

describe('consolidated book marks', () => {
  const rows = 21;
  const snapshot = (flags: Partial<CobSnapshot['flags']>, ts: number): CobSnapshot => ({
    symbol: 'ETH/USDT', ts, bestBid: 1999.5, bestAsk: 2000.5, mid: 2000, spread: 1, spreadBps: 5, bucketSize: 1, range: 10, centerBucket: 2000,
    bidBuckets: new Float64Array(rows).fill(5), askBuckets: new Float64Array(rows).fill(4), imbalance: 0.1, imbalanceNear: 0.1, imbalanceRange: 5,
    imbalanceMa: [0.1], maWindowsMs: [5000], venues: [],
    flags: { emptyBid: false, emptyAsk: false, crossed: false, staleVenues: [], noLiveVenue: false, ...flags },
  });
  const book = (view: DashboardViewModel) => (view.build('cob', new Map()) as { books: Record<string, { live: boolean; status: string }> }).books['ETH/USDT']!;
  const status = (venue: string, s: 'live' | 'stale' | 'resyncing', ts: number, reason?: string): EngineMsg =>
    ({ type: 'md.bookStatus', venue, symbol: 'ETH/USDT', status: s, ...(reason ? { reason } : {}), tsExchange: ts, tsLocal: ts }) as EngineMsg;

  it('says a crossed book with a stale venue is not live, from the snapshot\'s own flags', () => {
    const bus = new Bus<EngineMsg>();
    const view = new DashboardViewModel({ bus });
    view.start();
    bus.publish({ type: 'cob.snapshot', symbol: 'ETH/USDT', ts: 1, cob: snapshot({}, 1) });
    const clean = book(view);
    bus.publish({ type: 'cob.snapshot', symbol: 'ETH/USDT', ts: 2, cob: snapshot({ crossed: true, staleVenues: ['mexc'] }, 2) });
    expect(clean).toMatchObject({ live: true, status: 'live' });
    expect(book(view)).toEqual(expect.objectContaining({ live: false, status: 'mexc stale · crossed' }));
  });

  it('marks the last snapshot kept once its only venue goes stale or re-syncs (no new snapshot comes), and clears it when live again', () => {
    const bus = new Bus<EngineMsg>();
    const view = new DashboardViewModel({ bus });
    const changed: string[] = [];
    view.onChange = (t) => changed.push(t);
    view.start();
    bus.publish(status('binance', 'live', 1));
    bus.publish({ type: 'cob.snapshot', symbol: 'ETH/USDT', ts: 1, cob: snapshot({}, 1) });
    changed.length = 0;
    bus.publish(status('binance', 'stale', 5000, 'no update for 5000 ms'));
    const stale = book(view);
    const pushedCob = changed.includes('cob');
    bus.publish(status('binance', 'resyncing', 6000, 'gap after update 101'));
    const resyncing = book(view);
    bus.publish(status('binance', 'live', 7000));
    expect(pushedCob).toBe(true);
    expect(stale).toMatchObject({ live: false, status: 'binance stale (no update for 5000 ms)' });
    expect(resyncing).toMatchObject({ live: false, status: 'binance resyncing (gap after update 101)' });
    expect(book(view)).toMatchObject({ live: true, status: 'live' });
  });
});

describe('metrics', () => {
  it('counts book gaps and resyncs from the aggregator\'s own counters, a second gap during a resync included', async () => {
    // The reviewer's sequence: live, a gap (resyncing, diffs buffered), then a hole inside the buffered diffs found when
    // the new snapshot arrives: a second gap while the book never left 'resyncing', so md.bookStatus says nothing new.
    const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(1_723_161_000_000);
    const agg = new CobAggregator({ bus, clock, snapshots: { requestSnapshot() {} }, symbols: [{ symbol: 'ETH/USDT', bucketSize: '1', venues: [eth] }] });
    agg.start();
    const metrics = new DashboardMetrics({
      bus, view: new DashboardViewModel({ bus }), wsClients: () => 0,
      bookCounters: () => agg.bookCounters(),
    });
    const base = { venue: 'binance', symbol: 'ETH/USDT', tsExchange: clock.now(), tsLocal: clock.now() } as const;
    const diff = (u: number) => bus.publish({ ...base, type: 'md.depth', firstUpdateId: u, finalUpdateId: u, bids: [[200000, 10]], asks: [[200100, 10]] } as unknown as EngineMsg);
    const snap = (last: number) => bus.publish({ ...base, type: 'md.snapshot', lastUpdateId: last, bids: [[200000, 10]], asks: [[200100, 10]] } as unknown as EngineMsg);
    snap(100);
    diff(101);
    diff(105);
    diff(106);
    diff(110);
    snap(104);
    const text = await metrics.text();
    agg.stop();
    expect(agg.bookCounters()).toEqual([{ venue: 'binance', symbol: 'ETH/USDT', gaps: 2, resyncs: 2 }]);
    expect(text).toContain('cobalt_book_gaps_total{venue="binance",symbol="ETH/USDT"} 2');
    expect(text).toContain('cobalt_book_resyncs_total{venue="binance",symbol="ETH/USDT"} 2');
  });

  it('reports the event-loop delay p99 since the last scrape: each scrape empties the recorder', async () => {
    // A recorder that holds what it was given since its last reset (node's IntervalHistogram behaves so).
    let recorded: number[] = [];
    const lag: LoopLagSource = { p99Ms: () => (recorded.length > 0 ? Math.max(...recorded) : NaN), reset: () => { recorded = []; } };
    const bus = new Bus<EngineMsg>();
    const metrics = new DashboardMetrics({ bus, view: new DashboardViewModel({ bus }), wsClients: () => 0, loopLag: lag });
    const sample = async () => /^cobalt_event_loop_lag_p99_seconds (\S+)$/m.exec(await metrics.text())?.[1];
    recorded.push(240, 3);
    const afterStall = await sample();
    recorded.push(2, 4);
    const quiet = await sample();
    const nothing = await sample();
    expect(afterStall).toBe('0.24');
    expect(quiet).toBe('0.004');
    expect(nothing).toBe('0');
  });
});
