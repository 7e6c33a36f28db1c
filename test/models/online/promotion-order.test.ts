// Review finding (online 2): promoted checkpoints were ranked by promotedAt = the engine clock at promotion. A paper
// daemon replaying recorded data runs on the data's clock, so a later promotion over earlier data ranked below an
// older one: a restart loaded the older version, and pruning removed the newest first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { CheckpointStore } from '../../../models/checkpoints.ts';
import { promotionRank } from '../../../models/online/pipeline.ts';
import { decisions, dqnPipeline, liveParams, T0, winning } from './dqn-fixture.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-order-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const DAY = 86_400_000;

describe('the order of promoted checkpoints', () => {
  it('puts the latest DQN promotion first even when the engine clock went back (a replay of earlier data)', async () => {
    const dir = path.join(root, 'dqn-replay');
    let k = 0;
    const trainer = { train: async () => winning(liveParams.map((x) => x * (1 + 0.1 * ++k))), close: async () => {} };
    const first = dqnPipeline(trainer, {}, dir, T0 + 2 * DAY);
    expect(await first.p.runOnce(decisions(400))).toMatchObject({ promoted: true, version: 'online-v000001' });
    // The daemon restarts on a replay of the day before: its clock is a day behind the first promotion's.
    const second = dqnPipeline(trainer, {}, dir, T0 + DAY);
    expect(await second.p.runOnce(decisions(400))).toMatchObject({ promoted: true, version: 'online-v000002' });
    const listed = await new CheckpointStore({ root: dir }).list('dqn');
    expect(listed.map((c) => c.meta.version)).toEqual(['v000002', 'v000001']);
    expect(listed.map((c) => c.meta.metric.name)).toEqual(['promotedAt', 'promotedAt']);
  });

  it('ranks a promotion above every checkpoint already ranked by promotedAt, and at the engine time when that is later', async () => {
    const dir = path.join(root, 'rank');
    const clock = new SimulatedClock(0);
    const store = new CheckpointStore({ root: dir, clock });
    expect(await promotionRank(store, 'cnn', 5_000)).toBe(5_000);
    for (const value of [9_000, 7_000]) {
      await store.save({ model: 'cnn', metric: { name: 'promotedAt', value, higherIsBetter: true }, dataSpan: { fromMs: 0, toMs: 1 }, configHash: 'x', backend: 'x', write: async () => {} });
    }
    // A checkpoint ranked by another metric does not count.
    await store.save({ model: 'cnn', metric: { name: 'heldOutLogLoss', value: 1e12, higherIsBetter: false }, dataSpan: { fromMs: 0, toMs: 1 }, configHash: 'x', backend: 'x', write: async () => {} });
    expect(await promotionRank(store, 'cnn', 5_000)).toBe(9_001);
    expect(await promotionRank(store, 'cnn', 20_000)).toBe(20_000);
  });
});
