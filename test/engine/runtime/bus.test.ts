import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Bus, isMarketData, type HandlerFailure } from '../../../engine/runtime/bus.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';

type Msg =
  | { type: 'md.depth'; n: number }
  | { type: 'md.trade'; n: number }
  | { type: 'cob.snapshot'; n: number }
  | { type: 'exec.orderFilled'; n: number }
  | { type: 'exec.orderAccepted'; n: number }
  | { type: 'risk.orderDenied'; n: number }
  | { type: 'sys.actorStatus'; n: number };

const TYPES: readonly Msg['type'][] = ['md.depth', 'md.trade', 'cob.snapshot', 'exec.orderFilled', 'exec.orderAccepted', 'risk.orderDenied', 'sys.actorStatus'];
const tag = (m: Msg): string => `${m.type}#${m.n}`;

describe('Bus subscriptions', () => {
  it('delivers to exact, prefix and catch-all subscribers in subscription order', () => {
    const bus = new Bus<Msg>();
    const seen: string[] = [];
    bus.subscribe('md.depth', (m) => seen.push(`exact:${tag(m)}`));
    bus.subscribePrefix('md.', (m) => seen.push(`md:${tag(m)}`));
    bus.subscribePrefix('exec.*', (m) => seen.push(`exec:${tag(m)}`));
    bus.subscribePrefix('*', (m) => seen.push(`all:${tag(m)}`));
    bus.publish({ type: 'md.depth', n: 1 });
    bus.publish({ type: 'exec.orderFilled', n: 2 });
    bus.publish({ type: 'risk.orderDenied', n: 3 });
    expect(seen).toEqual([
      'exact:md.depth#1', 'md:md.depth#1', 'all:md.depth#1',
      'exec:exec.orderFilled#2', 'all:exec.orderFilled#2',
      'all:risk.orderDenied#3',
    ]);
  });

  it('stops delivering after unsubscribe, and a second unsubscribe is harmless', () => {
    const bus = new Bus<Msg>();
    const seen: number[] = [];
    const off = bus.subscribe('md.trade', (m) => seen.push(m.n));
    bus.publish({ type: 'md.trade', n: 1 });
    off();
    off();
    bus.publish({ type: 'md.trade', n: 2 });
    expect(seen).toEqual([1]);
    expect(bus.subscriptionCount).toBe(0);
    expect(bus.counters()['md.trade']).toEqual({ published: 2, delivered: 1, droppedNoSubscriber: 1, handlerErrors: 0 });
  });

  it('narrows the handler type on the engine message union', () => {
    const bus = new Bus();
    const statuses: string[] = [];
    bus.subscribe('sys.actorStatus', (m) => statuses.push(`${m.actor}:${m.status}`));
    bus.subscribePrefix('sys.', (m: Extract<EngineMsg, { type: `sys.${string}` }>) => statuses.push(m.type));
    bus.publish({ type: 'sys.actorStatus', actor: 'cob', status: 'running', ts: 0 });
    expect(statuses).toEqual(['cob:running', 'sys.actorStatus']);
  });
});

describe('Bus counters and failures', () => {
  it('counts published, delivered, dropped and handler errors per type', () => {
    const bus = new Bus<Msg>();
    bus.subscribe('md.depth', () => {});
    bus.subscribePrefix('md.', () => {});
    bus.publish({ type: 'md.depth', n: 1 });
    bus.publish({ type: 'md.depth', n: 2 });
    bus.publish({ type: 'cob.snapshot', n: 3 });
    bus.enqueue({ type: 'md.trade', n: 4 });
    bus.drain();
    expect(bus.counters()).toEqual({
      'md.depth': { published: 2, delivered: 4, droppedNoSubscriber: 0, handlerErrors: 0 },
      'cob.snapshot': { published: 1, delivered: 0, droppedNoSubscriber: 1, handlerErrors: 0 },
      'md.trade': { published: 1, delivered: 1, droppedNoSubscriber: 0, handlerErrors: 0 },
    });
  });

  it('keeps delivering to other handlers when one throws, and reports the failure with its owner', () => {
    const failures: HandlerFailure<Msg>[] = [];
    const bus = new Bus<Msg>({ onHandlerError: (f) => failures.push(f) });
    const seen: string[] = [];
    const boom = new Error('handler broke');
    bus.subscribe('exec.orderFilled', () => seen.push('before'));
    bus.subscribe('exec.orderFilled', () => { throw boom; }, 'executor');
    bus.subscribe('exec.orderFilled', () => seen.push('after'));
    bus.publish({ type: 'exec.orderFilled', n: 1 });
    bus.publish({ type: 'exec.orderFilled', n: 2 });
    expect(seen).toEqual(['before', 'after', 'before', 'after']);
    expect(failures.map((f) => [f.error, f.owner, f.msg.n])).toEqual([[boom, 'executor', 1], [boom, 'executor', 2]]);
    expect(bus.counters()['exec.orderFilled']).toEqual({ published: 2, delivered: 4, droppedNoSubscriber: 0, handlerErrors: 2 });
  });

  it('survives an onHandlerError callback that itself throws', () => {
    const bus = new Bus<Msg>({ onHandlerError: () => { throw new Error('reporter broke'); } });
    const seen: number[] = [];
    bus.subscribe('md.trade', () => { throw new Error('x'); });
    bus.subscribe('md.trade', (m) => seen.push(m.n));
    bus.publish({ type: 'md.trade', n: 7 });
    bus.publish({ type: 'md.trade', n: 8 });
    expect(seen).toEqual([7, 8]);
    expect(bus.counters()['md.trade'].handlerErrors).toBe(2);
  });
});

describe('Bus ordering', () => {
  it('drains queued execution events before queued market data, FIFO within each lane', () => {
    const bus = new Bus<Msg>();
    const seen: string[] = [];
    bus.subscribePrefix('*', (m) => seen.push(tag(m)));
    bus.enqueue({ type: 'md.depth', n: 1 });
    bus.enqueue({ type: 'cob.snapshot', n: 2 });
    bus.enqueue({ type: 'exec.orderAccepted', n: 3 });
    bus.enqueue({ type: 'md.depth', n: 4 });
    bus.enqueue({ type: 'exec.orderFilled', n: 5 });
    expect(seen).toEqual([]);
    expect(bus.queued).toBe(5);
    expect(bus.drain()).toBe(5);
    expect(seen).toEqual(['exec.orderAccepted#3', 'exec.orderFilled#5', 'md.depth#1', 'cob.snapshot#2', 'md.depth#4']);
    expect(bus.queued).toBe(0);
  });

  it('lets an execution event enqueued mid-drain overtake market data still queued', () => {
    const bus = new Bus<Msg>();
    const seen: string[] = [];
    bus.subscribePrefix('*', (m) => seen.push(tag(m)));
    bus.subscribe('md.depth', (m) => { if (m.n === 1) bus.enqueue({ type: 'exec.orderFilled', n: 9 }); });
    bus.enqueue({ type: 'md.depth', n: 1 });
    bus.enqueue({ type: 'md.depth', n: 2 });
    bus.drain();
    expect(seen).toEqual(['md.depth#1', 'exec.orderFilled#9', 'md.depth#2']);
  });

  it('defers a publish made during delivery until every handler has seen the current message', () => {
    const bus = new Bus<Msg>();
    const seen: string[] = [];
    bus.subscribe('md.depth', (m) => {
      seen.push(`A:${tag(m)}`);
      bus.publish({ type: 'cob.snapshot', n: m.n * 10 });
      seen.push(`A-returned:${m.n}`);
    });
    bus.subscribe('md.depth', (m) => seen.push(`B:${tag(m)}`));
    bus.subscribe('cob.snapshot', (m) => seen.push(`C:${tag(m)}`));
    bus.publish({ type: 'md.depth', n: 1 });
    expect(seen).toEqual(['A:md.depth#1', 'A-returned:1', 'B:md.depth#1', 'C:cob.snapshot#10']);
  });

  it('turns a handler that republishes into a loop with a flat stack, not recursion', () => {
    const bus = new Bus<Msg>();
    let count = 0;
    bus.subscribe('md.trade', (m) => {
      count++;
      if (m.n < 200_000) bus.publish({ type: 'md.trade', n: m.n + 1 });
    });
    bus.publish({ type: 'md.trade', n: 1 });
    expect(count).toBe(200_000);
  });

  it('delivers a publish made during drain right after the current message, before the next queued one', () => {
    const bus = new Bus<Msg>();
    const seen: string[] = [];
    bus.subscribePrefix('*', (m) => seen.push(tag(m)));
    bus.subscribe('exec.orderFilled', () => bus.publish({ type: 'risk.orderDenied', n: 0 }));
    bus.enqueue({ type: 'md.depth', n: 1 });
    bus.enqueue({ type: 'exec.orderFilled', n: 2 });
    bus.drain();
    expect(seen).toEqual(['exec.orderFilled#2', 'risk.orderDenied#0', 'md.depth#1']);
  });

  it('ignores a nested drain from a handler and still delivers everything once', () => {
    const bus = new Bus<Msg>();
    const seen: number[] = [];
    bus.subscribe('md.trade', (m) => { seen.push(m.n); expect(bus.drain()).toBe(0); });
    bus.enqueue({ type: 'md.trade', n: 1 });
    bus.enqueue({ type: 'md.trade', n: 2 });
    expect(bus.drain()).toBe(2);
    expect(seen).toEqual([1, 2]);
  });

  it('keeps FIFO order while a queue that handlers refill wraps around its ring many times, and after a burst', () => {
    const bus = new Bus<Msg>();
    const seen: number[] = [];
    // 20 in the queue at all times while 5,000 go through: the head laps a small ring hundreds of times.
    bus.subscribe('md.depth', (m) => {
      seen.push(m.n);
      if (m.n + 20 <= 5_000) bus.enqueue({ type: 'md.depth', n: m.n + 20 });
    });
    for (let n = 1; n <= 20; n++) bus.enqueue({ type: 'md.depth', n });
    expect(bus.drain()).toBe(5_000);
    expect(seen).toEqual(Array.from({ length: 5_000 }, (_, i) => i + 1));
    // Growing while the head is mid-ring: n queues 2n and 2n + 1 (a heap numbered breadth first comes out 1, 2, 3…).
    seen.length = 0;
    bus.subscribe('cob.snapshot', (m) => {
      seen.push(m.n);
      for (const c of [2 * m.n, 2 * m.n + 1]) if (c <= 5_000) bus.enqueue({ type: 'cob.snapshot', n: c });
    });
    bus.enqueue({ type: 'cob.snapshot', n: 1 });
    expect(bus.drain()).toBe(5_000);
    expect(seen).toEqual(Array.from({ length: 5_000 }, (_, i) => i + 1));
    // A burst past the ring's shrink size, drained, then a small queue again.
    seen.length = 0;
    bus.subscribe('md.trade', (m) => seen.push(-m.n));
    for (let n = 1; n <= 10_000; n++) bus.enqueue({ type: 'md.trade', n });
    expect(bus.queued).toBe(10_000);
    expect(bus.drain()).toBe(10_000);
    for (let n = 1; n <= 3; n++) bus.enqueue({ type: 'md.trade', n: 10_000 + n });
    expect(bus.drain()).toBe(3);
    expect(seen).toEqual(Array.from({ length: 10_003 }, (_, i) => -(i + 1)));
    expect(bus.queued).toBe(0);
  });

  it('drains any enqueue sequence as a stable partition: non-market messages first, then market data', () => {
    const msgArb = fc.record({ type: fc.constantFrom(...TYPES), n: fc.nat() }) as fc.Arbitrary<Msg>;
    fc.assert(
      fc.property(fc.array(msgArb, { maxLength: 200 }), (msgs) => {
        const bus = new Bus<Msg>();
        const seen: Msg[] = [];
        bus.subscribePrefix('*', (m) => seen.push(m));
        for (const m of msgs) bus.enqueue(m);
        bus.drain();
        const expected = [...msgs.filter((m) => !isMarketData(m.type)), ...msgs.filter((m) => isMarketData(m.type))];
        expect(seen).toEqual(expected);
        // identity, not just equal shape: nothing copied or duplicated
        seen.forEach((m, i) => expect(m).toBe(expected[i]));
      }),
      { numRuns: 300 },
    );
  });
});
