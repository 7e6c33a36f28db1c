// A looped replay's raw depth frames keep their recorded text, event time `E` included, while trades carry times shifted
// by the lap (review of the looped replay, finding 2). The paper books passed the recorded `E` to the venue's queue
// logic, which compares it with the trades' shifted times: from lap 2 every print looked newer than every diff, so a
// print the diff before it already showed moved a resting order's queue a second time. The feed now puts the lap's
// shift on md.depthRaw (`shiftMs`) and the books add it to the frame's event time: every lap behaves like the first.
import { describe, expect, it } from 'vitest';
import { PaperBooks, type BookListener } from '../../app/paper-books.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { clientOrderId } from '../../engine/types/ids.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { PaperVenue } from '../../engine/venues/paper/paper-venue.ts';
import { ReplayFeed } from '../../engine/venues/replay/replay-feed.ts';
import { paperBooksRig } from './paper-books-rig.ts';

const ETH_FILES = ['data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz'];
const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const LAP = 720_000;

describe('PaperBooks: raw depth frames of a looped replay', () => {
  it('does not move a queue by a late print after a raw diff of lap 2 showed it (its E recorded, the shift beside it)', () => {
    const { books, venue, send, limitBuy } = paperBooksRig();
    // Lap 2 (shift LAP): decoded messages come with their times shifted.
    send({ type: 'md.snapshot', lastUpdateId: 10, bids: [[99_900, 2_000]], asks: [[100_000, 5_000]] });
    send({ type: 'md.depth', firstUpdateId: 11, finalUpdateId: 11, bids: [], asks: [], tsExchange: LAP + 1_000 });
    limitBuy('l1', 99_900, 10_000); // 2 000 lots ahead
    // The raw diff that shows 500 lots sold: its text as recorded (E = 2 000), the lap's shift beside it.
    send({
      type: 'md.depthRaw', shiftMs: LAP,
      data: '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":2000,"s":"BTCUSDT","U":12,"u":12,"b":[["999.00000000","0.01500000"]],"a":[]}}',
    });
    // The print of those lots, 10 ms before the diff on the lap's time line: already in it.
    send({ type: 'md.trade', tradeId: 1, price: 99_900, lots: 500, buyerMaker: true, tsExchange: LAP + 1_990 });

    expect(books.counters).toMatchObject({ applied: 1, malformed: 0, trades: 1 });
    expect(venue.queueAhead('BTC/USDT', clientOrderId('l1'))).toBe(1_500);
  });

  it('tells the venue the same diff and trade times, and queues move the same, in laps 1, 2 and 3 of the bundled recording', async () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const feed = new ReplayFeed({ bus, clock, files: ETH_FILES, loop: true, maxLaps: 3, instruments: [ETH], kinds: ['depth', 'snapshot', 'trade'] });
    const books = new PaperBooks(bus, [ETH]);
    const venue = new PaperVenue({
      clock, instruments: [ETH], books: books.books(), makerFeeRate9: 1_000_000n, takerFeeRate9: 1_000_000n, latencyMs: 0,
      balances: { USDT: money('10000000'), ETH: money('1000') },
    });
    // Each lap after the first begins with its reset; the events of a lap are kept with times relative to its shift.
    let lap = 0;
    bus.subscribe('md.feedReset', (m) => void (m.reason.startsWith('replay lap') && lap++));
    const events: string[][] = [[], [], []];
    const shift = () => lap * feed.lapLengthMs;
    const listener: BookListener = {
      onDepth: (s, b, a, ts) => (events[lap]!.push(`depth ${ts - shift()}`), venue.onDepth(s, b, a, ts)),
      // Laps 2 and 3 begin with their reset taking the book down (lap 1 starts down): only the syncs are compared.
      onSnapshot: (s, ts) => (ts !== undefined && events[lap]!.push(`snapshot ${ts - shift()}`), venue.onSnapshot(s, ts)),
      onTrade: (s, p, l, bm, ts) => (events[lap]!.push(`trade ${ts - shift()}`), venue.onTrade(s, p, l, bm, ts)),
      wantsDepth: (s) => venue.wantsDepth(s),
    };
    books.start(listener);
    // A buy and a sell resting at the touch every 5 s of each lap; their queues sampled at each trade.
    const queues: string[][] = [[], [], []];
    const open: string[] = [];
    let next = 0;
    let seq = 0;
    let lapStart = NaN;
    bus.subscribe('md.snapshot', (m) => {
      lapStart = m.tsLocal;
      next = 5_000;
      seq = 0;
      for (const c of open.splice(0)) void venue.cancel('ETH/USDT', clientOrderId(c));
    });
    bus.subscribe('md.trade', () => {
      for (const c of open) queues[lap]!.push(`${c.slice(c.indexOf('-'))} q=${venue.queueAhead('ETH/USDT', clientOrderId(c)) ?? 'done'}`);
      if (clock.now() - lapStart < next || !books.isLive('ETH/USDT')) return;
      next += 5_000;
      for (const c of open.splice(0)) void venue.cancel('ETH/USDT', clientOrderId(c));
      const view = books.book('ETH/USDT');
      const bid = view.bestBid(), ask = view.bestAsk();
      if (bid === undefined || ask === undefined) return;
      seq++;
      for (const [side, price] of [['buy', bid], ['sell', ask]] as const) {
        const cid = `L${lap}-o${seq}${side[0]}`;
        if (venue.submitNow({ clientOrderId: clientOrderId(cid), symbol: 'ETH/USDT', side, orderType: 'limit', lots: 100 as Lots, price: price as Ticks, timeInForce: 'GTC' }).status === 'accepted') open.push(cid);
      }
    });
    await feed.start();
    await feed.done;

    expect(feed.laps).toBe(3);
    expect(feed.lapLengthMs).toBe(LAP);
    expect(events[0]!.length).toBeGreaterThan(20_000);
    expect(queues[0]!.length).toBeGreaterThan(5_000);
    // Laps 2 and 3 are lap 1 moved in time: the times the venue is told and the queues it keeps are lap 1's.
    const differing = (a: string[], b: string[]) => a.filter((x, i) => x !== b[i]).length + Math.abs(a.length - b.length);
    expect([differing(events[1]!, events[0]!), differing(events[2]!, events[0]!)]).toEqual([0, 0]);
    expect([differing(queues[1]!, queues[0]!), differing(queues[2]!, queues[0]!)]).toEqual([0, 0]);
  }, 60_000);
});
