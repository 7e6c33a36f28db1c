// Replays the bundled real ETH/USDT trades (data/recordings, 2024-08-08 23:54 → 2024-08-09 00:05) as marks.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';
import { priceToTicks } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';
import { nsToMs } from '../../../engine/types/time.ts';
import type { Ticks } from '../../../engine/types/price.ts';
import type { OrderApproved } from '../../../engine/messages/risk.ts';
import { riskManager } from '../../../actors/risk-manager/machine.ts';
import { ETH, limits, lots } from './helpers.ts';

const FILES = ['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz'];

function trades(): { ts: number; price: Ticks; raw: string }[] {
  const out: { ts: number; price: Ticks; raw: string }[] = [];
  for (const line of readRecordingLinesSync(FILES)) {
    if (!line.text.includes('@trade"')) continue;
    const d = (JSON.parse(line.text) as { data: { p: string } }).data;
    out.push({ ts: nsToMs(line.tsLocalNs), price: priceToTicks(ETH, d.p), raw: d.p });
  }
  return out;
}

describe('riskManager on the recorded ETH/USDT trades', () => {
  it('fires one stop-loss at the first trade 30 bps under the entry, and samples VaR each minute', () => {
    const tape = trades();
    const clock = new SimulatedClock(tape[0].ts);
    // 0.5 ETH bought at the first recorded trade (2683.80); 30 bps under 1341.90 is a price of 2675.7486 or less
    const actor = createActor(riskManager, {
      input: {
        limits: limits({ stopLossBps: 30, varIntervalMs: 60_000, varWindow: 10, varMinSamples: 5 }),
        instruments: [ETH],
        cash: money('8658.1'),
        positions: { 'ETH/USDT': { lots: lots(5000), cost: money('1341.9') } },
      },
      clock,
    }).start();
    const exits: OrderApproved[] = [];
    const other: string[] = [];
    actor.on('risk.orderApproved', (e) => exits.push(e));
    actor.on('risk.stateChanged', (e) => other.push(e.state));
    for (const t of tape) {
      clock.set(t.ts);
      actor.send({ type: 'risk.mark', symbol: 'ETH/USDT', price: t.price, ts: t.ts });
    }
    const first = tape.find((t) => Number(t.raw) <= 2675.7486);
    const ctx = actor.getSnapshot().context;
    expect(tape.length).toBeGreaterThan(10_000);
    expect(first).toBeDefined();
    expect(exits.map((e) => [e.ts, e.intent.reason, e.intent.lots])).toEqual([[first?.ts, 'stop-loss', 5000]]);
    expect([other, ctx.var.samples.length, ctx.var.var95 !== undefined && ctx.var.var95 > 0n]).toEqual([[], 11, true]);
  });
});
