// `cobalt run` on the looped demo recording, restarted on a store whose replay went past the end of the bundled kline
// archive: the DataProvider read history at engine time, found no 1m or 1h bars there, and every inference
// was refused as incomplete for as long as the daemon ran (no hour was ever whole: each holds a lap junction). The
// replay's clock now carries its timeline, and history is read at the recording's own time (replay-history.ts).
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ReplayPosition } from '../../actors/data-provider/replay.ts';
import { runCommand } from '../../app/run.ts';
import { createLogger } from '../../engine/log.ts';
import { InferenceHistoryStore } from '../../engine/store/inference-history.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { replayConfigYaml } from '../e2e/helpers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-past-archive-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

/** 2025-09-01: past the last bar of every bundled 1m and 1h kline file, and of the 1d files. */
const PAST_END = Date.UTC(2025, 8, 1);
/** Engine time the run is stopped at when it has not recorded enough decisions by then. */
const GIVE_UP_AFTER_MS = 25 * 60_000;

describe('cobalt run resumed past the kline archive\'s end', () => {
  it('records decisions on complete inputs', async () => {
    const store = LmdbStore.open({ path: path.join(root, 'store') });
    await new ReplayPosition(store, createLogger({ level: 'silent' })).reserve(PAST_END);
    await store.close();
    const config = path.join(root, 'paper.yaml');
    writeFileSync(config, replayConfigYaml(root, { speed: 100, loop: true }));
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    vi.stubEnv('COBALT_LOG_PRETTY', '0');

    const source = new EventEmitter();
    const decisions: { ts: number; completeness: number | undefined }[] = [];
    const stop = (): boolean => source.emit('SIGTERM', 'SIGTERM');
    const record = InferenceHistoryStore.prototype.record;
    const recorded = vi.spyOn(InferenceHistoryStore.prototype, 'record').mockImplementation(function (this: InferenceHistoryStore, r) {
      decisions.push({ ts: r.ts, completeness: r.input.completeness });
      if (decisions.length === 40) stop();
      return record.call(this, r);
    });
    const reserve = ReplayPosition.prototype.reserve;
    const reserved = vi.spyOn(ReplayPosition.prototype, 'reserve').mockImplementation(function (this: ReplayPosition, ts) {
      if (ts > PAST_END + GIVE_UP_AFTER_MS) stop();
      return reserve.call(this, ts);
    });
    const exits: number[] = [];
    let failed: unknown;
    try {
      await new Promise<void>((resolve) => {
        runCommand({ config }, { source, exit: (code) => (exits.push(code), resolve()) }).catch((err: unknown) => ((failed = err), resolve()));
      });
    } finally {
      recorded.mockRestore();
      reserved.mockRestore();
    }

    expect(failed).toBeUndefined();
    expect(exits).toEqual([0]);
    expect(Math.min(...decisions.map((d) => d.ts))).toBeGreaterThan(PAST_END);
    // The reference (BTC) 1s series still fills during the first decisions: it no longer holds inference back (no model
    // reads it), so they come at ~0.78 and rise as it fills. The 1m/1h history this guards, missing past the archive's
    // end, would refuse inference outright (base-data-input.ts: a stale or sparse model series).
    expect(decisions.length).toBeGreaterThanOrEqual(40);
    for (const d of decisions) expect(d.completeness).toBeGreaterThanOrEqual(0.75);
    expect(decisions.at(-1)!.completeness).toBeGreaterThanOrEqual(0.8);
  }, 120_000);
});
