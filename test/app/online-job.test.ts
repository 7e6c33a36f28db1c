// OnlineJob (app/online-job.ts): the poll timer, bus following and run bookkeeping both online learners share, on a
// simulated clock. The learners' own tests (online-learning*, online-dqn-learning) pin their rows' full texts.
import { describe, expect, it } from 'vitest';
import { OnlineJob } from '../../app/online-job.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';

const MIN = 60_000;
const T0 = Date.UTC(2024, 7, 10, 12, 0, 0);
const trade = (symbol: string, tsExchange: number): EngineMsg =>
  ({ type: 'md.trade', venue: 'binance', symbol, tsExchange, tsLocal: tsExchange, tradeId: 1, price: 1 as Ticks, lots: 1 as Lots, buyerMaker: false });
const reset = (symbol: string, ts: number): EngineMsg => ({ type: 'md.feedReset', venue: 'binance', symbol, reason: 'test', ts });

describe('OnlineJob', () => {
  it('polls every pollMs of engine time, tells the symbol\'s resets and trades only, and stop ends both', () => {
    const clock = new SimulatedClock(T0);
    const bus = new Bus<EngineMsg>();
    const job = new OnlineJob<string>({ clock, symbol: 'BTC/USDT', bus }, 10_000, MIN);
    let polls = 0;
    const seen: string[] = [];
    job.start(() => polls++, { reset: (ts) => seen.push(`reset ${ts - T0}`), trade: (ts) => seen.push(`trade ${ts - T0}`) });
    clock.advance(35_000);
    expect(polls).toBe(3);
    bus.publish(reset('ETH/USDT', T0 + 1));
    bus.publish(reset('BTC/USDT', T0 + 2));
    bus.publish(trade('ETH/USDT', T0 + 3));
    bus.publish(trade('BTC/USDT', T0 + 4));
    expect(seen).toEqual(['reset 2', 'trade 4']);
    job.stop();
    expect(job.stopped).toBe(true);
    clock.advance(60_000);
    bus.publish(trade('BTC/USDT', T0 + 5));
    expect(polls).toBe(3);
    expect(seen).toEqual(['reset 2', 'trade 4']);
  });

  it('is due retrainEveryMs after the last run started, keeps one run at a time, and composes the row around it', async () => {
    const clock = new SimulatedClock(T0);
    const job = new OnlineJob<string>({ clock, symbol: 'BTC/USDT' }, 10_000, 30 * MIN);
    const counts = { runs: 0, promotions: 0, failures: 0 };
    const row = (last?: string): ReturnType<typeof job.row> => job.row({ model: 'x (online)', head: 'learning x', counts, ...(last ? { last, valMetric: 0.5 } : {}) });
    expect(job.due(clock.now())).toBe(false);
    expect(row()).toEqual({ model: 'x (online)', status: 'learning x; next run in 30 min; 0 runs, 0 promoted, 0 failed' });
    expect(job.row({ model: 'x (online)', head: 'learning x', wait: 'a run needs 9', counts }).status).toBe('learning x; a run needs 9; 0 runs, 0 promoted, 0 failed');
    clock.advance(30 * MIN);
    expect(job.due(clock.now())).toBe(true);

    let finish: (r: string) => void = () => undefined;
    const started = clock.now();
    const run = job.begin(started, () => new Promise<string>((resolve) => { finish = resolve; }));
    expect(job.training).toBe(run);
    expect(job.due(clock.now())).toBe(false);
    // A last run not yet ended is not shown.
    expect(row('promoted v2')).toEqual({ model: 'x (online)', status: 'learning x; training a candidate now; 0 runs, 0 promoted, 0 failed', valMetric: 0.5, startedAt: started });

    clock.advance(2 * MIN);
    counts.runs = 1;
    counts.promotions = 1;
    finish('done');
    await expect(run).resolves.toBe('done');
    expect(job.training).toBeUndefined();
    expect(row('promoted v2')).toEqual({
      model: 'x (online)', status: 'learning x; next run in 28 min; last run 12:32:00 UTC promoted v2; 1 runs, 1 promoted, 0 failed', valMetric: 0.5,
    });
  });
});
