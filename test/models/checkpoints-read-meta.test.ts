// One reader of checkpoint.json: the store's listing and app/backtest-model-spans.ts read a checkpoint's
// metadata the same way, and what cannot be a checkpoint's metadata is no checkpoint to either.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointStore, readCheckpointMeta } from '../../models/checkpoints.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cobalt-ckpt-read-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const store = () => new CheckpointStore({ root, clock: new SimulatedClock(5_000) });
const saveOne = () => store().save({
  model: 'dqn', metric: { name: 'valPnl', value: 0.1, higherIsBetter: true }, dataSpan: { fromMs: 1, toMs: 2 },
  validationSpan: { fromMs: 3, toMs: 4 }, configHash: 'abc', backend: 'js-mlp', write: (dir) => writeFile(path.join(dir, 'weights.bin'), ''),
});

async function folderWith(version: string, text: string): Promise<string> {
  const dir = path.join(root, 'dqn', version);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'checkpoint.json'), text);
  return dir;
}

describe('readCheckpointMeta', () => {
  it('reads the metadata a save wrote, the span that picked the weights included', async () => {
    const saved = await saveOne();

    expect(readCheckpointMeta(saved.dir)).toEqual(saved.meta);
    expect(saved.meta.validationSpan).toEqual({ fromMs: 3, toMs: 4 });
  });

  it.each([
    ['not JSON', '{"version": "v0000'],
    ['JSON null', 'null'],
    ['a JSON array', '[]'],
    ['a JSON number', '5'],
  ])('is undefined for a checkpoint.json that is %s, and for a folder without one', async (_what, text) => {
    const dir = await folderWith('v000009', text);

    expect([readCheckpointMeta(dir), readCheckpointMeta(path.join(root, 'missing'))]).toEqual([undefined, undefined]);
  });
});

describe('CheckpointStore.list', () => {
  it('passes over a folder whose checkpoint.json is no metadata object, as the sync reader does', async () => {
    const saved = await saveOne();
    await folderWith('v000009', '[]');

    expect((await store().list('dqn')).map((c) => c.meta.version)).toEqual([saved.meta.version]);
  });
});
