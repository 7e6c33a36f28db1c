// Review finding (online learning 2): the store counted versions an operator rolled back toward `keep` and pruned the
// version running now, so a restart loaded another. `keepAlways` and `pruneFirst` let the caller say which matter.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { CheckpointStore, type CheckpointStoreOptions } from '../../models/checkpoints.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cobalt-ckpt-retention-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const span = { fromMs: 0, toMs: 1 };
// Saves ranked by `value`, higher is better (promotedAt: the newest ranks first).
async function saveAll(opts: Omit<CheckpointStoreOptions, 'root'>, values: readonly number[]): Promise<string[]> {
  const store = new CheckpointStore({ root, clock: new SimulatedClock(), ...opts });
  for (const value of values) {
    await store.save({ model: 'cnn', metric: { name: 'promotedAt', value, higherIsBetter: true }, dataSpan: span, configHash: 'x', backend: 'wasm', write: (dir) => writeFile(path.join(dir, 'w.bin'), String(value)) });
  }
  return (await readdir(path.join(root, 'cnn'))).sort();
}

describe('CheckpointStore retention', () => {
  it('never prunes a checkpoint keepAlways holds, and does not count it toward keep', async () => {
    const kept = await saveAll({ keep: 2, keepAlways: (c) => c.meta.version === 'v000001' }, [1, 2, 3, 4, 5]);
    expect(kept).toEqual(['v000001', 'v000004', 'v000005']);
  });

  it('prunes the checkpoints pruneFirst marks before better-ranked others', async () => {
    const retired = new Set(['v000003', 'v000004', 'v000005']);
    const kept = await saveAll({ keep: 3, pruneFirst: (c) => retired.has(c.meta.version) }, [1, 2, 3, 4, 5, 6]);
    // Unmarked v000006, v000002, v000001 fill the three places; the marked ones, although newer, go.
    expect(kept).toEqual(['v000001', 'v000002', 'v000006']);
  });

  it('keeps the best `keep` when nothing is marked', async () => {
    expect(await saveAll({ keep: 2 }, [1, 2, 3])).toEqual(['v000002', 'v000003']);
  });
});
