// A live system built as `cobalt run --live` builds it, on a paper venue's USDT, for in-process restart tests.
import { buildSystem, type System } from '../../app/system.ts';
import type { Config } from '../../engine/config/schema.ts';
import type { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { Money } from '../../engine/types/money.ts';
import type { PaperVenue } from '../../engine/venues/paper/paper-venue.ts';
import { until } from '../wait-until.ts';

/**
 * Builds and starts the children only (readiness would wait on candle history retried on a clock that does not move
 * here), until the executor has reconciled and the RiskManager runs.
 */
export async function startLiveSystem(c: Config, clock: SimulatedClock, venue: PaperVenue): Promise<System> {
  const cash = (venue.account.freeOf('USDT') + venue.account.lockedOf('USDT')) as Money;
  const sys = await buildSystem(c, { clock, mode: 'live', venueOverride: () => venue, liveCash: cash, noSync: true, maintenanceMs: 0, dataOverride: () => undefined });
  sys.supervisor.start();
  await until(() => sys.handles.executor()?.state === 'live' && sys.handles.risk() !== undefined, 'the executor to reconcile');
  return sys;
}
