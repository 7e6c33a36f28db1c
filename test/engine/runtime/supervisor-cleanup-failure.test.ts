// A child whose cleanup throws: xstate reports it as xstate.error.actor.<id> once the child is already stopped
// (restarting, failed or stopped), so the supervisor used to drop it without a word. It is logged now, and it
// neither restarts nor halts anything.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { fromCallback } from 'xstate';
import { redactSecretValues } from '../../../engine/log.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { Supervisor } from '../../../engine/runtime/supervisor.ts';

const SECRET = 'sk_live_CLEANUPSECRET77';
redactSecretValues([SECRET]);

type Line = { level: number; code?: string; actor?: string; msg: string };

function rig() {
  const out: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (s: string) => void out.push(s) });
  const clock = new SimulatedClock(1_000_000);
  const bus = new Bus<EngineMsg>();
  const sys: EngineMsg[] = [];
  bus.subscribePrefix('sys.', (m) => void sys.push(m));
  const lines = (): Line[] => out.map((l) => JSON.parse(l) as Line);
  return { logger, clock, bus, sys, lines, cleanupLogs: () => lines().filter((l) => l.code === 'ACTOR_CLEANUP_FAILED') };
}

const trade = (tradeId: number): EngineMsg => ({ type: 'md.trade', venue: 'binance', symbol: 'BTC/USDT', tsExchange: 0, tsLocal: 0, tradeId, price: 1 as never, lots: 1 as never, buyerMaker: false });

describe('supervisor: a child whose cleanup throws', () => {
  it('is logged at warn when it is stopped for a restart, and restarts once as planned', () => {
    const { logger, clock, bus, sys, cleanupLogs } = rig();
    let starts = 0;
    const bad = fromCallback(() => {
      starts++;
      const off = bus.subscribe('md.trade', () => { throw new Error('handler broke'); }, 'bad');
      return () => {
        off();
        throw new Error(`cleanup broke apiKey=${SECRET}`);
      };
    });
    const sup = new Supervisor({ children: [{ id: 'bad', logic: bad }], bus, clock, logger, rng: () => 0.5 });
    sup.start();
    bus.publish(trade(1));
    clock.advance(1_000);
    const logged = cleanupLogs();
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 40, actor: 'bad' });
    expect(logged[0]!.msg).toContain('cleanup broke');
    expect(logged[0]!.msg).toContain('[redacted]');
    expect(JSON.stringify(logged[0])).not.toContain(SECRET);
    // The handler's failure restarts it once; the cleanup's error counts as no further failure.
    expect(starts).toBe(2);
    expect(sup.status()[0]).toMatchObject({ state: 'running', restarts: 1, recentFailures: [1_000_000] });
    expect(sys.some((m) => m.type === 'sys.halted')).toBe(false);
    sup.stop();
  });

  it('is logged when stopAll stops it, and the other children still stop', () => {
    const { logger, clock, bus, sys, cleanupLogs } = rig();
    const order: string[] = [];
    const child = (id: string, throws: boolean) => fromCallback(() => () => {
      order.push(id);
      if (throws) throw new Error(`${id} cleanup broke`);
    });
    const sup = new Supervisor({ children: [{ id: 'a', logic: child('a', false) }, { id: 'b', logic: child('b', true) }, { id: 'c', logic: child('c', false) }], bus, clock, logger });
    sup.start();
    sup.stop();
    expect(order).toEqual(['c', 'b', 'a']);
    expect(cleanupLogs().map((l) => [l.actor, l.msg.includes('b cleanup broke')])).toEqual([['b', true]]);
    expect(sup.status().map((c) => c.state)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(sys.some((m) => m.type === 'sys.halted')).toBe(false);
  });
});
