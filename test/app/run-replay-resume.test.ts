// `cobalt run` on replayed data, stopped and started again on the same store (review of the looped replay, finding 1):
// the second run replayed from the recording's first line, at the times the first run had already recorded
// decisions for. It now goes on after where the first run got to (app/run.ts with actors/data-provider/replay.ts).
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { recordingStartMs, replayResumeAfter } from '../../actors/data-provider/replay.ts';
import { runCommand } from '../../app/run.ts';
import { InferenceHistoryStore } from '../../engine/store/inference-history.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { RECORDINGS, replayConfigYaml } from '../e2e/helpers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'cobalt-run-resume-'));
const storePath = path.join(root, 'store');
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

// Runs the daemon until it has recorded `decisions` inferences, then SIGTERM; resolves once it has shut down (exit 0).
async function runUntil(config: string, decisions: number): Promise<void> {
  const source = new EventEmitter();
  let failed: unknown;
  const exits: number[] = [];
  let seen = 0;
  const record = InferenceHistoryStore.prototype.record;
  const spy = vi.spyOn(InferenceHistoryStore.prototype, 'record').mockImplementation(function (this: InferenceHistoryStore, r) {
    if (++seen === decisions) source.emit('SIGTERM', 'SIGTERM');
    return record.call(this, r);
  });
  try {
    await new Promise<void>((resolve) => {
      runCommand({ config }, { source, exit: (code) => (exits.push(code), resolve()) }).catch((err: unknown) => ((failed = err), resolve()));
    });
  } finally {
    spy.mockRestore();
  }
  expect(failed).toBeUndefined();
  expect(exits).toEqual([0]);
}

// The times of the stored decisions and the stored replay position.
async function stored(): Promise<{ times: number[]; position: number | undefined }> {
  const store = LmdbStore.open({ path: storePath });
  try {
    const history = new InferenceHistoryStore(store, { retention: { maxRecords: 1e9, maxAgeMs: 1e15 }, archiveDir: path.join(root, 'archive'), archive: false });
    const times = history.bySymbol('ETH/USDT').map((r) => r.ts);
    return { times, position: replayResumeAfter(store) };
  } finally {
    await store.close();
  }
}

describe('cobalt run restarted on a replay', () => {
  it('goes on in time after where the last run got to: the second run records decisions after the first run\'s', async () => {
    const config = path.join(root, 'paper.yaml');
    writeFileSync(config, replayConfigYaml(root, { speed: 30, loop: true }));
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    vi.stubEnv('COBALT_LOG_PRETTY', '0');
    const first = await recordingStartMs(RECORDINGS);

    await runUntil(config, 20);
    const one = await stored();
    await runUntil(config, 20);
    const two = await stored();

    expect(one.times.length).toBeGreaterThanOrEqual(20);
    const lastOfOne = Math.max(...one.times);
    expect(one.position).toBeGreaterThan(lastOfOne);
    const added = two.times.filter((t) => t > one.position!);
    // The second run wrote only after the first run's bound: none of the first run's records was replaced.
    expect(added.length).toBeGreaterThanOrEqual(20);
    expect(two.times.length).toBe(one.times.length + added.length);
    expect(Math.min(...one.times)).toBeGreaterThanOrEqual(first);
    expect(two.position).toBeGreaterThan(Math.max(...two.times));
  }, 120_000);
});
