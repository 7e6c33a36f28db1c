// A paper start rebuilds cash and positions from the starting balance and every fill ever booked. The risk child
// stores the portfolio it computed with the booking number it covers, and the next start applies only the fills
// booked since: the same portfolio as applying every fill, without reading them all.
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskChild, riskStartState, type FillCheckpoint, type FillLog } from '../../app/risk-child.ts';
import { storedFills } from '../../app/system.ts';
import type { RiskInput, RiskState } from '../../actors/risk-manager/index.ts';
import type { Fill } from '../../engine/messages/orders.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { money, type Money } from '../../engine/types/money.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { settingsKey } from '../../engine/config/settings-key.ts';
import { ETH, ETH_PX, fill, limits } from '../actors/risk-manager/helpers.ts';
import { tempStore } from '../actors/trading-executor/helpers.ts';

const stores: Array<ReturnType<typeof tempStore>> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.cleanup();
});

const PX = Object.values(ETH_PX);
const T0 = 1_723_161_300_000;
// Real ETH/USDT prices of the recording; two buys to a sell, 10-40 lots, quote fees.
const mkFill = (i: number): Fill => ({
  ...fill(i % 3 === 2 ? 'sell' : 'buy', PX[i % PX.length]!, 10 + (i % 4) * 10, BigInt(1_000 + i) as Money), tradeId: String(i + 1), ts: T0 + i * 500,
});

function setup() {
  const s = tempStore(undefined, { syncCommits: true });
  stores.push(s);
  const calls = { all: 0, after: [] as number[] };
  const log: FillLog = {
    id: 'paper:ETH/USDT',
    lastSeq: () => s.store.lastFillSeq('paper'),
    after: (seq) => {
      calls.after.push(seq);
      return s.store.fillsBookedAfter('paper', 'ETH/USDT', seq);
    },
  };
  const every = () => {
    calls.all++;
    return storedFills(s.store, 'paper', 'ETH/USDT');
  };
  const book = async (from: number, to: number) => {
    for (let i = from; i < to; i++) await s.store.commit({ fill: mkFill(i) });
  };
  // One start of the child, as system.ts gives it (paper): its state, then stopped.
  const startOnce = async (initial: RiskInput): Promise<RiskState> => {
    let read: (() => RiskState) | undefined;
    const actor = createActor(riskChild, { input: { bus: new Bus(), clock: new SimulatedClock(T0 + 3_600_000), initial, fills: every, fillLog: log, store: s.lmdb, onState: (g) => void (read = g) } });
    actor.start();
    const state = read!();
    actor.stop();
    await s.lmdb.flush();
    return state;
  };
  const checkpoint = () => s.lmdb.db<string, FillCheckpoint>('risk.control').get('fills');
  return { s, calls, book, startOnce, checkpoint };
}

const initial: RiskInput = { limits: limits(), instruments: [ETH], cash: money('10000') };
const fullReplay = (init: RiskInput, fills: readonly Fill[]) => riskStartState(init, fills, undefined, (T0 + 3_600_000) as TsMs);

describe('risk fill checkpoint (paper start)', () => {
  it('a start applies only the fills booked since the last start, and gets the portfolio of every fill', async () => {
    const t = setup();
    await t.book(0, 300);
    const first = await t.startOnce(initial);
    expect(t.calls).toEqual({ all: 1, after: [] });
    expect(t.checkpoint()?.seq).toBe(300);
    expect(first.portfolio).toEqual(fullReplay(initial, storedFills(t.s.store, 'paper', 'ETH/USDT')).portfolio);

    await t.book(300, 500);
    const second = await t.startOnce(initial);
    // Only the 200 fills booked after 300 were read.
    expect(t.calls).toEqual({ all: 1, after: [300] });
    const every = storedFills(t.s.store, 'paper', 'ETH/USDT');
    expect(every).toHaveLength(500);
    const full = fullReplay(initial, every);
    expect(second.portfolio).toEqual(full.portfolio);
    expect(second.recentFills).toEqual(full.recentFills);
    expect(second.portfolio.cash).not.toBe(first.portfolio.cash);
    expect(t.checkpoint()?.seq).toBe(500);

    // Nothing booked since: the checkpoint is used as it is (an empty read), and not written again.
    const third = await t.startOnce(initial);
    expect(t.calls.after).toEqual([300, 500]);
    expect(third.portfolio).toEqual(full.portfolio);
  });

  it('a changed starting balance is another account: every fill again, from the new balance', async () => {
    const t = setup();
    await t.book(0, 120);
    await t.startOnce(initial);
    await t.book(120, 150);
    const richer: RiskInput = { ...initial, cash: money('25000') };
    const s = await t.startOnce(richer);
    expect(t.calls).toEqual({ all: 2, after: [] });
    expect(s.portfolio).toEqual(fullReplay(richer, storedFills(t.s.store, 'paper', 'ETH/USDT')).portfolio);
    expect(t.checkpoint()?.seq).toBe(150);
    // Back to the first balance: the stored checkpoint is the richer account's, so again every fill.
    const back = await t.startOnce(initial);
    expect(t.calls.all).toBe(3);
    expect(back.portfolio).toEqual(fullReplay(initial, storedFills(t.s.store, 'paper', 'ETH/USDT')).portfolio);
  });

  // Review finding 2: the fill rule changed (a sell leaves no lots that base-asset fees took), so a portfolio stored
  // by the old rule, phantom lots and all, must not be continued.
  it('does not continue a checkpoint stored by the earlier fill rule: every fill again', async () => {
    const t = setup();
    await t.book(0, 60);
    // A checkpoint as the earlier rule keyed and computed it: 3 lots left over from buy fees in ETH, with their cost.
    const full = fullReplay(initial, storedFills(t.s.store, 'paper', 'ETH/USDT')).portfolio;
    const pos = full.positions['ETH/USDT']!;
    const stale: FillCheckpoint = {
      base: settingsKey({ log: 'paper:ETH/USDT', cash: initial.cash, instruments: initial.instruments, positions: null }),
      seq: 60, portfolio: { ...full, positions: { 'ETH/USDT': { ...pos, lots: (pos.lots + 3) as never, cost: (pos.cost + money('0.804051')) as Money } } }, recentFills: [],
    };
    await t.s.lmdb.db<string, FillCheckpoint>('risk.control').put('fills', stale);
    const s = await t.startOnce(initial);
    expect(t.calls).toEqual({ all: 1, after: [] });
    expect(s.portfolio).toEqual(full);
    expect(t.checkpoint()?.base).not.toBe(stale.base);
  });

  it('applies fills in booking order: a replay started over books fills with earlier times than the last run\'s', async () => {
    const t = setup();
    // The last run bought 300 lots late in its replay; the next run (the recording from its start again) sold them.
    await t.s.store.commit({ fill: { ...fill('buy', ETH_PX.t1520547382, 300, 0n as Money), tradeId: '1', ts: T0 + 600_000 } });
    await t.s.store.commit({ fill: { ...fill('sell', ETH_PX.t1520544172, 300, 0n as Money), tradeId: '2', ts: T0 + 5_000 } });
    const every = storedFills(t.s.store, 'paper', 'ETH/USDT');
    expect(every.map((f) => f.side)).toEqual(['buy', 'sell']);
    const s = await t.startOnce(initial);
    // Flat, with the round trip's result in cash. In time order the sell came first: oversold, and 300 lots held.
    expect(s.portfolio.positions['ETH/USDT']?.lots ?? 0).toBe(0);
    expect(s.portfolio.oversoldLots).toBe(0);
    expect(s.portfolio.cash).toBe(money('10000.3531'));
  });

  it('fills booked before the booking numbers existed are in the first checkpoint, and not read again', async () => {
    const t = setup();
    await t.book(0, 50);
    // An older store: the same fills with no booking number (the layout before exec.fillSeq).
    const seqs = t.s.lmdb.db<[string, number], unknown>('exec.fillSeq');
    for (let n = 1; n <= 50; n++) await seqs.remove(['paper', n]);
    await t.s.lmdb.db<string, unknown>('exec.state').remove('fillSeq:paper');
    expect(t.s.store.lastFillSeq('paper')).toBe(0);
    await t.startOnce(initial);
    expect(t.checkpoint()?.seq).toBe(0);
    await t.book(50, 80);
    const s = await t.startOnce(initial);
    expect(t.calls).toEqual({ all: 1, after: [0] });
    expect(s.portfolio).toEqual(fullReplay(initial, storedFills(t.s.store, 'paper', 'ETH/USDT')).portfolio);
  });
});
