// The market circuit breaker's spread guard (actors/risk-manager/market-guard.ts, MARKET_SPREAD) through onMark /
// onIntent, on recorded ETH/USDT prices: the marks carry the best bid/ask (app/system.ts publishMarks), and the
// bundled recording's own quotes never trip the config default (50 bps held for 2 s).
import { describe, expect, it } from 'vitest';
import { publishMarks } from '../../../app/system.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';
import { priceToTicks } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import { nsToMs, type TsMs } from '../../../engine/types/time.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { RiskLimits, RiskMark } from '../../../engine/messages/risk.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { validateLimits } from '../../../actors/risk-manager/limits.ts';
import { spreadBps, type Quote } from '../../../actors/risk-manager/market-guard.ts';
import { createRiskState, onIntent, onMark, type RiskOut, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { ETH, ETH_PX, intent, limits, lots } from './helpers.ts';

const SYM = 'ETH/USDT';
/** The config defaults (engine/config/schema.ts risk.breaker), the spread guard only. */
const SPREAD: Partial<RiskLimits> = { maxSpreadBps: 50, spreadMs: 2_000 };
const T0 = 1_723_161_253_000 as TsMs; // 2024-08-08 23:54:13, the recording's start
const at = (ms: number): TsMs => (T0 + ms) as TsMs;
const PX = ETH_PX.t1520538925; // 2683.80
/** The recording's first quote, 2683.80 / 2683.81: one tick. */
const TIGHT: Quote = { bid: PX, ask: (PX + 1) as Ticks };
/** A book emptied to 1 % either side: 2657 / 2710.6, about 200 bps of the bid. */
const WIDE: Quote = { bid: Math.round(PX * 0.99) as Ticks, ask: Math.round(PX * 1.01) as Ticks };

function start(over: Partial<RiskLimits> = SPREAD, held = 0): RiskState {
  return createRiskState({
    limits: limits(over), instruments: [ETH], cash: money('5000'),
    ...(held > 0 ? { positions: { [SYM]: { lots: lots(held), cost: money('268.38') } } } : {}),
  });
}

function marks(s0: RiskState, tape: readonly (readonly [number, Quote | undefined])[]): { s: RiskState; out: RiskOut[] } {
  let s = s0;
  const out: RiskOut[] = [];
  for (const [ms, q] of tape) {
    const step = onMark(s, SYM, PX, at(ms), q);
    s = step.state;
    out.push(...step.out);
  }
  return { s, out };
}

const codes = (out: readonly RiskOut[]): string[] => out.map((o) => (o.type === 'risk.alert' ? o.code : o.type === 'risk.orderDenied' ? o.reason.code : o.type));
const buy = (s: RiskState, ms: number): string => codes(onIntent(s, intent({ price: PX }), at(ms)).out).join(',');
const messages = (out: readonly RiskOut[], code: string): string[] => out.flatMap((o) => (o.type === 'risk.alert' && o.code === code ? [o.message] : []));

describe('market circuit breaker: spread', () => {
  it('measures the spread in whole bps of the bid, 0 for a locked quote, and none for a crossed quote or without one', () => {
    expect([spreadBps(TIGHT), spreadBps(WIDE), spreadBps({ bid: PX, ask: PX }), spreadBps({ bid: PX, ask: (PX - 1) as Ticks }), spreadBps({}), spreadBps(undefined)])
      .toEqual([0, 202, 0, undefined, undefined, undefined]);
  });

  // Review of 5b8d4e4 (finding 4): a crossed quote read as 0 bps ended a denial on a broken book.
  it('keeps denying entries through a crossed quote, and a crossed quote starts no stretch', () => {
    const CROSSED: Quote = { bid: WIDE.ask, ask: WIDE.bid };
    const denying = marks(start(), [[0, TIGHT], [100, WIDE], [2_200, WIDE], [2_400, CROSSED]]);
    const crossedOnly = marks(start(), [[0, TIGHT], [100, CROSSED], [2_200, CROSSED]]);
    expect([codes(denying.out), buy(denying.s, 2_500)]).toEqual([['MARKET_SPREAD'], 'MARKET_SPREAD']);
    expect([codes(crossedOnly.out), buy(crossedOnly.s, 2_500)]).toEqual([[], 'risk.orderApproved']);
  });

  it('ends a denial at a locked quote (bid = ask: 0 bps)', () => {
    const { s, out } = marks(start(), [[0, TIGHT], [100, WIDE], [2_200, WIDE], [2_400, { bid: PX, ask: PX }]]);
    expect([codes(out), buy(s, 2_500)]).toEqual([['MARKET_SPREAD', 'MARKET_CLEARED'], 'risk.orderApproved']);
  });

  it('allows entries while the spread is wide for less than spreadMs', () => {
    const { s, out } = marks(start(), [[0, TIGHT], [1_000, WIDE], [2_500, WIDE]]);
    expect([codes(out), buy(s, 2_999)]).toEqual([[], 'risk.orderApproved']);
  });

  it('denies entries once wide for spreadMs, alerting once, and lets exits out', () => {
    const { s, out } = marks(start(SPREAD, 1000), [[0, TIGHT], [1_000, WIDE], [3_000, WIDE], [4_000, WIDE]]);
    const denied = onIntent(s, intent({ price: PX }), at(4_500));
    const sell = codes(onIntent(s, intent({ side: 'sell', lots: lots(1000), price: PX }), at(4_500)).out);
    expect(codes(out)).toEqual(['MARKET_SPREAD']);
    expect(denied.out).toEqual([{ type: 'risk.orderDenied', intentId: expect.anything(), ts: at(4_500),
      reason: { code: 'MARKET_SPREAD', spreadBps: 202, max: 50, wideForMs: 3_500 } }]);
    expect(denied.state).toBe(s); // already reported: nothing to record
    expect(sell).toEqual(['risk.orderApproved']);
  });

  it('reports the episode with the first denied entry when no mark came since spreadMs passed', () => {
    const { s, out } = marks(start(), [[0, TIGHT], [1_000, WIDE]]);
    const first = onIntent(s, intent({ price: PX }), at(3_000));
    const second = onIntent(first.state, intent({ price: PX }), at(3_100));
    expect([codes(out), codes(first.out), codes(second.out)]).toEqual([[], ['MARKET_SPREAD', 'MARKET_SPREAD'], ['MARKET_SPREAD']]);
  });

  it('clears when a mark carries a spread back within the limit, and allows entries again', () => {
    const { s, out } = marks(start(), [[0, TIGHT], [1_000, WIDE], [3_000, WIDE], [3_500, undefined], [4_000, TIGHT]]);
    expect([codes(out), buy(s, 4_001)]).toEqual([['MARKET_SPREAD', 'MARKET_CLEARED'], 'risk.orderApproved']);
    expect(messages(out, 'MARKET_CLEARED')[0]).toContain('entries allowed again');
  });

  it('raises no MARKET_CLEARED for a short wide stretch, and starts a new episode on the next one', () => {
    const { out } = marks(start(), [[0, WIDE], [1_000, TIGHT], [2_000, WIDE], [3_999, WIDE], [4_000, WIDE], [5_000, TIGHT]]);
    expect(codes(out)).toEqual(['MARKET_SPREAD', 'MARKET_CLEARED']);
  });

  it('says entries stay denied by MARKET_MOVE when the spread clears during a move episode', () => {
    const both = { ...SPREAD, maxMoveBps: 500, moveWindowMs: 300_000, moveCooldownMs: 300_000 };
    const crash = Math.floor(PX * 0.94) as Ticks;
    let { s, out } = marks(start(both), [[0, TIGHT], [1_000, WIDE], [3_000, WIDE]]);
    const fall = onMark(s, SYM, crash, at(3_500), WIDE);
    const back = onMark(fall.state, SYM, crash, at(4_000), { bid: crash, ask: (crash + 1) as Ticks });
    out = [...out, ...fall.out, ...back.out];
    expect([codes(out), buy(back.state, 4_001)]).toEqual([['MARKET_SPREAD', 'MARKET_MOVE', 'MARKET_CLEARED'], 'MARKET_MOVE']);
    expect(messages(out, 'MARKET_CLEARED')[0]).toContain('entries stay denied by MARKET_MOVE');
  });

  it('is off without maxSpreadBps: a wide book denies nothing', () => {
    const { s, out } = marks(start({}), [[0, WIDE], [10_000, WIDE]]);
    expect([codes(out), buy(s, 10_001), s.market[SYM]]).toEqual([[], 'risk.orderApproved', undefined]);
  });

  it.each([
    ['a spread limit without its duration', { maxSpreadBps: 50 }, 'spreadMs must be a non-negative integer with maxSpreadBps, got undefined'],
    ['a spread limit of 0 bps', { maxSpreadBps: 0, spreadMs: 2_000 }, 'maxSpreadBps must be an integer 1..10000 bps, got 0'],
    ['a fractional limit', { maxSpreadBps: 12.5, spreadMs: 2_000 }, 'maxSpreadBps must be an integer 1..10000 bps, got 12.5'],
    ['a negative duration', { maxSpreadBps: 50, spreadMs: -1 }, 'spreadMs must be a non-negative integer with maxSpreadBps, got -1'],
  ])('refuses %s', (_name, over, problem) => {
    expect(validateLimits(limits(over))).toEqual([problem]);
  });
});

const FILES = ['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz'];

// Replays the recording's trades and quotes through publishMarks into onMark, as the risk child does with each mark.
function replay(over: Partial<RiskLimits>): { s: RiskState; out: RiskOut[]; quoted: number; widest: number; end: number } {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(T0);
  let s = start(over, 1000);
  const out: RiskOut[] = [];
  let quoted = 0;
  let widest = 0;
  bus.subscribe('risk.mark', (m: RiskMark) => {
    const step = onMark(s, m.symbol, m.price, m.ts, m);
    s = step.state;
    out.push(...step.out);
    if (m.bid !== undefined) quoted++;
    widest = Math.max(widest, spreadBps(m) ?? 0);
  });
  publishMarks(bus, clock, SYM);
  let id = 0;
  for (const line of readRecordingLinesSync(FILES)) {
    const ts = nsToMs(line.tsLocalNs) as TsMs;
    if (ts > clock.now()) clock.set(ts);
    if (line.text.includes('@trade"')) {
      const d = (JSON.parse(line.text) as { data: { p: string } }).data;
      bus.publish({ type: 'md.trade', venue: 'binance', symbol: SYM, tsExchange: ts, tsLocal: ts, tradeId: ++id, price: priceToTicks(ETH, d.p), lots: 1 as Lots, buyerMaker: false });
    } else if (line.text.includes('@bookTicker"')) {
      const d = (JSON.parse(line.text) as { data: { u: number; b: string; a: string } }).data;
      bus.publish({ type: 'md.bookTicker', venue: 'binance', symbol: SYM, tsExchange: ts, tsLocal: ts, updateId: d.u,
        bid: priceToTicks(ETH, d.b), bidLots: 1 as Lots, ask: priceToTicks(ETH, d.a), askLots: 1 as Lots });
    }
  }
  return { s, out, quoted, widest, end: clock.now() - T0 };
}

describe('market circuit breaker: spread on the bundled recording', () => {
  it('never trips at the config default over the whole ETH/USDT recording', () => {
    const r = replay({ maxSpreadBps: 50, spreadMs: 2_000 });
    // The recording's widest quote is 10.5 bps, over 0.5 bps for 40 ms at most.
    expect([codes(r.out).filter((c) => c.startsWith('MARKET')), r.s.market[SYM]?.wideAt, buy(r.s, r.end)]).toEqual([[], undefined, 'risk.orderApproved']);
    expect(r.quoted).toBeGreaterThan(5_000);
    expect(r.widest).toBeGreaterThan(0);
    expect(r.widest).toBeLessThanOrEqual(10);
  });

  it('sees the same quotes trip a limit of 1 bps that denies at once', () => {
    const r = replay({ maxSpreadBps: 1, spreadMs: 0 });
    const c = codes(r.out);
    expect(c.filter((x) => x === 'MARKET_SPREAD').length).toBeGreaterThan(0);
    expect(c.filter((x) => x === 'MARKET_SPREAD').length).toBe(c.filter((x) => x === 'MARKET_CLEARED').length);
  });
});
