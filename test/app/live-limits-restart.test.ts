// Live: limits an operator set at run time survive a restart with the config unchanged although the account's balance
// moved (review finding 1: the stored limits were keyed on the computed limits, whose VaR caps follow the balance at
// start, so every restart after a fill logged RISK_LIMITS_RESET and dropped them). The VaR caps are a share of the
// account's whole equity at start, never of execution.paper.initialQuote.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { instrumentOf } from '../../app/live-venue.ts';
import { buildSystem, type System } from '../../app/system.ts';
import { OrderBook } from '../../engine/market/order-book.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { formatMoney, money, type Money } from '../../engine/types/money.ts';
import { PaperVenue } from '../../engine/venues/paper/paper-venue.ts';
import type { Config } from '../../engine/config/schema.ts';
import { testConfig } from '../e2e/helpers.ts';

const T0 = 1_723_161_253_937;
// Live market data from nowhere (a closed loopback port: the candle history comes from the bundled klines).
const config = (): Config => testConfig({
  mode: 'live', data: { replayFiles: [] }, venues: { binance: { restUrl: 'http://127.0.0.1:9', wsUrl: 'ws://127.0.0.1:9' } },
  risk: { var: { confidence: 0.99, warnPct: 1, haltPct: 2 } }, execution: { paper: { initialQuote: '100' } },
});
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// A live system on a stand-in venue (a paper venue named binance) holding `usdt`, built the way `cobalt run --live`
// builds it, with no market data.
async function start(c: Config, usdt: string, equity?: string): Promise<System> {
  const clock = new SimulatedClock(T0);
  const inst = instrumentOf(c.symbols.primary, 'binance');
  const venue = new PaperVenue({
    clock, instruments: [inst], books: { [inst.symbol]: new OrderBook(inst.venueSymbol) }, makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n,
    latencyMs: 0, balances: { USDT: money(usdt) }, id: 'binance',
  });
  const sys = await buildSystem(c, {
    clock, mode: 'live', venueOverride: () => venue, liveCash: money(usdt), ...(equity !== undefined ? { liveEquity: money(equity) } : {}),
    noSync: true, maintenanceMs: 0, dataOverride: () => undefined,
  });
  // The children only: the risk manager starts with them (readiness would wait on candle history retried on a clock
  // that does not move here).
  sys.supervisor.start();
  return sys;
}

describe('live risk limits across restarts', () => {
  it('keeps an operator\'s limits after a restart on a moved balance, and drops them for an edited config', async () => {
    const c = config();
    dirs.push(path.dirname(c.store.path));
    const first = await start(c, '1000');
    first.bus.publish({ type: 'risk.setLimits', limits: { maxOrderNotional: money('20') }, ts: first.clock.now() });
    const set = formatMoney(first.handles.risk()!.limits.maxOrderNotional);
    await first.stop('test');
    // A fill moved the balance: 960 USDT at the next start, same config file.
    const second = await start(c, '960');
    const kept = formatMoney(second.handles.risk()!.limits.maxOrderNotional);
    await second.stop('test');
    // The config's own limit edited: the config wins.
    const edited = { ...c, risk: { ...c.risk, maxOrderNotional: '30' } };
    const third = await start(edited, '960');
    const afterEdit = formatMoney(third.handles.risk()!.limits.maxOrderNotional);
    await third.stop('test');

    expect(set).toBe('20');
    expect(kept).toBe('20');
    expect(afterEdit).toBe('30');
  }, 60_000);

  it.each([
    // [quote held, equity at start (quote + base valued), maxVar99 (2 %), warnVar99 (1 %)]
    ['100', '3100', '62', '31'],
    ['0', '3000', '60', '30'],
    ['0', undefined, '0', '0'],
  ])('takes the VaR caps from the account equity at start (quote %s, equity %s), not from execution.paper.initialQuote', async (usdt, equity, max, warn) => {
    const c = config();
    dirs.push(path.dirname(c.store.path));
    const sys = await buildSystem(c, {
      clock: new SimulatedClock(T0), mode: 'live', noSync: true, maintenanceMs: 0, dataOverride: () => undefined,
      venueOverride: ({ clock, instruments }) => new PaperVenue({
        clock, instruments: [instruments[0]!], books: { [instruments[0]!.symbol]: new OrderBook('ETHUSDT') }, makerFeeRate9: 0n, takerFeeRate9: 0n,
        latencyMs: 0, balances: { USDT: money(usdt) }, id: 'binance',
      }),
      liveCash: money(usdt), ...(equity !== undefined ? { liveEquity: money(equity) } : {}),
    });
    const caps = [formatMoney(sys.limits.maxVar99 as Money), formatMoney(sys.limits.warnVar99 as Money)];
    await sys.stop('test');
    expect(caps).toEqual([max, warn]);
  }, 60_000);
});
