import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lmdbOrchestratorMemory, type OrchestratorSaved } from '../../../actors/orchestrator/memory.ts';
import { settingsKey } from '../../../engine/config/settings-key.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';

describe('orchestrator memory in LMDB', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives back what was saved after the store is closed and opened again, and skips a save once it is closed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cobalt-orch-memory-'));
    const path = join(dir, 'store');
    const saved: OrchestratorSaved = {
      thresholds: { base: settingsKey({ buy: 0.6, sell: 0.6, minConfidence: 0 }), set: { buy: 0.7, sell: 0.6, minConfidence: 0.2 } },
      accuracy: { cnn: { version: 'v000003', outcomes: '0110111' }, momentum: { version: 'rule-15m-10bps', outcomes: '' } },
    };
    const first = LmdbStore.open({ path });
    const memory = lmdbOrchestratorMemory(first);
    expect(memory.load()).toBeUndefined();
    memory.save({ accuracy: {} });
    memory.save(saved);
    await first.close();
    // What shutdown does when the orchestrator stops after the store closed: nothing written, nothing thrown.
    memory.save({ accuracy: {} });

    const second = LmdbStore.open({ path });
    expect(lmdbOrchestratorMemory(second).load()).toEqual(saved);
    await second.close();
  });
});
