// Through the aggregator: while a symbol's book is resyncing or stale no cob.snapshot goes out, and the first one
// after it must average only what was seen since, not hold the pre-outage imbalance across the outage.
import { describe, expect, it } from 'vitest';
import { CobAggregator, type CobSymbolSpec } from '../../../actors/cob-aggregator/index.ts';
import type { CobSnapshotMsg } from '../../../engine/messages/cob.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Level } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const SYMBOLS: CobSymbolSpec[] = [{ symbol: 'ETH/USDT', bucketSize: '1', venues: [ETH] }];
// One bid and one ask a tick apart (2684.00 / 2684.01), sizes in lots: imbalance (bid − ask) / (bid + ask).
const top = (bid: number, ask: number): { bids: Level[]; asks: Level[] } =>
  ({ bids: [[268_400 as Ticks, bid as Lots]], asks: [[268_401 as Ticks, ask as Lots]] });

function harness() {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(0);
  const snaps: CobSnapshotMsg[] = [];
  bus.subscribe('cob.snapshot', (m) => snaps.push(m));
  const agg = new CobAggregator({ bus, clock, snapshots: { requestSnapshot: () => {} }, symbols: SYMBOLS });
  agg.start();
  let id = 0;
  const base = () => ({ venue: 'binance' as const, symbol: 'ETH/USDT', tsExchange: clock.now(), tsLocal: clock.now() });
  const diff = (levels: { bids: Level[]; asks: Level[] } = { bids: [], asks: [] }) => {
    id++;
    bus.publish({ type: 'md.depth', ...base(), firstUpdateId: id, finalUpdateId: id, ...levels });
  };
  // A diff (buffered, it asks for a snapshot) then the snapshot just under it: the book goes live.
  const sync = (levels: { bids: Level[]; asks: Level[] }) => {
    diff();
    bus.publish({ type: 'md.snapshot', ...base(), lastUpdateId: id - 1, ...levels });
    expect(agg.bookState('ETH/USDT')).toBe('live');
  };
  // A diff each second (keeps the book fresh) for `ms`.
  const run = (ms: number) => {
    for (let left = ms; left > 0; left -= 1_000) {
      clock.advance(Math.min(1_000, left));
      diff();
    }
  };
  return { bus, clock, agg, snaps, diff, sync, run };
}

const round = (xs: readonly number[]) => xs.map((x) => +x.toFixed(9));

describe('COBAggregator imbalance averages across an outage', () => {
  it('averages only what it saw since a resync (a feed reset 1 s long)', () => {
    const h = harness();
    h.sync(top(900, 100)); // +0.8
    h.run(20_000);
    expect(round(h.snaps.at(-1)!.cob.imbalanceMa)).toEqual([0.8, 0.8, 0.8, 0.8]);
    h.bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: 'ETH/USDT', reason: 'ws closed', ts: h.clock.now() });
    const before = h.snaps.length;
    h.clock.advance(1_000);
    expect(h.snaps.length).toBe(before); // nothing published while resyncing
    h.sync(top(100, 900)); // −0.8
    h.clock.advance(100);
    const first = h.snaps[before]!.cob;
    expect(first.imbalanceNear).toBeCloseTo(-0.8, 12);
    expect(round(first.imbalanceMa)).toEqual([-0.8, -0.8, -0.8, -0.8]);
  });

  it('averages only what it saw since the book went stale and came back', () => {
    const h = harness();
    h.sync(top(900, 100));
    h.run(10_000);
    h.clock.advance(5_500); // no update for more than staleMs: stale, nothing published
    const before = h.snaps.length;
    expect(h.snaps.at(-1)!.ts).toBeLessThanOrEqual(15_100);
    h.diff(top(100, 900));
    h.clock.advance(100);
    expect(h.snaps.length).toBe(before + 1);
    const back = h.snaps.at(-1)!.cob;
    expect(back.imbalanceNear).toBeCloseTo(-0.8, 12);
    expect(round(back.imbalanceMa)).toEqual([-0.8, -0.8, -0.8, -0.8]);
  });
});
