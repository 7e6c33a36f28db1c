// Task H3 item 5: a save's prune asks keepAlways and pruneFirst once per checkpoint (a caller's filter may read the
// disk), and keeps what it kept before.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { CheckpointStore } from '../../models/checkpoints.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cobalt-ckpt-filters-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('CheckpointStore prune', () => {
  it('asks each filter once per checkpoint of a save, and keeps the held, then the unmarked best, then the marked', async () => {
    const asked: string[] = [];
    let counting = false;
    const store = new CheckpointStore({
      root, keep: 2, clock: new SimulatedClock(),
      keepAlways: (c) => (counting && asked.push(`keepAlways ${c.meta.version}`), c.meta.version === 'v000001'),
      pruneFirst: (c) => (counting && asked.push(`pruneFirst ${c.meta.version}`), c.meta.version === 'v000004'),
    });
    const save = (value: number) => store.save({
      model: 'cnn', metric: { name: 'promotedAt', value, higherIsBetter: true }, dataSpan: { fromMs: 0, toMs: 1 }, configHash: 'x', backend: 'wasm',
      write: (dir) => writeFile(path.join(dir, 'w.bin'), String(value)),
    });
    for (const v of [1, 2, 3]) await save(v);
    counting = true;
    const fourth = await save(4);
    expect(asked.sort()).toEqual([
      'keepAlways v000001', 'keepAlways v000002', 'keepAlways v000003', 'keepAlways v000004',
      'pruneFirst v000002', 'pruneFirst v000003', 'pruneFirst v000004',
    ]);
    expect([fourth.kept, (await readdir(path.join(root, 'cnn'))).sort()]).toEqual([false, ['v000001', 'v000002', 'v000003']]);
  });
});
