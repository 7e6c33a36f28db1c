// The held-back quiet marks against the plain machine, on the bundled real ETH/USDT trades
// (data/recordings, 2024-08-08 23:54 → 2024-08-09 00:05) with an intent, a buy and a sell in between.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';
import { priceToTicks } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import { nsToMs } from '../../../engine/types/time.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { RiskMark } from '../../../engine/messages/risk.ts';
import { riskManager, type RiskIn } from '../../../actors/risk-manager/machine.ts';
import { createRiskState } from '../../../actors/risk-manager/logic.ts';
import { holdsNothing, markIsQuiet, QuietMarks } from '../../../actors/risk-manager/quiet-marks.ts';
import { ETH, fill, intent, limits, lots } from './helpers.ts';

const FILES = ['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz'];

function marks(): RiskMark[] {
  const out: RiskMark[] = [];
  let last: Ticks | undefined;
  for (const line of readRecordingLinesSync(FILES)) {
    if (!line.text.includes('@trade"')) continue;
    const price = priceToTicks(ETH, (JSON.parse(line.text) as { data: { p: string } }).data.p);
    if (price === last) continue; // as app/system.ts publishes them: on a price change
    last = price;
    out.push({ type: 'risk.mark', symbol: 'ETH/USDT', price, ts: nsToMs(line.tsLocalNs) });
  }
  return out;
}

const INPUT = {
  // VaR sampled every 10 s and a drawdown limit low enough to matter: marks that sample VaR are not quiet.
  limits: limits({ varIntervalMs: 10_000, varWindow: 10, varMinSamples: 3, maxDrawdownBps: 40, stopLossBps: 20 }),
  instruments: [ETH],
  cash: money('10000'),
};

// The script both runs see: every mark, and at fixed marks an intent, a buy fill and a sell fill.
function script(tape: RiskMark[]): RiskIn[] {
  const events: RiskIn[] = [];
  tape.forEach((m, i) => {
    events.push(m);
    if (i === 1_500) events.push({ type: 'risk.intent', intent: intent({ lots: lots(1000), price: m.price, ts: m.ts }) });
    if (i === 1_501) events.push({ type: 'exec.orderFilled', fill: fill('buy', m.price, 1000, money('0.27'), { ts: m.ts }), ts: m.ts } as RiskIn);
    if (i === 3_000) events.push({ type: 'exec.orderFilled', fill: fill('sell', m.price, 1000, money('0.27'), { ts: m.ts }), ts: m.ts } as RiskIn);
    if (i === 4_000) events.push({ type: 'risk.intent', intent: intent({ lots: lots(500), price: m.price, ts: m.ts }) });
  });
  return events;
}

function run(events: RiskIn[], gated: boolean) {
  const clock = new SimulatedClock(events[0].type === 'risk.mark' ? events[0].ts : 0);
  const actor = createActor(riskManager, { input: INPUT, clock });
  const seen: string[] = [];
  actor.on('*', (e) => void seen.push(`${e.type}@${e.ts}`));
  actor.start();
  const quiet = new QuietMarks();
  let sent = 0;
  const send = (e: RiskIn): void => {
    sent++;
    actor.send(e);
  };
  for (const e of events) {
    if (e.type === 'risk.mark') clock.set(e.ts);
    if (gated && e.type === 'risk.mark' && quiet.hold(actor.getSnapshot().context, e)) continue;
    if (gated) quiet.drain(send);
    send(e);
  }
  if (gated) quiet.drain(send);
  return { seen, state: actor.getSnapshot().context, value: actor.getSnapshot().value, sent };
}

describe('QuietMarks on the recorded ETH/USDT trades', () => {
  const tape = marks();
  const events = script(tape);

  it('ends in the same state, with the same verdicts, exits and alerts at the same times, as every mark sent', () => {
    const plain = run(events, false);
    const gated = run(events, true);
    expect(tape.length).toBeGreaterThan(4_000);
    // The script does something: a buy approved, a position, VaR samples, then flat again.
    expect(plain.seen.filter((s) => s.startsWith('risk.orderApproved')).length).toBeGreaterThanOrEqual(1);
    expect(plain.state.var.samples.length).toBeGreaterThan(3);
    expect(gated.seen).toEqual(plain.seen);
    expect(gated.state).toEqual(plain.state);
    expect(gated.value).toEqual(plain.value);
    // Most marks never reached the machine: the 1,500 marks while a position is open, VaR samples and the held ones
    // passed on before another event did.
    expect(plain.sent).toBe(events.length);
    expect(gated.sent).toBeLessThan(events.length / 2);
  });

  it('holds nothing while a position holds base asset, or when a mark samples VaR', () => {
    const s = createRiskState({ ...INPUT, positions: { 'ETH/USDT': { lots: lots(1000), cost: money('268.38') } } });
    expect(holdsNothing(s)).toBe(false);
    expect(markIsQuiet(s, tape[10])).toBe(false);
    const flat = createRiskState(INPUT);
    expect(holdsNothing(flat)).toBe(true);
    // The first mark of a fresh state opens the first VaR bucket: it samples, so it is not quiet.
    expect(markIsQuiet(flat, tape[0])).toBe(false);
    const q = new QuietMarks();
    expect(q.hold(flat, tape[0])).toBe(false);
    expect(q.size).toBe(0);
  });

  it('passes on the latest held mark per symbol, once', () => {
    const q = new QuietMarks();
    const plain = run(events.slice(0, 3), false).state; // a state with its VaR bucket open
    const a = tape[1];
    const b = { ...tape[2], ts: a.ts };
    expect([q.hold(plain, a), q.hold(plain, b), q.size]).toEqual([true, true, 1]);
    const got: RiskMark[] = [];
    q.drain((m) => got.push(m));
    q.drain((m) => got.push(m));
    expect(got).toEqual([b]);
  });
});
