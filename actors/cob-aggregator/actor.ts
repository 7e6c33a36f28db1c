// COBAggregator as a supervised child: xstate callback logic (long-lived, no machine states of its own; book sync
// states live in BookSync and go out as md.bookStatus). Start: create a CobAggregator, subscribe it to the bus
// with owner = child id (a throwing handler makes the supervisor restart it), attach it to the handle. Stop:
// unsubscribe, cancel the timer, detach. A failing publish timer is sent to the supervisor as `sup.fail`.
// A restart starts from empty books: they re-sync from fresh snapshots and the imbalance averages start over.
import { fromCallback, type EventObject } from 'xstate';
import type { ChildSpec } from '../../engine/runtime/supervisor.ts';
import type { CobSnapshot } from '../../engine/market/cob.ts';
import type { HeatmapMatrix, HeatmapMetric } from '../../engine/market/heatmap.ts';
import type { VenueId } from '../../engine/types/instrument.ts';
import type { SyncState } from '../../engine/venues/binance/book-sync.ts';
import { CobAggregator, type CobAggregatorOptions, type CobReader } from './logic.ts';

/** The supervisor id of the COBAggregator. */
export const COB_AGGREGATOR_ID = 'cob';

/**
 * A stable read handle on whichever CobAggregator instance is running (restarts replace it), for the
 * DataProvider / Orchestrator to hold. Reads return undefined while no instance runs.
 */
export class CobHandle implements CobReader {
  private agg: CobAggregator | undefined;

  /** The running instance, if any. */
  get current(): CobAggregator | undefined {
    return this.agg;
  }

  /** Points the handle at `agg` (called by the actor). */
  attach(agg: CobAggregator): void {
    this.agg = agg;
  }

  /** Clears the handle if it still points at `agg`. */
  detach(agg: CobAggregator): void {
    if (this.agg === agg) this.agg = undefined;
  }

  symbols(): string[] {
    return this.agg?.symbols() ?? [];
  }

  latest(symbol: string): CobSnapshot | undefined {
    return this.agg?.latest(symbol);
  }

  heatmap(symbol: string, metric?: HeatmapMetric): HeatmapMatrix | undefined {
    return this.agg?.heatmap(symbol, metric);
  }

  bookState(symbol: string, venue?: VenueId): SyncState | undefined {
    return this.agg?.bookState(symbol, venue);
  }
}

/** Input of the supervised COBAggregator. */
export interface CobAggregatorInput extends Omit<CobAggregatorOptions, 'owner' | 'onFailure'> {
  /** Child id, also the bus owner (default 'cob'). */
  readonly id?: string;
  readonly handle?: CobHandle;
}

/** xstate callback logic running a CobAggregator for as long as the child lives. */
export const cobAggregatorActor = fromCallback<EventObject, CobAggregatorInput>(({ input, sendBack }) => {
  const id = input.id ?? COB_AGGREGATOR_ID;
  const agg = new CobAggregator({ ...input, owner: id, onFailure: (error) => sendBack({ type: 'sup.fail', id, error }) });
  agg.start();
  input.handle?.attach(agg);
  return () => {
    agg.stop();
    input.handle?.detach(agg);
  };
});

/** Returns the supervisor child spec of the COBAggregator. */
export function cobAggregatorChild(input: CobAggregatorInput, order?: number): ChildSpec {
  return { id: input.id ?? COB_AGGREGATOR_ID, logic: cobAggregatorActor, input, ...(order === undefined ? {} : { order }) };
}
