import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, sendTo, setup } from 'xstate';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { backoffDelayMs, DEFAULT_RESTART_POLICY, sendToActor, Supervisor, type ChildSpec, type RestartPolicy, type SendStats } from '../../../engine/runtime/supervisor.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { LifecycleMsg } from '../../../engine/messages/lifecycle.ts';

/** A machine child that throws on `boom` and counts `ping`s in a shared log. */
function crashable(log: string[], name: string) {
  return setup({}).createMachine({
    entry: () => log.push(`${name}:start`),
    exit: () => log.push(`${name}:exit`),
    on: {
      boom: { actions: () => { throw new Error(`${name} exploded`); } },
      ping: { actions: () => log.push(`${name}:ping`) },
    },
  });
}

/** A callback child: records start and cleanup, subscribes to md.trade on the bus as owner `id`, throws on trade n === 13. */
function busChild(log: string[], bus: Bus, id: string) {
  return fromCallback(() => {
    log.push(`${id}:start`);
    const off = bus.subscribe('md.trade', (m) => {
      if (m.tradeId === 13) throw new Error('bad trade');
      log.push(`${id}:trade${m.tradeId}`);
    }, id);
    return () => {
      off();
      log.push(`${id}:cleanup`);
    };
  });
}

function harness(children: (log: string[], bus: Bus) => ChildSpec[], policy: Partial<RestartPolicy> = {}, rng = () => 0.5) {
  const clock = new SimulatedClock(1_000_000);
  const bus = new Bus();
  const log: string[] = [];
  const sys: LifecycleMsg[] = [];
  bus.subscribePrefix('sys.', (m) => sys.push(m));
  const sup = new Supervisor({ children: children(log, bus), bus, clock, rng, defaults: policy });
  return { clock, bus, log, sys, sup };
}

const trade = (tradeId: number): EngineMsg => ({ type: 'md.trade', venue: 'binance', symbol: 'BTC/USDT', tsExchange: 0, tsLocal: 0, tradeId, price: 1 as never, lots: 1 as never, buyerMaker: false });
const fire = (sup: Supervisor, id: string, type: string) => sup.system.get(id)!.send({ type });

describe('backoffDelayMs', () => {
  const p: RestartPolicy = { ...DEFAULT_RESTART_POLICY, initialDelayMs: 100, factor: 2, maxDelayMs: 1000, jitter: 0.2 };
  it.each([
    { attempt: 1, r: 0.5, ms: 100 },
    { attempt: 2, r: 0.5, ms: 200 },
    { attempt: 3, r: 0.5, ms: 400 },
    { attempt: 5, r: 0.5, ms: 1000 }, // capped
    { attempt: 1, r: 0, ms: 80 },     // jitter low edge
    { attempt: 1, r: 0.999999, ms: 120 },
    { attempt: 4, r: 0.75, ms: 880 },
  ])('attempt $attempt with rng $r waits $ms ms', ({ attempt, r, ms }) => {
    expect(backoffDelayMs(p, attempt, () => r)).toBe(ms);
  });
});

describe('Supervisor restarts', () => {
  it('restarts a throwing child exactly when its backoff delay elapses, never before', () => {
    // rng 0.75 with jitter 0.2 stretches each delay by 10 %: 110, 220, 440 ms
    const { clock, log, sys, sup } = harness((log) => [{ id: 'a', logic: crashable(log, 'a') }], { initialDelayMs: 100, factor: 2, jitter: 0.2, maxRestarts: 5 }, () => 0.75);
    sup.start();
    const t0 = clock.now();
    const expected = [110, 220, 440];
    for (const [i, delay] of expected.entries()) {
      const failedAt = clock.now();
      fire(sup, 'a', 'boom');
      expect(sup.status()[0]).toMatchObject({ state: 'restarting', restarts: i, lastError: 'Error: a exploded', nextRestartAt: failedAt + delay });
      expect(sup.system.get('a')).toBeUndefined();
      clock.advance(delay - 1);
      expect(sup.status()[0].state).toBe('restarting');
      expect(log.filter((l) => l === 'a:start')).toHaveLength(i + 1);
      clock.advance(1);
      expect(sup.status()[0]).toMatchObject({ state: 'running', restarts: i + 1 });
      expect(log.filter((l) => l === 'a:start')).toHaveLength(i + 2);
    }
    fire(sup, 'a', 'ping');
    expect(log.at(-1)).toBe('a:ping');
    const restarted = sys.filter((m) => m.type === 'sys.actorRestarted');
    expect(restarted).toEqual([
      { type: 'sys.actorRestarted', actor: 'a', attempt: 1, delayMs: 110, error: 'Error: a exploded', ts: t0 + 110 },
      { type: 'sys.actorRestarted', actor: 'a', attempt: 2, delayMs: 220, error: 'Error: a exploded', ts: t0 + 330 },
      { type: 'sys.actorRestarted', actor: 'a', attempt: 3, delayMs: 440, error: 'Error: a exploded', ts: t0 + 770 },
    ]);
    expect(sys.filter((m) => m.type === 'sys.actorStatus').map((m) => m.type === 'sys.actorStatus' && m.status)).toEqual(
      ['starting', 'running', 'restarting', 'running', 'restarting', 'running', 'restarting', 'running']);
    expect(sup.halted).toBeUndefined();
  });

  it('halts with sys.halted naming the actor and the error once the restart budget is spent', () => {
    const { clock, log, sys, sup } = harness((log) => [
      { id: 'feed', logic: crashable(log, 'feed'), order: 0 },
      { id: 'executor', logic: crashable(log, 'executor'), order: 1, restart: { maxRestarts: 2, initialDelayMs: 10, jitter: 0 } },
    ]);
    sup.start();
    fire(sup, 'executor', 'boom');
    clock.advance(10);
    fire(sup, 'executor', 'boom');
    clock.advance(20);
    fire(sup, 'executor', 'boom'); // third failure within 60 s, budget is 2
    const now = clock.now();
    const halted = sys.filter((m) => m.type === 'sys.halted');
    expect(halted).toEqual([{ type: 'sys.halted', actor: 'executor', ts: now, reason: "actor 'executor' failed 3 times within 60000 ms (restart budget 2); last error: Error: executor exploded" }]);
    expect(sup.halted).toEqual({ actor: 'executor', ts: now, reason: halted[0].type === 'sys.halted' ? halted[0].reason : '' });
    const status = sup.status();
    expect(status.map((s) => [s.id, s.state, s.restarts])).toEqual([['feed', 'running', 0], ['executor', 'failed', 2]]);
    expect(status[1].recentFailures).toHaveLength(3);
    clock.advance(10 * 60_000);
    expect(sup.status()[1].state).toBe('failed');
    expect(sup.system.get('executor')).toBeUndefined();
    expect(clock.pendingCount).toBe(0);
    fire(sup, 'feed', 'ping'); // the others keep running
    expect(log.at(-1)).toBe('feed:ping');
  });

  it('forgets failures older than the budget window', () => {
    const { clock, sys, sup } = harness((log) => [{ id: 'a', logic: crashable(log, 'a') }], { maxRestarts: 2, windowMs: 1000, initialDelayMs: 5, factor: 1, jitter: 0 });
    sup.start();
    const t0 = clock.now();
    fire(sup, 'a', 'boom'); // t0
    clock.advance(10);
    fire(sup, 'a', 'boom'); // t0+10
    clock.set(t0 + 1001); // t0 leaves the window (now-1000, now]; without sliding this third failure would halt
    fire(sup, 'a', 'boom');
    expect(sup.status()[0]).toMatchObject({ state: 'restarting', recentFailures: [t0 + 10, t0 + 1001], nextRestartAt: t0 + 1006 });
    clock.advance(5);
    expect(sup.status()[0].state).toBe('running');
    fire(sup, 'a', 'boom'); // t0+1006: t0+10 still inside, so 3 failures > budget 2
    expect(sup.status()[0]).toMatchObject({ state: 'failed', restarts: 3 });
    expect(sys.filter((m) => m.type === 'sys.halted')).toHaveLength(1);
  });

  it('backs off from the initial delay again once old failures leave the window', () => {
    const { clock, sys, sup } = harness((log) => [{ id: 'a', logic: crashable(log, 'a') }], { maxRestarts: 5, windowMs: 1000, initialDelayMs: 10, factor: 3, jitter: 0 });
    sup.start();
    fire(sup, 'a', 'boom');
    clock.advance(10);
    fire(sup, 'a', 'boom');
    clock.advance(5000);
    fire(sup, 'a', 'boom');
    clock.advance(10);
    expect(sys.flatMap((m) => (m.type === 'sys.actorRestarted' ? [m.delayMs] : []))).toEqual([10, 30, 10]);
  });

  it('treats a throwing bus handler owned by a child as that child failing: stopped, unsubscribed, restarted', () => {
    const { clock, bus, log, sup } = harness((log, bus) => [{ id: 'cob', logic: busChild(log, bus, 'cob') }], { initialDelayMs: 50, jitter: 0 });
    sup.start();
    bus.publish(trade(1));
    bus.publish(trade(13));
    bus.publish(trade(2)); // while restarting: nobody listens
    expect(sup.status()[0]).toMatchObject({ state: 'restarting', lastError: 'Error: bad trade' });
    clock.advance(50);
    bus.publish(trade(3));
    expect(log).toEqual(['cob:start', 'cob:trade1', 'cob:cleanup', 'cob:start', 'cob:trade3']);
    expect(bus.counters()['md.trade']).toMatchObject({ published: 4, handlerErrors: 1, droppedNoSubscriber: 1 });
  });

  it('restarts a child whose start throws, then halts it when it keeps failing', () => {
    const bad = fromCallback(() => { throw new Error('cannot connect'); });
    const { clock, sys, sup } = harness(() => [{ id: 'venue', logic: bad }], { maxRestarts: 2, initialDelayMs: 100, jitter: 0 });
    sup.start();
    expect(sup.status()[0].state).toBe('restarting');
    clock.advance(100);
    clock.advance(200);
    expect(sup.status()[0]).toMatchObject({ state: 'failed', restarts: 2, lastError: 'Error: cannot connect' });
    expect(sys.filter((m) => m.type === 'sys.halted').map((m) => m.type === 'sys.halted' && m.actor)).toEqual(['venue']);
  });
});

describe('Supervisor start and stop order', () => {
  it('starts children by ascending order and stops them in reverse', () => {
    const { log, sys, sup } = harness((log, bus) => [
      { id: 'executor', logic: busChild(log, bus, 'executor'), order: 3 },
      { id: 'feed', logic: busChild(log, bus, 'feed'), order: 1 },
      { id: 'cob', logic: busChild(log, bus, 'cob'), order: 2 },
    ]);
    sup.start();
    sup.stop();
    expect(log).toEqual(['feed:start', 'cob:start', 'executor:start', 'executor:cleanup', 'cob:cleanup', 'feed:cleanup']);
    expect(sup.status().map((s) => `${s.id}:${s.state}`)).toEqual(['feed:stopped', 'cob:stopped', 'executor:stopped']);
    expect(sys.filter((m) => m.type === 'sys.actorStatus' && m.status === 'stopped').map((m) => m.type === 'sys.actorStatus' && m.actor)).toEqual(['executor', 'cob', 'feed']);
  });

  it('cancels a pending restart when stopped', () => {
    const { clock, log, sup } = harness((log) => [{ id: 'a', logic: crashable(log, 'a') }], { initialDelayMs: 100, jitter: 0 });
    sup.start();
    fire(sup, 'a', 'boom');
    sup.stop();
    clock.advance(1000);
    expect(log.filter((l) => l === 'a:start')).toHaveLength(1);
    expect(clock.pendingCount).toBe(0);
    expect(sup.status()[0].state).toBe('stopped');
  });

  it('halts instead of crashing the process when the supervisor itself fails', () => {
    // A clock that breaks while the supervisor handles a failure makes its own transition throw.
    const inner = new SimulatedClock(0);
    let broken = false;
    const clock = { now: () => { if (broken) { broken = false; throw new Error('clock broke'); } return inner.now(); }, setTimeout: inner.setTimeout.bind(inner), clearTimeout: inner.clearTimeout.bind(inner) };
    const bus = new Bus();
    const halted: string[] = [];
    bus.subscribe('sys.halted', (m) => halted.push(m.reason));
    const log: string[] = [];
    const sup = new Supervisor({ children: [{ id: 'a', logic: crashable(log, 'a') }], bus, clock });
    sup.start();
    broken = true;
    expect(() => fire(sup, 'a', 'boom')).not.toThrow();
    expect(halted).toEqual(['supervisor failed: Error: clock broke']);
  });

  it('rejects duplicate ids and bad restart policies with a message naming them', () => {
    const clock = new SimulatedClock();
    const bus = new Bus();
    const logic = fromCallback(() => {});
    expect(() => new Supervisor({ children: [{ id: 'a', logic }, { id: 'a', logic }], bus, clock })).toThrow("supervised child id 'a' is used twice");
    expect(() => new Supervisor({ children: [{ id: 'b', logic, restart: { jitter: 1.5 } }], bus, clock })).toThrow("restart policy of 'b': jitter 1.5 must be in [0, 1)");
    expect(() => new Supervisor({ children: [{ id: 'c', logic, restart: { windowMs: 0 } }], bus, clock })).toThrow("restart policy of 'c': windowMs 0 must be > 0");
  });
});

describe('sendToActor', () => {
  // A forwards `forward` to B as `ping`; A also counts pings it receives itself.
  function forwarder(mode: 'safe' | 'raw', stats: SendStats) {
    return setup({ types: { context: {} as { pings: number; forwards: number } } }).createMachine({
      context: { pings: 0, forwards: 0 },
      on: {
        ping: { actions: ({ context }) => { context.pings++; } },
        forward: mode === 'safe'
          ? { actions: [({ context }) => { context.forwards++; }, ({ system }) => { sendToActor(system, 'b', { type: 'ping' }, stats); }] }
          : { actions: [({ context }) => { context.forwards++; }, sendTo(({ system }) => system.get('b'), { type: 'ping' })] },
      },
    });
  }

  it('drops and counts an event for a missing target instead of delivering it to the sender', () => {
    const stats: SendStats = { dropped: {} };
    const a = createActor(forwarder('safe', stats), { systemId: 'a' }).start();
    a.send({ type: 'forward' });
    expect(a.getSnapshot().context).toEqual({ pings: 0, forwards: 1 });
    expect(a.getSnapshot().status).toBe('active');
    expect(stats.dropped).toEqual({ b: 1 });
  });

  it('(control) plain sendTo to a missing target loops the event back to the sender', () => {
    const a = createActor(forwarder('raw', { dropped: {} }), { systemId: 'a' }).start();
    a.send({ type: 'forward' });
    expect(a.getSnapshot().context).toEqual({ pings: 1, forwards: 1 });
  });

  it('refuses a child mid-restart and delivers again once it is back', () => {
    const { clock, log, sup } = harness((log) => [{ id: 'risk', logic: crashable(log, 'risk') }], { initialDelayMs: 100, jitter: 0 });
    sup.start();
    expect(sup.send('risk', { type: 'ping' })).toBe(true);
    fire(sup, 'risk', 'boom');
    expect(sup.send('risk', { type: 'ping' })).toBe(false);
    clock.advance(100);
    expect(sup.send('risk', { type: 'ping' })).toBe(true);
    expect(log.filter((l) => l === 'risk:ping')).toHaveLength(2);
    expect(sup.sendStats.dropped).toEqual({ risk: 1 });
  });
});
