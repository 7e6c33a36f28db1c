// Throwing bus handlers in the built system (runtime review findings 2 and 4): the system's bus logged nothing for a
// handler without a supervised owner (the paper books, the md.trade -> risk.mark and sys.halted wiring), and the
// executor subscribed as 'trading-executor' while it is supervised as 'executor', so a handler of its that threw was
// never taken for a failure of the executor (not restarted, its status 'running').
import { rmSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSystem, type System } from '../../app/system.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { testConfig } from '../e2e/helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Line { level: number; code?: string; type?: string; owner?: string; actor?: string; err?: { message: string } }

async function paperSystem(): Promise<{ sys: System; lines: () => Line[] }> {
  const config = testConfig({ mode: 'paper' });
  dirs.push(path.dirname(config.store.path));
  const out: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void out.push(s) });
  const sys = await buildSystem(config, { clock: new SimulatedClock(1_723_161_253_937), mode: 'paper', noSync: true, maintenanceMs: 0, dataOverride: () => undefined, logger });
  return { sys, lines: () => out.map((l) => JSON.parse(l) as Line) };
}

describe('a throwing bus handler in the built system', () => {
  it('is logged at error level with its message type when no supervised actor owns it', async () => {
    const { sys, lines } = await paperSystem();
    try {
      sys.bus.subscribe('sys.actorStatus', () => { throw new Error('status view failed'); });
      sys.bus.publish({ type: 'sys.actorStatus', actor: 'feed', status: 'running', ts: sys.clock.now() });
    } finally {
      await sys.stop('test');
    }

    expect(lines().filter((l) => l.code === 'BUS_HANDLER_FAILED').map((l) => ({ level: l.level, type: l.type, owner: l.owner, error: l.err?.message })))
      .toEqual([{ level: 50, type: 'sys.actorStatus', owner: undefined, error: 'status view failed' }]);
  });

  it('is a failure of the executor when it is one of the executor\'s (its child restarts)', async () => {
    const { sys, lines } = await paperSystem();
    let executor;
    try {
      // The children only: readiness would wait on candle history retried on a clock that does not move here.
      sys.supervisor.start();
      // An approval whose intent cannot be read: the executor's handler throws while it is called.
      const approval = { type: 'risk.orderApproved', get intent(): never { throw new Error('unreadable intent'); } } as unknown as EngineMsg;
      sys.bus.publish(approval);
      executor = sys.supervisor.status().find((c) => c.id === 'executor');
    } finally {
      await sys.stop('test');
    }

    expect(executor).toMatchObject({ state: 'restarting', lastError: 'Error: unreadable intent' });
    expect(lines().filter((l) => l.code === 'ACTOR_FAILED').map((l) => ({ level: l.level, actor: l.actor, error: l.err?.message })))
      .toContainEqual({ level: 40, actor: 'executor', error: 'unreadable intent' });
  });
});
