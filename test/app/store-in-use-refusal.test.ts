// A second run on a store another run writes is refused to start (exit 2 with one line naming the holder), never
// crashed with a stack: LmdbStore.open throws StoreInUseError, which refuseOnConfigError turns into a refusal.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { refuseOnConfigError } from '../../app/system.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { ConfigError, StoreError, StoreInUseError } from '../../engine/types/errors.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-store-in-use-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a store held by another writer', () => {
  it('refuses the second writer with StoreInUseError and a start with a ConfigError naming the store', async () => {
    const dir = path.join(root, 'store');
    const first = LmdbStore.open({ path: dir });
    try {
      expect(() => LmdbStore.open({ path: dir })).toThrow(StoreInUseError);
      const refused = await refuseOnConfigError(async () => LmdbStore.open({ path: dir }));
      expect(refused).toBeInstanceOf(ConfigError);
      expect((refused as ConfigError).message).toMatch(/already open for writing in this process/);
    } finally {
      await first.close();
    }
  });

  it('still throws any other store failure', async () => {
    await expect(refuseOnConfigError(async () => { throw new StoreError('disk full'); })).rejects.toThrow('disk full');
  });
});
