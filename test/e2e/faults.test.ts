// Faults, end to end. The live engine (ccxt venue, lockstep with the simulator on the real recording, see
// live-driver.ts) trades through a fault proxy (fault-proxy.ts) that answers chosen order requests with 429 +
// Retry-After, Binance's -2010 insufficient balance, a malformed JSON body after the venue placed the order, a
// stall after the venue placed it, a stall before it reached the venue, a 418 ban, and garbles one trade-history
// answer. Each fault ends in a log line with a stable `code` and the right order state, and the venue's order list
// holds nothing unexpected: no order the engine does not know, no client id twice, no order a refused request
// would have made, and the executor's books equal the venue's trades. Then an actor that keeps throwing spends its
// restart budget: sys.halted, the kill switch, KILL_SWITCH denials, and no order after the halt.
import ccxt from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import { fromCallback, type EventObject } from 'xstate';
import { instrumentOf } from '../../app/live-venue.ts';
import type { OrderRecord } from '../../actors/trading-executor/logic.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { Bus } from '../../engine/runtime/bus.ts';
import type { ChildSpec } from '../../engine/runtime/supervisor.ts';
import { binanceCcxtOptions } from '../../engine/venues/binance/rest.ts';
import { CcxtExecVenue } from '../../engine/venues/ccxt-exec.ts';
import type { ExchangeSim } from '../../engine/venues/sim/server.ts';
import { startFaultProxy, type FaultProxy, type FaultRule } from './fault-proxy.ts';
import { drainExecutor, driveLockstep, netLots, startLiveEngine, startSim, venueView, type LiveEngine } from './live-driver.ts';

const ORDER = { method: 'POST', path: '/api/v3/order' } as const;

const cleanup: { engine?: LiveEngine; proxy?: FaultProxy; sim?: ExchangeSim }[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) {
    await c.engine?.close();
    await c.proxy?.close();
    await c.sim?.close();
  }
});

describe('venue faults through the proxy', () => {
  it('429, -2010, malformed answers, timeouts and a 418 each end in their code and state, never a bogus order', { timeout: 120_000 }, async () => {
    const sim = await startSim('manual');
    const rules: FaultRule[] = [
      { ...ORDER, nth: 1, fault: { kind: 'rateLimit', retryAfterS: 1 } }, // A, resent as request 2
      { ...ORDER, nth: 3, fault: { kind: 'malformed', forward: true } }, // B: placed, answer unreadable
      { ...ORDER, nth: 4, fault: { kind: 'insufficientBalance' } }, // C: refused
      { ...ORDER, nth: 5, fault: { kind: 'stall', forward: true } }, // D: placed, no answer
      { ...ORDER, nth: 6, fault: { kind: 'stall', forward: false } }, // E: lost, resent as request 7
      { ...ORDER, nth: 8, fault: { kind: 'ban', retryAfterS: 20 } }, // F: refused, IP banned for 20 s
      { method: 'GET', path: '/api/v3/myTrades', nth: 3, fault: { kind: 'malformed', forward: false } },
    ];
    const proxy = await startFaultProxy(sim.url, rules);
    const slot: (typeof cleanup)[number] = { sim, proxy };
    cleanup.push(slot);
    // The venue `cobalt run` builds (liveVenue), with a ccxt timeout short enough for a test.
    const e = await startLiveEngine({
      restUrl: proxy.url, wsUrl: sim.wsUrl,
      venue: (config, secrets, clock) => new CcxtExecVenue({
        exchange: new ccxt.binance(binanceCcxtOptions({ baseUrl: config.venues.binance.restUrl, apiKey: secrets.binanceApiKey!, secret: secrets.binanceApiSecret!, timeoutMs: 1_500 }) as never) as never,
        venue: 'binance', instruments: [instrumentOf('ETH/USDT', 'binance')], clock, recvWindowMs: config.venues.binance.recvWindowMs,
      }),
    });
    slot.engine = e;
    const { sys, clock, venue } = e;
    const posts = () => proxy.requests.filter((r) => r.method === 'POST' && r.path === ORDER.path);
    await driveLockstep({ sys, sim, clock, venue, stopWhen: () => posts().length >= 10 });
    clock.advance(25_000); // past the ban, so the last polls book every fill
    await drainExecutor(sys, clock, venue);

    const p = posts();
    const cid = (i: number): string => p[i]!.params['newClientOrderId']!;
    const v = venueView(sim);
    const atVenue = (c: string): number => v.orders.filter((o) => o.clientOrderId === c).length;
    const sent = (c: string): number => p.filter((r) => r.params['newClientOrderId'] === c).length;
    const order = (c: string): OrderRecord => sys.execStore.order(c) as OrderRecord;
    const codes = (c: string): Set<unknown> => new Set(e.log.lines.filter((l) => l['clientOrderId'] === c).map((l) => l['code']));
    const [A, B, C, D, E, F] = [cid(0), cid(2), cid(3), cid(4), cid(5), cid(7)];

    expect(p.length).toBeGreaterThanOrEqual(8);
    // 429: not processed, resent with the same client id after Retry-After; one order at the venue.
    expect([cid(1), p[1]!.forwarded, sent(A), atVenue(A)]).toEqual([A, true, 2, 1]);
    expect(codes(A).has('VENUE_RATE_LIMITED')).toBe(true);
    expect(order(A).status).not.toBe('rejected');
    // Malformed answer after the venue placed it: queried by client id, found, never resent.
    expect([sent(B), atVenue(B)]).toEqual([1, 1]);
    // (ccxt hands the unparsed text to its order parser, which throws a TypeError: classified unknown, VENUE_ERROR.)
    expect(e.log.lines.some((l) => l['clientOrderId'] === B && l['kind'] === 'unknown' && ['BAD_RESPONSE', 'VENUE_ERROR'].includes(l['code'] as string))).toBe(true);
    expect(order(B).venueOrderId).toBe(String(v.orders.find((o) => o.clientOrderId === B)!.id));
    // -2010: rejected with INSUFFICIENT_FUNDS, nothing at the venue.
    expect([sent(C), atVenue(C)]).toEqual([1, 0]);
    expect([order(C).status, order(C).rejectCode]).toEqual(['rejected', 'INSUFFICIENT_FUNDS']);
    // Timeout after the venue placed it: found by the query, not resent.
    expect([sent(D), atVenue(D)]).toEqual([1, 1]);
    expect(codes(D).has('REQUEST_TIMEOUT')).toBe(true);
    expect(order(D).venueOrderId).toBe(String(v.orders.find((o) => o.clientOrderId === D)!.id));
    // Timeout before it reached the venue: the query finds nothing, the same client id is sent again, once at the venue.
    expect([cid(6), sent(E), atVenue(E)]).toEqual([E, 2, 1]);
    expect(codes(E).has('REQUEST_TIMEOUT')).toBe(true);
    expect(order(E).status).not.toBe('rejected');
    // 418: rejected with VENUE_IP_BANNED, nothing at the venue; the venue adapter then held calls back locally.
    expect([sent(F), atVenue(F)]).toEqual([1, 0]);
    expect([order(F).status, order(F).rejectCode]).toEqual(['rejected', 'VENUE_IP_BANNED']);
    expect(e.log.lines.some((l) => l['code'] === 'VENUE_IP_BANNED' && l['call'] === 'createOrder')).toBe(true);
    // The garbled trade-history answer: the poll failed, said so, and a later one booked the fills.
    expect(e.log.withCode('POLL_FAILED').length).toBeGreaterThan(0);

    // The venue's order list: unique client ids, all known to the engine, and the books match its trades.
    const venueCids = v.orders.map((o) => o.clientOrderId);
    expect(new Set(venueCids).size).toBe(venueCids.length);
    expect(venueCids.filter((c) => !sys.execStore.order(c))).toEqual([]);
    expect(venueCids.filter((c) => !p.some((r) => r.forwarded && r.params['newClientOrderId'] === c))).toEqual([]);
    const fills = sys.execStore.fillsOf('binance', 'ETH/USDT').map((f) => f.tradeId).sort();
    expect(fills).toEqual(v.trades.map((t) => String(t.tradeId)).sort());
    expect(sys.execStore.position('binance', 'ETH/USDT')?.netLots ?? 0).toBe(netLots(v.trades));
    expect((sys.handles.executor()!.allOrders() as OrderRecord[]).filter((o) => o.status === 'new' || o.status === 'submitted')).toEqual([]);
    // Nothing else failed (the poll's reconciliation is a tracked task, so the garbled answer is logged twice).
    const taskFailures = e.log.withCode('EXECUTOR_TASK_FAILED').map((l) => String((l['err'] as { stack?: string } | undefined)?.stack));
    expect(taskFailures.filter((st) => !st.includes('fetchMyTrades'))).toEqual([]);
  });
});

describe('an actor that keeps failing', () => {
  it('spends its restart budget: SYSTEM_HALTED, kill switch on, KILL_SWITCH denials, no strategy order after the halt', { timeout: 120_000 }, async () => {
    const sim = await startSim('manual');
    const slot: (typeof cleanup)[number] = { sim };
    cleanup.push(slot);
    // A test-only child: fine until the first fill, then it throws at every start.
    const ref: { bus?: Bus<EngineMsg> } = {};
    let broken = false;
    let starts = 0;
    const flaky: ChildSpec = {
      id: 'flaky', order: 6, restart: { maxRestarts: 2, windowMs: 60_000, initialDelayMs: 100, maxDelayMs: 100, jitter: 0 },
      logic: fromCallback<EventObject, null>(({ sendBack }) => {
        starts++;
        if (broken) throw new Error('flaky: broken for good');
        return ref.bus!.subscribe('exec.orderFilled', () => {
          broken = true;
          sendBack({ type: 'sup.fail', id: 'flaky', error: new Error('flaky: first failure') });
        });
      }),
    };
    let halt: { ts: number; actor: string } | undefined;
    const denials: { t: number; code: string }[] = [];
    const approvals: { t: number; reason: string; side: string; reduceOnly: boolean }[] = [];
    const kill: boolean[] = [];
    const e = await startLiveEngine({
      restUrl: sim.url, wsUrl: sim.wsUrl, system: { extraChildren: [flaky] },
      beforeStart: (s) => {
        ref.bus = s.bus;
        s.bus.subscribe('sys.halted', (m) => void (halt ??= { ts: m.ts, actor: m.actor ?? '' }));
        s.bus.subscribe('risk.killSwitch', (m) => void kill.push(m.on));
        s.bus.subscribe('risk.orderDenied', (m) => void denials.push({ t: m.ts, code: m.reason.code }));
        s.bus.subscribe('risk.orderApproved', (m) => void approvals.push({ t: m.ts, reason: m.intent.reason, side: m.intent.side, reduceOnly: m.intent.reduceOnly }));
      },
    });
    slot.engine = e;
    const { sys, clock, venue } = e;
    await driveLockstep({ sys, sim, clock, venue, stopWhen: () => halt !== undefined && denials.filter((d) => d.t >= halt!.ts).length >= 2 });
    await drainExecutor(sys, clock, venue);

    const v = venueView(sim);
    expect(halt?.actor).toBe('flaky');
    expect(starts).toBe(3); // the first start and two restarts
    expect(e.log.withCode('SYSTEM_HALTED').map((l) => l['actor'])).toEqual(['flaky']);
    expect(kill).toEqual([true]);
    expect(sys.supervisor.halted?.actor).toBe('flaky');
    const after = denials.filter((d) => d.t >= halt!.ts);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(new Set(after.map((d) => d.code))).toEqual(new Set(['KILL_SWITCH']));
    // It traded before (the failure came with the first fill) and sent no strategy order after the halt: only the
    // RiskManager's own stop-loss / take-profit exits, which a halt keeps armed (reduce-only sells).
    expect(v.orders.length).toBeGreaterThan(0);
    expect(approvals.filter((a) => a.t > halt!.ts).filter((a) => !(['stop-loss', 'take-profit'].includes(a.reason) && a.reduceOnly && a.side === 'sell'))).toEqual([]);
    expect(v.orders.filter((o) => o.submittedAt > halt!.ts && o.side !== 'sell')).toEqual([]);
  });
});
