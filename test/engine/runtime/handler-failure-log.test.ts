// Throwing bus handlers and supervised failures reach the log (runtime review finding 2): a handler with no supervised
// owner was only counted in bus.counters(), and the supervisor logged neither a child's failure nor its restart.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { fromCallback } from 'xstate';
import { Bus, logHandlerFailures } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { Supervisor } from '../../../engine/runtime/supervisor.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';

interface Line { level: number; code?: string; type?: string; owner?: string; actor?: string; failures?: number; restarts?: number; delayMs?: number; err?: { message: string } }

function captured(): { logger: pino.Logger; lines: () => Line[] } {
  const out: string[] = [];
  return { logger: pino({ level: 'trace' }, { write: (s: string) => void out.push(s) }), lines: () => out.map((l) => JSON.parse(l) as Line) };
}

const trade = { type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tsExchange: 0, tsLocal: 0, tradeId: 1, price: 1, lots: 1, buyerMaker: false } as unknown as EngineMsg;
const pick = (l: Line) => ({ level: l.level, code: l.code, type: l.type, owner: l.owner, failures: l.failures, error: l.err?.message });

describe('logHandlerFailures', () => {
  it('logs a throwing handler without an owner at error level, then one line a minute while it keeps throwing', () => {
    const { logger, lines } = captured();
    const clock = new SimulatedClock(0);
    const bus = new Bus<EngineMsg>({ onHandlerError: logHandlerFailures(logger, clock) });
    bus.subscribe('md.trade', () => { throw new Error('paper book update failed'); });
    // Ten a second for 100 s (the last at 99.9 s), then one at 120 s.
    for (let i = 0; i < 1_000; i++) {
      bus.publish(trade);
      clock.advance(100);
    }
    clock.set(120_000);
    bus.publish(trade);

    expect(bus.counters()['md.trade']!.handlerErrors).toBe(1_001);
    expect(lines().map(pick)).toEqual([
      { level: 50, code: 'BUS_HANDLER_FAILED', type: 'md.trade', owner: undefined, failures: 1, error: 'paper book update failed' },
      { level: 50, code: 'BUS_HANDLER_FAILED', type: 'md.trade', owner: undefined, failures: 600, error: 'paper book update failed' },
      { level: 50, code: 'BUS_HANDLER_FAILED', type: 'md.trade', owner: undefined, failures: 400, error: 'paper book update failed' },
    ]);
  });

  it('keeps one count per message type and owner', () => {
    const { logger, lines } = captured();
    const clock = new SimulatedClock(0);
    const bus = new Bus<EngineMsg>({ onHandlerError: logHandlerFailures(logger, clock) });
    bus.subscribe('md.trade', () => { throw new Error('a'); });
    bus.subscribe('md.trade', () => { throw new Error('b'); }, 'cob');
    bus.subscribe('sys.halted', () => { throw new Error('c'); });
    bus.publish(trade);
    bus.publish(trade);
    bus.publish({ type: 'sys.halted', reason: 'x', ts: 0 } as EngineMsg);

    expect(lines().map((l) => [l.type, l.owner, l.err?.message])).toEqual([['md.trade', undefined, 'a'], ['md.trade', 'cob', 'b'], ['sys.halted', undefined, 'c']]);
  });
});

describe('the supervisor\'s log', () => {
  it('logs each failure and restart of a child at warn with its error, and the spent budget at error', () => {
    const { logger, lines } = captured();
    const clock = new SimulatedClock(1_000_000);
    const bus = new Bus<EngineMsg>();
    const logic = fromCallback(() => bus.subscribe('md.trade', () => { throw new Error('handler bug'); }, 'cob'));
    const sup = new Supervisor({ bus, clock, logger, children: [{ id: 'cob', logic }], rng: () => 0.5, defaults: { maxRestarts: 2, initialDelayMs: 100, jitter: 0 } });
    sup.start();
    for (let i = 0; i < 3; i++) {
      bus.publish(trade);
      clock.advance(1_000);
    }

    expect(lines().map((l) => ({ level: l.level, code: l.code, actor: l.actor, failures: l.failures, restarts: l.restarts, delayMs: l.delayMs, error: l.err?.message }))).toEqual([
      { level: 40, code: 'ACTOR_FAILED', actor: 'cob', failures: 1, restarts: 0, delayMs: 100, error: 'handler bug' },
      { level: 30, code: undefined, actor: 'cob', failures: undefined, restarts: 1, delayMs: undefined, error: undefined },
      { level: 40, code: 'ACTOR_FAILED', actor: 'cob', failures: 2, restarts: 1, delayMs: 200, error: 'handler bug' },
      { level: 30, code: undefined, actor: 'cob', failures: undefined, restarts: 2, delayMs: undefined, error: undefined },
      { level: 50, code: 'ACTOR_RESTART_BUDGET_SPENT', actor: 'cob', failures: 3, restarts: 2, delayMs: undefined, error: 'handler bug' },
    ]);
    expect(sup.halted?.actor).toBe('cob');
  });
});
