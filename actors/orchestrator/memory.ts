// What the orchestrator keeps across restarts, and where: a supervised restart (a throwing handler) and a process
// restart (SIGTERM, kill -9) both come back with
// - the thresholds an operator set at run time, as long as the config's thresholds are still the ones they were set
//   over (an edited config wins, as with the RiskManager's limits);
// - each model's judged outcomes, so the gating weights carry on instead of falling back to the prior; only for the
//   version they were judged on (a new checkpoint starts from the prior, as a rollback does);
// - each model's health window (./model-health.ts), for the same version, window and horizon: without it every restart
//   took ~5 h of outcomes before the monitor could say anything again, and a degraded model came back as ok.
// Predictions still waiting for their horizon are not kept: at most one horizon of outcomes is lost.
// The daemon keeps it in LMDB (`orchestrator.control`); a backtest in memory, for its supervised restarts only.
import { log } from '../../engine/log.ts';
import type { LmdbStore } from '../../engine/store/lmdb.ts';
import type { MoeThresholds } from '../../strategies/moe.ts';
import type { SavedHealth } from './model-health.ts';

/** One model's judged outcomes: '1' right, '0' wrong, oldest first, and the version they were judged on. */
export interface SavedOutcomes {
  readonly version: string;
  readonly outcomes: string;
}

/** The orchestrator's state between runs. */
export interface OrchestratorSaved {
  /** Thresholds set at run time and the config thresholds (`settingsKey`) they replaced; absent: the config's apply. */
  readonly thresholds?: { readonly base: string; readonly set: MoeThresholds };
  readonly accuracy: Readonly<Record<string, SavedOutcomes>>;
  /** Each model's health monitor state and the version it was judged on; absent in stores written before it was kept. */
  readonly health?: Readonly<Record<string, { readonly version: string; readonly state: SavedHealth }>>;
  /**
   * Orchestrator starts so far. Intent ids carry it: a restarted replay decides at the same timestamps again with its
   * counter back at 0, and an id seen before would make the executor send nothing (the order already exists).
   */
  readonly starts?: number;
}

/** Where the orchestrator's state is kept. `save` must not throw; `load` returns undefined when nothing was kept. */
export interface OrchestratorMemory {
  load(): OrchestratorSaved | undefined;
  save(s: OrchestratorSaved): void;
}

/** Kept in this process only: survives supervised restarts, not the process. */
export class InMemoryOrchestratorMemory implements OrchestratorMemory {
  private saved: OrchestratorSaved | undefined;
  load(): OrchestratorSaved | undefined {
    return this.saved;
  }
  save(s: OrchestratorSaved): void {
    this.saved = s;
  }
}

const KEY = 'control';

/**
 * Kept in `store` (database `orchestrator.control`); a write after the store closed is skipped, a failed one logged.
 * The put commits later: until then the store still holds the record before it, and an orchestrator rebuilt in that
 * time (a supervised restart in the same turn) took the old thresholds back and saved them over the new ones for good.
 * So `load` gives the last record saved through this memory, the store's only before any.
 */
export function lmdbOrchestratorMemory(store: LmdbStore): OrchestratorMemory {
  const db = store.db<string, OrchestratorSaved>('orchestrator.control');
  let last: OrchestratorSaved | undefined;
  return {
    load: () => last ?? db.get(KEY),
    save: (s) => {
      if (store.isClosed) return;
      last = s;
      void db.put(KEY, s).catch((err: unknown) => log().warn({ err, code: 'ORCH_STATE_WRITE' }, 'orchestrator state write failed'));
    },
  };
}
