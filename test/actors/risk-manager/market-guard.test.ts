// The market circuit breaker (actors/risk-manager/market-guard.ts) through onMark / onIntent, on recorded ETH/USDT
// prices (helpers.ts ETH_PX, and the bundled trades in data/recordings).
import { describe, expect, it } from 'vitest';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';
import { priceToTicks } from '../../../engine/types/instrument.ts';
import { ConfigError } from '../../../engine/types/errors.ts';
import { money } from '../../../engine/types/money.ts';
import { nsToMs, type TsMs } from '../../../engine/types/time.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { createRiskState, onIntent, onMark, onOrderEnd, type RiskOut, type RiskState } from '../../../actors/risk-manager/logic.ts';
import { clientOrderIdFor } from '../../../engine/types/ids.ts';
import { HeldSteps } from '../../../actors/risk-manager/held-steps.ts';
import { ETH, ETH_PX, intent, limits, lots } from './helpers.ts';

const SYM = 'ETH/USDT';
/** The config defaults (engine/config/schema.ts risk.breaker): 5 % within 5 min, 5 min cooldown, 60 s stale. */
const BREAKER: Partial<RiskLimits> = { maxMoveBps: 500, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: 60_000 };
const T0 = 1_723_161_253_000 as TsMs; // 2024-08-08 23:54:13, the recording's start
const at = (ms: number): TsMs => (T0 + ms) as TsMs;
/** 2683.80 (the recording's first trade) less 6 %, in ticks of 0.01. */
const CRASH = Math.floor(ETH_PX.t1520538925 * 0.94) as Ticks;

function start(over: Partial<RiskLimits> = BREAKER, held = 0): RiskState {
  return createRiskState({
    limits: limits({ stopLossBps: 200, ...over }), instruments: [ETH], cash: money('5000'),
    ...(held > 0 ? { positions: { [SYM]: { lots: lots(held), cost: money('268.38') } } } : {}),
  });
}

function marks(s0: RiskState, tape: readonly (readonly [number, Ticks])[]): { s: RiskState; out: RiskOut[] } {
  let s = s0;
  const out: RiskOut[] = [];
  for (const [ms, px] of tape) {
    const step = onMark(s, SYM, px, at(ms));
    s = step.state;
    out.push(...step.out);
  }
  return { s, out };
}

const codes = (out: readonly RiskOut[]): string[] => out.map((o) => (o.type === 'risk.alert' ? o.code : o.type === 'risk.orderDenied' ? o.reason.code : o.type));
const verdict = (s: RiskState, over: Parameters<typeof intent>[0], ms: number): string => codes(onIntent(s, intent(over), at(ms)).out).join(',');
const buy = (s: RiskState, ms: number): string => verdict(s, { price: CRASH }, ms);

describe('market circuit breaker: price move', () => {
  it('denies entries after a 6 % fall within the window, alerts once per episode, and lets exits out', () => {
    // 0.1 ETH held at 2683.80; the crash also fires its 2 % stop-loss in the same mark.
    const { s, out } = marks(start(BREAKER, 1000), [[0, ETH_PX.t1520538925], [60_000, ETH_PX.t1520543125], [120_000, CRASH], [125_000, (CRASH - 50) as Ticks]]);
    const exit = out.find((o) => o.type === 'risk.orderApproved');
    // The stop's exit holds the lots while in flight; once it expires unfilled they are the strategy's to sell.
    const inFlight = verdict(s, { side: 'sell', lots: lots(1000), price: CRASH }, 130_000);
    const ended = exit?.type === 'risk.orderApproved' ? onOrderEnd(s, clientOrderIdFor(exit.intent.id), 'expired', at(126_000)).state : s;
    const sell = verdict(ended, { side: 'sell', lots: lots(1000), price: CRASH }, 130_000);
    const reduceOnlySell = verdict(ended, { side: 'sell', lots: lots(1000), price: CRASH, reduceOnly: true }, 130_000);
    const denied = onIntent(ended, intent({ price: CRASH }), at(130_000)).out[0];
    expect(codes(out)).toEqual(['MARKET_MOVE', 'STOP_LOSS', 'risk.orderApproved']);
    expect(denied).toMatchObject({ type: 'risk.orderDenied', reason: { code: 'MARKET_MOVE', max: 500, until: at(125_000 + 300_000) } });
    expect(denied.type === 'risk.orderDenied' && denied.reason.code === 'MARKET_MOVE' && denied.reason.moveBps).toBeGreaterThan(600);
    expect([inFlight, sell, reduceOnlySell]).toEqual(['INSUFFICIENT_POSITION', 'risk.orderApproved', 'risk.orderApproved']);
  });

  it('clears by itself cooldownMs after the last mark over the limit, and says so at the next mark', () => {
    // Without the stale guard: no mark comes during the cooldown.
    const { s } = marks(start({ ...BREAKER, markStaleMs: undefined }), [[0, ETH_PX.t1520538925], [120_000, CRASH]]);
    const before = buy(s, 120_000 + 299_999);
    const after = buy(s, 120_000 + 300_000);
    const next = onMark(s, SYM, (CRASH + 10) as Ticks, at(700_000));
    expect([before, after, codes(next.out).join(','), buy(next.state, 700_001)]).toEqual(['MARKET_MOVE', 'risk.orderApproved', 'MARKET_CLEARED', 'risk.orderApproved']);
  });

  it('does not trip on a fall spread over more than twice the window', () => {
    // 2 % a step, each step a window and a half after the last: 6 % in all, never more than 4 % within two windows.
    const steps = [0, 1, 2, 3].map((i) => [i * 450_000, Math.round(ETH_PX.t1520538925 * (1 - 0.02 * i)) as Ticks] as const);
    const { s, out } = marks(start({ ...BREAKER, markStaleMs: undefined }), steps);
    expect([codes(out), buy(s, 1_400_000)]).toEqual([[], 'risk.orderApproved']);
  });

  it('leaves the state untouched by marks inside the bucket within a second (no new guard per trade)', () => {
    const { s } = marks(start(), [[0, ETH_PX.t1520547382], [10, ETH_PX.t1520544172]]);
    const next = onMark(s, SYM, ETH_PX.t1520543125, at(500)).state;
    expect(next.market).toBe(s.market);
  });

  it('is off without maxMoveBps and markStaleMs (the library defaults)', () => {
    const { s, out } = marks(start({}), [[0, ETH_PX.t1520538925], [1_000, CRASH]]);
    expect([codes(out), s.market, buy(s, 10_000_000)]).toEqual([[], {}, 'risk.orderApproved']);
  });

  it('on the recorded trades: trips within 60 s windows exactly where a naive reference says it must and may', () => {
    const tape = recordedTrades();
    // The tape moves ~44 bps end to end; 15 bps within a minute happens, 5 % never.
    const tight: Partial<RiskLimits> = { maxMoveBps: 15, moveWindowMs: 60_000, moveCooldownMs: 60_000 };
    const trips = (l: Partial<RiskLimits>): number[] => {
      let s = start(l);
      const out: number[] = [];
      for (const t of tape) {
        const step = onMark(s, SYM, t.price, t.ts);
        s = step.state;
        for (const o of step.out) if (o.type === 'risk.alert' && o.code === 'MARKET_MOVE') out.push(t.ts);
      }
      return out;
    };
    const first = trips(tight)[0];
    // The first trade over 15 bps from any trade within one window (must trip by then) and within two (may trip from
    // then; 5 s more for the price held into a bucket, the trade before its start).
    const mustBy = tape.find((_t, i) => overLimit(tape, i, 60_000, 15))?.ts;
    const mayFrom = tape.find((_t, i) => overLimit(tape, i, 125_000, 15))?.ts;
    expect([trips(BREAKER), mustBy !== undefined, first >= mayFrom! && first <= mustBy!]).toEqual([[], true, true]);
  });
});

describe('market circuit breaker: stale marks', () => {
  it('denies entries once no mark came for markStaleMs, alerts once, lets exits out, and clears at the next mark', () => {
    const { s } = marks(start(BREAKER, 1000), [[0, ETH_PX.t1520538925]]);
    const fresh = buy(s, 60_000);
    const first = onIntent(s, intent({ price: CRASH }), at(61_001));
    const second = onIntent(first.state, intent({ price: CRASH }), at(90_000));
    const sell = verdict(first.state, { side: 'sell', lots: lots(1000), price: ETH_PX.t1520538925 }, 90_000);
    const back = onMark(second.state, SYM, ETH_PX.t1520543125, at(95_000));
    expect([fresh, codes(first.out), codes(second.out), sell, codes(back.out), buy(back.state, 95_001)]).toEqual([
      'risk.orderApproved', ['MARKET_STALE', 'MARKET_STALE'], ['MARKET_STALE'], 'risk.orderApproved', ['MARKET_CLEARED'], 'risk.orderApproved',
    ]);
    expect(first.out[1]).toMatchObject({ reason: { code: 'MARKET_STALE', lastMarkAgoMs: 61_001, max: 60_000 } });
  });

  it('never calls a symbol stale before its first mark (a limit buy carries its own price)', () => {
    expect(buy(start(), 10_000_000)).toBe('risk.orderApproved');
  });

  it('publishes the stale alert with the verdict when the risk child holds the intent', () => {
    const { s } = marks(start(), [[0, ETH_PX.t1520538925]]);
    const out = new HeldSteps().holdIntent(s, { type: 'risk.intent', intent: intent({ price: CRASH }) }, at(70_000));
    expect(codes(out ?? [])).toEqual(['MARKET_STALE', 'MARKET_STALE']);
  });
});

describe('market circuit breaker limits', () => {
  it.each([
    ['a move limit without its window', { maxMoveBps: 500, moveCooldownMs: 1000 }, 'moveWindowMs'],
    ['a move limit without its cooldown', { maxMoveBps: 500, moveWindowMs: 1000 }, 'moveCooldownMs'],
    ['a move limit of 0 bps', { ...BREAKER, maxMoveBps: 0 }, 'maxMoveBps'],
    ['a stale limit under two seconds', { markStaleMs: 1_500 }, 'markStaleMs'],
  ])('refuses %s', (_name, over, field) => {
    expect(() => start(over as Partial<RiskLimits>)).toThrow(ConfigError);
    expect(() => start(over as Partial<RiskLimits>)).toThrow(field);
  });
});

const FILES = ['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz'];

function recordedTrades(): { ts: TsMs; price: Ticks }[] {
  const out: { ts: TsMs; price: Ticks }[] = [];
  for (const line of readRecordingLinesSync(FILES)) {
    if (!line.text.includes('@trade"')) continue;
    const d = (JSON.parse(line.text) as { data: { p: string } }).data;
    out.push({ ts: nsToMs(line.tsLocalNs) as TsMs, price: priceToTicks(ETH, d.p) });
  }
  return out;
}

// True when trade i is more than `bps` from any trade in (ts − windowMs, ts], measured as the breaker does.
function overLimit(tape: readonly { ts: TsMs; price: Ticks }[], i: number, windowMs: number, bps: number): boolean {
  const p = tape[i].price;
  for (let j = i; j >= 0 && tape[j].ts > tape[i].ts - windowMs; j--) {
    const q = tape[j].price;
    if (q > p ? Math.floor(((q - p) * 10_000) / q) > bps : Math.floor(((p - q) * 10_000) / q) > bps) return true;
  }
  return false;
}
