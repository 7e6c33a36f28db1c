// An operator's rollback of an online-promoted CNN or DQN outlives a restart. At start loadModels runs the newest
// promoted checkpoint of the running model's line; without a record of the rollback, the version the operator took out
// of the blend would come back at the next start. So when the orchestrator reports that `cnn` or `dqn` was rolled back
// from an online version, that checkpoint (`<root>/<model>/<version>`) gets a `retired.json` (when, and which version
// was active after), and loadModels passes retired checkpoints over. Deleting the file puts the version back in line.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../engine/log.ts';
import type { EngineMsg } from '../engine/messages/index.ts';
import type { ModelStatusMsg } from '../engine/messages/orchestrator.ts';
import type { Bus, Unsubscribe } from '../engine/runtime/bus.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import { CheckpointStore } from '../models/checkpoints.ts';

/** The marker file of a promoted checkpoint an operator rolled back. */
export const RETIRED_FILE = 'retired.json';

/** Returns true when the checkpoint in `dir` was rolled back by an operator. */
export const isRetired = (dir: string): boolean => existsSync(path.join(dir, RETIRED_FILE));

/** What the marker holds. */
export interface RetiredRecord {
  readonly version: string;
  readonly retiredAt: number;
  /** The version active after the rollback. */
  readonly activeAfter: string;
  readonly reason: string;
}

/** Options of `recordRollbacks`. */
export interface RecordRollbacksOptions {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** CheckpointStore root of the promoted checkpoints (onlineCheckpointRoot). */
  readonly root: string;
  /** Prefix of the registry versions of promoted checkpoints (ONLINE_VERSION_PREFIX). */
  readonly versionPrefix: string;
}

/** The models whose online-promoted versions are marked when rolled back. */
export const ONLINE_MODELS: readonly string[] = ['cnn', 'dqn'];

/** Subscribes to rollbacks of `cnn` and `dqn` and marks the online checkpoint rolled back from; `idle` waits for the writes. */
export function recordRollbacks(o: RecordRollbacksOptions): { stop: Unsubscribe; idle(): Promise<void> } {
  const store = new CheckpointStore({ root: o.root, clock: o.clock });
  const pending = new Set<Promise<void>>();
  const mark = async (m: ModelStatusMsg & { rolledBackFrom: string }): Promise<void> => {
    const v = m.rolledBackFrom.slice(o.versionPrefix.length);
    try {
      const cp = (await store.list(m.model)).find((c) => c.meta.version === v);
      if (!cp) throw new Error(`no promoted checkpoint ${v} under ${path.join(o.root, m.model)}`);
      const rec: RetiredRecord = { version: m.rolledBackFrom, retiredAt: m.ts, activeAfter: m.version, reason: 'rolled back by an operator' };
      await writeFile(path.join(cp.dir, RETIRED_FILE), JSON.stringify(rec, null, 1));
      o.logger.info({ model: m.model, version: m.rolledBackFrom, dir: cp.dir }, `${m.model}@${m.rolledBackFrom} rolled back: marked retired, a restart will not load it`);
    } catch (err) {
      o.logger.error({ err, code: 'ROLLBACK_NOT_RECORDED', model: m.model, version: m.rolledBackFrom },
        `the rollback of ${m.model}@${m.rolledBackFrom} could not be recorded: a restart would load it again (delete its checkpoint to keep it out)`);
    }
  };
  const stop = o.bus.subscribe('signal.modelStatus', (m) => {
    if (!ONLINE_MODELS.includes(m.model) || m.rolledBackFrom === undefined || !m.rolledBackFrom.startsWith(o.versionPrefix)) return;
    const p = mark(m as ModelStatusMsg & { rolledBackFrom: string });
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }, 'online-rollbacks');
  return {
    stop,
    idle: async () => {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
