// The dashboard's kill (risk.killSwitch on + risk.flatten) end to end: the real RiskManager child and TradingExecutor
// on one bus, a scripted stub venue, a simulated clock and a temporary LMDB store. Review of the dashboard controls
// (kill switch), findings 1, 2, 3, 5 and 6, and the engine-failure halt reason of finding 4.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { riskChild, type RiskControl } from '../../app/risk-child.ts';
import { storedFills } from '../../app/system.ts';
import { TradingExecutor } from '../../actors/trading-executor/executor.ts';
import { isRiskExit } from '../../actors/trading-executor/logic.ts';
import type { RiskState } from '../../actors/risk-manager/index.ts';
import { controlMessages } from '../../engine/dashboard/controls.ts';
import { createLogger, setLogger } from '../../engine/log.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { Fill } from '../../engine/messages/orders.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { clientOrderIdFor, intentId, venueOrderId, type ClientOrderId } from '../../engine/types/ids.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import type { TsMs } from '../../engine/types/time.ts';
import type { CancelResult, ExecutionVenue, SubmitResult, VenueEvent, VenueOrder, VenueOrderRequest, VenueTrade } from '../../engine/venues/venue.ts';
import { ETH, limits } from '../actors/risk-manager/helpers.ts';
import { tempStore } from '../actors/trading-executor/helpers.ts';
import { until } from '../wait-until.ts';

setLogger(createLogger({ level: 'silent' }));

const INST = { ...ETH, venue: 'paper' as const };
const SYM = 'ETH/USDT';
const T0 = 1_723_161_000_000;
const PX = 268_380 as Ticks; // 2,683.80, the recording's first ETH/USDT trade

/** A venue that answers as scripted: submits wait on `gate` while set, and fills come only when the test pushes them. */
class StubVenue implements ExecutionVenue {
  readonly id = 'paper' as const;
  readonly pushesEvents = true;
  readonly submitSettleMs = 0;
  readonly symbols = [SYM];
  readonly orders = new Map<string, VenueOrder>();
  readonly trades: VenueTrade[] = [];
  readonly submits: string[] = [];
  gate: Promise<void> | undefined;
  /** Submissions never reach the venue and never answer (the process dies with them in flight). */
  lost = false;
  rejectNext = 0;
  private seq = 1;
  private fns: Array<(e: VenueEvent) => void> = [];

  async submit(req: VenueOrderRequest): Promise<SubmitResult> {
    this.submits.push(`${req.side} ${req.lots}`);
    if (this.lost) return new Promise<SubmitResult>(() => undefined);
    if (this.rejectNext > 0) {
      this.rejectNext--;
      return { status: 'rejected', code: 'INSUFFICIENT_FUNDS', message: 'Account has insufficient balance for requested action.' };
    }
    const vid = venueOrderId(`v${this.seq++}`);
    this.orders.set(req.clientOrderId, {
      clientOrderId: req.clientOrderId, venueOrderId: vid, symbol: req.symbol, side: req.side, orderType: req.orderType, timeInForce: req.timeInForce,
      lots: req.lots, filledLots: 0 as Lots, status: 'accepted', ts: 0 as TsMs, ...(req.price ? { price: req.price } : {}),
    });
    if (this.gate) await this.gate;
    return { status: 'accepted', venueOrderId: vid, ts: 0 as TsMs };
  }
  async cancel(_symbol: string, cid: ClientOrderId): Promise<CancelResult> {
    const o = this.orders.get(cid);
    if (!o || o.status === 'filled' || o.status === 'cancelled') return { status: 'notOpen' };
    this.orders.set(cid, { ...o, status: 'cancelled' });
    return { status: 'cancelled', ts: 0 as TsMs };
  }
  async fetchOrder(_symbol: string, cid: ClientOrderId) {
    return this.orders.get(cid);
  }
  async fetchOpenOrders() {
    return [...this.orders.values()].filter((o) => o.status === 'accepted' || o.status === 'partiallyFilled');
  }
  async fetchBalances() {
    return [];
  }
  async fetchMyTrades(_symbol: string, since?: string) {
    return this.trades.slice(since ? this.trades.findIndex((t) => t.tradeId === since) + 1 : 0);
  }
  onEvent(fn: (e: VenueEvent) => void) {
    this.fns.push(fn);
    return () => void (this.fns = this.fns.filter((f) => f !== fn));
  }
  /** The venue fills all that is left of the order and pushes the fill. */
  fillAll(cid: ClientOrderId, price: Ticks = PX): void {
    const o = this.orders.get(cid)!;
    const lots = (o.lots - o.filledLots) as Lots;
    this.orders.set(cid, { ...o, filledLots: o.lots, status: 'filled' });
    const f: Fill = {
      clientOrderId: cid, venueOrderId: o.venueOrderId, tradeId: `t${this.trades.length + 1}`, venue: 'paper', symbol: o.symbol, side: o.side,
      price, lots, fee: money('0'), feeAsset: 'USDT', liquidity: 'taker', ts: 0 as TsMs,
    };
    this.trades.push(f);
    for (const fn of this.fns) fn({ kind: 'fill', fill: f });
  }
  /** The newest order of `side` sent. */
  last(side: 'buy' | 'sell'): ClientOrderId {
    return [...this.orders.values()].filter((o) => o.side === side).at(-1)!.clientOrderId;
  }
}

const settle = async (n = 40): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** One engine: risk child and executor on a fresh bus over the store in `dir`; `held` lots (0.0001 ETH each) at start. */
function engine(dir: string, venue: StubVenue, o: { held?: number; clockMs?: number; limits?: Parameters<typeof limits>[0] } = {}) {
  const bus = new Bus<EngineMsg>();
  const seen: EngineMsg[] = [];
  bus.subscribePrefix('*', (m) => void seen.push(m));
  const clock = new SimulatedClock(o.clockMs ?? T0);
  const s = tempStore(dir);
  let read: (() => RiskState) | undefined;
  const held = o.held ?? 0;
  const initial = {
    limits: limits({ maxOrderNotional: money('100000'), maxPositionNotional: money('100000'), maxExposure: money('100000'), maxSubmitsPerSecond: 100, symbols: {}, ...o.limits }),
    instruments: [INST], cash: money('10000'),
    ...(held > 0 ? { positions: { [SYM]: { lots: held as Lots, cost: money(((held * PX) / 1e6).toFixed(4)) } } } : {}),
  };
  const riskInput = { bus, clock, initial, fills: () => storedFills(s.store, 'paper', SYM), store: s.lmdb, onState: (g: (() => RiskState) | undefined) => void (read = g) };
  const risk = createActor(riskChild, { input: riskInput });
  const ex = new TradingExecutor({ bus, clock, venue, store: s.store, instruments: [INST], log: createLogger({ level: 'silent' }) });
  const of = <T extends EngineMsg['type']>(t: T) => seen.filter((m): m is Extract<EngineMsg, { type: T }> => m.type === t);
  const control = (action: string) => {
    const r = controlMessages(action, {}, clock.now());
    if (!r.ok) throw new Error(r.error);
    for (const m of r.messages) bus.publish(m);
  };
  const mark = (price: number) => bus.publish({ type: 'risk.mark', symbol: SYM, price: price as Ticks, ts: clock.now() });
  const quiet = async () => {
    await settle();
    await ex.idle();
    await settle();
  };
  const exits = () => of('risk.orderApproved').filter((m) => m.intent.reduceOnly).map((m) => m.intent);
  return { bus, seen, of, clock, s, risk, riskInput, ex, control, mark, quiet, exits, state: () => read!() };
}

function newDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cobalt-risk-flatten-'));
  dirs.push(d);
  return d;
}

/**
 * Runs `body` on an engine over a fresh store and stub venue, started as the process starts it (the risk child, then
 * the executor, then a first mark at PX), and stops it afterwards: also when `body` throws, so that a failing test
 * leaves no store open.
 */
async function withEngine(o: Parameters<typeof engine>[2], body: (w: ReturnType<typeof engine>, venue: StubVenue) => Promise<void>): Promise<void> {
  const venue = new StubVenue();
  const w = engine(newDir(), venue, o);
  w.risk.start();
  await w.ex.start();
  w.mark(PX);
  try {
    await body(w, venue);
  } finally {
    w.ex.stop();
    w.risk.stop(); // a no-op where `body` stopped it already (xstate ignores a second stop)
    await w.s.close();
  }
}

describe('kill switch flatten, end to end', () => {
  // Finding 1: a strategy IOC buy waiting on the venue's answer filled after the kill's one flatten was sized.
  it('sells the lots of a buy that was in flight at the kill, and leaves the account flat', async () => {
    await withEngine({}, async (w, venue) => {
      let open!: () => void;
      venue.gate = new Promise<void>((r) => (open = r));
      const buy = intentId('strategy-buy-1');
      w.bus.publish({ type: 'risk.intent', intent: { id: buy, symbol: SYM, side: 'buy', orderType: 'market', lots: 1000 as Lots, timeInForce: 'IOC', reduceOnly: false, reason: 'strategy', ts: w.clock.now() } });
      await until(() => venue.orders.has(clientOrderIdFor(buy)), 'the strategy buy at the venue');
      w.control('kill');
      await settle();
      venue.fillAll(clientOrderIdFor(buy)); // filled on arrival; the HTTP answer comes after
      venue.gate = undefined;
      open();
      await w.quiet();
      expect(venue.submits).toEqual(['buy 1000', 'sell 1000']);
      venue.fillAll(venue.last('sell'));
      await w.quiet();
      const st = w.state();
      expect([st.portfolio.positions[SYM]?.lots, st.tradingState, st.killSwitch]).toEqual([0, 'halted', true]);
      expect(w.of('risk.alert').map((a) => a.code)).toEqual(['KILL_SWITCH', 'FLATTENED']);
    });
  });

  // Finding 2: the venue's refusal of the one flatten order was never retried nor reported.
  it('reports a refused flatten and sends it again after a backoff, with no mark arriving', async () => {
    await withEngine({ held: 3000 }, async (w, venue) => {
      venue.rejectNext = 1;
      w.control('kill');
      await w.quiet();
      const afterRefusal = [...venue.submits];
      w.clock.advance(1_000); // the feed is stalled: only the clock moves
      await w.quiet();
      expect([afterRefusal, venue.submits]).toEqual([['sell 3000'], ['sell 3000', 'sell 3000']]);
      venue.fillAll(venue.last('sell'));
      await w.quiet();
      expect(w.of('exec.orderRejected').map((m) => m.code)).toEqual(['INSUFFICIENT_FUNDS']);
      expect(w.of('risk.alert').map((a) => a.code)).toEqual(['KILL_SWITCH', 'FLATTEN_INCOMPLETE', 'FLATTENED']);
      expect(w.state().portfolio.positions[SYM]?.lots).toBe(0);
    });
  });

  // Finding 3: kill -9 with the flatten order in flight; the restart came back halted, the order was rejected
  // VENUE_UNKNOWN_ORDER at reconcile, and nothing sent it again.
  it('carries on a flatten after a kill -9, once the executor has reconciled', async () => {
    const dir = newDir();
    const venue = new StubVenue();
    const w = engine(dir, venue, { held: 3000 });
    w.risk.start();
    await w.ex.start();
    w.mark(PX);
    venue.lost = true;
    w.control('kill');
    await until(() => venue.submits.length === 1, 'the flatten exit sent');
    await w.s.lmdb.flush();
    // kill -9: nothing else runs, the store keeps what was written.
    w.ex.stop();
    await w.s.close();
    venue.lost = false;
    venue.submits.length = 0;

    const w2 = engine(dir, venue, { held: 3000, clockMs: T0 + 60_000 });
    w2.risk.start();
    const beforeReconcile = [...venue.submits];
    await w2.ex.start();
    await w2.quiet();
    expect([beforeReconcile, venue.submits]).toEqual([[], ['sell 3000']]);
    venue.fillAll(venue.last('sell'));
    await w2.quiet();
    const st = w2.state();
    expect(w2.of('exec.orderRejected').map((m) => m.code)).toEqual(['VENUE_UNKNOWN_ORDER']);
    expect([st.portfolio.positions[SYM]?.lots, st.tradingState, st.killSwitch]).toEqual([0, 'halted', true]);
    w2.ex.stop();
    w2.risk.stop();
    await w2.s.close();
  });

  // Review of the standing flatten: an exit the venue never answers stays submitted in the executor, and the flatten
  // waited without a word. The late check is the machine's own timer, which fires while the risk child holds marks
  // back from the machine (held-steps.ts): the machine then refused the held steps and stopped.
  it('reports an exit the venue never answers, 30 s after it was sent and once a minute after, while marks keep coming', async () => {
    await withEngine({ held: 3000 }, async (w, venue) => {
      venue.lost = true;
      w.control('kill');
      await until(() => venue.submits.length === 1, 'the flatten exit sent');
      for (let i = 1; i <= 200; i++) {
        w.clock.advance(500);
        w.mark(PX + (i % 3));
      }
      await settle(); // not the executor's idle: the exit's submission never ends
      const late = w.of('risk.alert').filter((a) => a.code === 'FLATTEN_INCOMPLETE').map((a) => a.ts - T0);
      expect([late, venue.submits, w.exits().length]).toEqual([[30_000, 90_000], ['sell 3000'], 1]);
      expect(w.state().marks[SYM]).toBe(PX + (200 % 3));
    });
  });

  // Finding 5: a second kill (double click, a retry after a slow answer) approved a second full-size sell.
  it('sends one exit for two kills', async () => {
    await withEngine({ held: 3000 }, async (w, venue) => {
      let open!: () => void;
      venue.gate = new Promise<void>((r) => (open = r));
      w.control('kill');
      await until(() => venue.submits.length === 1, 'the first exit sent');
      w.control('kill');
      await settle();
      venue.gate = undefined;
      open();
      await w.quiet();
      expect([w.exits().map((i) => i.lots), venue.submits]).toEqual([[3000], ['sell 3000']]);
    });
  });

  // A restart of the risk child alone (the supervisor's) while its exit is in flight at the live executor: the new
  // child takes that exit as in flight (openExits, as app/system.ts wires it) and sends no second one.
  it('sends no second exit after a restart of the risk child alone while the first is still in flight', async () => {
    await withEngine({ held: 3000 }, async (w, venue) => {
      let open!: () => void;
      venue.gate = new Promise<void>((r) => (open = r));
      w.control('kill');
      await until(() => venue.submits.length === 1, 'the first exit sent');
      await w.s.lmdb.flush();
      w.risk.stop();
      const openExits = () => w.ex.unfinishedOrders().filter(isRiskExit).map((o) => ({ symbol: o.intent.symbol, clientOrderId: o.clientOrderId as ClientOrderId }));
      const again = createActor(riskChild, { input: { ...w.riskInput, openExits } });
      again.start();
      w.clock.advance(500);
      w.mark((PX + 1) as Ticks);
      await settle();
      const approvedWhileInFlight = w.exits().map((i) => i.lots);
      venue.gate = undefined;
      open();
      venue.fillAll(venue.last('sell'));
      await w.quiet();
      expect(approvedWhileInFlight).toEqual([3000]);
      expect(venue.submits).toEqual(['sell 3000']);
      expect(w.state().portfolio.positions[SYM]?.lots ?? 0).toBe(0);
      expect(w.of('risk.alert').map((a) => a.code)).toEqual(['KILL_SWITCH', 'FLATTENED']);
      again.stop();
    });
  });

  // Finding 6: a kill switch flipped while already halted was stored only at the next state change, fill or mark.
  it('stores the kill switch at once when it is flipped while already halted', async () => {
    await withEngine({ held: 30000, limits: { maxDrawdownBps: 500 } }, async (w) => {
      w.clock.advance(1_000);
      w.mark(230_000); // 3 ETH fall 14%: 637 bps drawdown, halted
      await w.quiet();
      const control = w.s.lmdb.db<string, RiskControl>('risk.control');
      await w.s.lmdb.flush();
      const before = [control.get('control')?.tradingState, control.get('control')?.killSwitch];
      w.clock.advance(5_000);
      w.control('stop');
      await w.s.lmdb.flush();
      expect([before, control.get('control')?.killSwitch]).toEqual([['halted', false], true]);
    });
  });

  // Finding 4: `start` cleared the kill switch sys.halted sets, and went active with an actor down for good.
  it('refuses a resume after an engine failure, a restart of the risk child included, until the process restarts', async () => {
    const dir = newDir();
    const venue = new StubVenue();
    const w = engine(dir, venue);
    w.risk.start();
    await w.ex.start();
    w.bus.publish({ type: 'risk.killSwitch', on: true, reason: "system halted: actor 'dataProvider' spent its restart budget", source: 'engine', ts: w.clock.now() });
    w.control('start');
    const refused = w.state().tradingState;
    // The supervisor restarts the risk child (same bus), after its backoff: the failure still holds.
    w.risk.stop();
    await w.s.lmdb.flush();
    const again = createActor(riskChild, { input: w.riskInput });
    again.start();
    w.control('start');
    const afterChildRestart = w.state().tradingState;
    again.stop();
    w.ex.stop();
    await w.s.lmdb.flush();
    await w.s.close();
    // A new process (new bus) over the same store: halted as stored, and an operator start resumes.
    const w2 = engine(dir, venue, { clockMs: T0 + 60_000 });
    w2.risk.start();
    await w2.ex.start();
    const restored = w2.state().tradingState;
    w2.control('start');
    expect([refused, afterChildRestart, restored, w2.state().tradingState]).toEqual(['halted', 'halted', 'halted', 'active']);
    expect(w.of('risk.alert').filter((a) => a.code === 'RESUME_REFUSED').length).toBe(2);
    w2.ex.stop();
    w2.risk.stop();
    await w2.s.close();
  });
});
