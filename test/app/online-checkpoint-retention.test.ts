// Review finding (online learning, retention): onlineCheckpointStore never pruned the active version nor any version on
// the registry's rollback history, which was never trimmed, so in one process no promoted checkpoint was ever pruned
// (12 hourly promotions, 12 folders). It now holds only the active version and rollbackTo[0] (the one step a restart
// keeps, app/models.ts) beside the store's newest `keep`, and every version a rollback can reach keeps its files.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelRegistry, type ModelRunner } from '../../actors/orchestrator/registry.ts';
import { ONLINE_VERSION_PREFIX } from '../../app/models.ts';
import { onlineCheckpointStore, promotedDir } from '../../app/online-learning.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
const run: ModelRunner = async (_x, c) => ({ model: c.model, version: c.version, symbol: c.symbol, ts: c.ts, action: 'HOLD', probabilities: [0, 0, 1], confidence: 1 });

describe('promoted checkpoints over many promotions', () => {
  it('are pruned to the newest keep plus the active version and its rollback target; every rollback target keeps its files', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-retention-'));
    roots.push(root);
    const clock = new SimulatedClock(1_700_000_000_000);
    const registry = new ModelRegistry();
    registry.register('cnn', { version: 'bundled-v000001', run }, clock.now());
    const store = onlineCheckpointStore(root, clock, registry);
    // Twelve hourly promotions as TrainingPipeline.runOnce does them: save ranked by promotedAt, register, activate.
    for (let i = 0; i < 12; i++) {
      clock.advance(3_600_000);
      const cp = await store.save({
        model: 'cnn', metric: { name: 'promotedAt', value: clock.now(), higherIsBetter: true }, dataSpan: { fromMs: 0, toMs: 1 }, configHash: 'x', backend: 'x',
        write: async () => {},
      });
      const v = `${ONLINE_VERSION_PREFIX}${cp.meta.version}`;
      registry.register('cnn', { version: v, run }, clock.now());
      registry.activate('cnn', v, clock.now());
    }
    const onDisk = readdirSync(path.join(root, 'cnn')).sort();
    expect(onDisk).toHaveLength(store.keep + 2);
    expect(onDisk.at(-1)).toBe('v000012');
    const { active, rollbackTo } = registry.list()[0]!;
    for (const v of [active, ...rollbackTo]) expect(existsSync(promotedDir(root, 'cnn', v)!), v).toBe(true);
  });
});
