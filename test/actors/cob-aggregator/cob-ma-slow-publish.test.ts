// Through the aggregator at publishHz 0.1 (valid config, period 10 s > staleMs 5 s): the imbalance averages must keep
// their history from one cob.snapshot to the next instead of all four equalling the current sample.
import { describe, expect, it } from 'vitest';
import { CobAggregator } from '../../../actors/cob-aggregator/index.ts';
import type { CobSnapshotMsg } from '../../../engine/messages/cob.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Level } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';

const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);

describe('COBAggregator imbalance averages at publishHz 0.1', () => {
  it('averages over several publish periods', () => {
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const snaps: CobSnapshotMsg[] = [];
    bus.subscribe('cob.snapshot', (m) => snaps.push(m));
    const agg = new CobAggregator({
      bus, clock, snapshots: { requestSnapshot: () => {} },
      symbols: [{ symbol: 'ETH/USDT', bucketSize: '1', venues: [ETH] }], settings: { publishHz: 0.1 },
    });
    agg.start();
    let id = 0;
    const base = () => ({ venue: 'binance' as const, symbol: 'ETH/USDT', tsExchange: clock.now(), tsLocal: clock.now() });
    // A diff each second setting the top: one bid and one ask a tick apart.
    const diff = (bid: number, ask: number) => {
      id++;
      const bids: Level[] = [[268_400 as Ticks, bid as Lots]];
      const asks: Level[] = [[268_401 as Ticks, ask as Lots]];
      bus.publish({ type: 'md.depth', ...base(), firstUpdateId: id, finalUpdateId: id, bids, asks });
    };
    diff(900, 100);
    bus.publish({ type: 'md.snapshot', ...base(), lastUpdateId: id - 1, bids: [[268_400 as Ticks, 900 as Lots]], asks: [[268_401 as Ticks, 100 as Lots]] });
    expect(agg.bookState('ETH/USDT')).toBe('live');
    for (let s = 1; s <= 120; s++) {
      clock.advance(1_000);
      if (s <= 60) diff(900, 100); // +0.8
      else diff(100, 900); // −0.8
    }
    expect(snaps.length).toBeGreaterThanOrEqual(10);
    const last = snaps.at(-1)!.cob;
    expect(last.imbalanceNear).toBeCloseTo(-0.8, 12);
    // The 60 s window ends at 120 s and holds mostly −0.8 but must still see the history: not all four equal.
    const ma = last.imbalanceMa;
    expect(ma.every((x) => Math.abs(x - last.imbalanceNear) < 1e-9)).toBe(false);
    expect(snaps.slice(2).filter((m) => m.cob.imbalanceMa.every((x) => x === m.cob.imbalanceNear)).length).toBeLessThan(snaps.length - 2);
  });
});
