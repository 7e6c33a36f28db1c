// Review of `cobalt train cnn --input history` (commits 6473602, e2ebd8e): a store a replay wrote is refused (finding
// 1), a mistyped --store beside an archive directory is refused unless --archives-only (3), `history stats` prints
// the archive figures when store.path holds no store (3), and --from/--until of `train cnn|dqn` are parseTimeArg's (4).
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HistoryReader, openHistoryStore } from '../../../engine/store/history-reader.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import type { CnnTrainSummary } from '../../../models/train/cnn.ts';
import { replayRefusal } from '../../../models/train/history-dataset.ts';
import { cobalt, TINY } from './train-history-cli.ts';
import { SYMBOL, writeBdiHistory, type HistoryFixture } from '../../models/train/history-dataset-fixture.ts';

let h: HistoryFixture;
let replayed: string;
// Where the replay got to in the copy of the store: every record before it may be at a shifted time.
const REACHED = Date.parse('2024-08-08T11:00:00Z');
beforeAll(async () => {
  h = await writeBdiHistory();
  // What app/run.ts leaves in a store it replayed a recording into (actors/data-provider/replay.ts ReplayPosition).
  replayed = join(h.root, 'replayed');
  cpSync(h.storePath, replayed, { recursive: true });
  const store = LmdbStore.open({ path: replayed, noSync: true });
  await store.db<string, number>('replay.position').put('reachedMs', REACHED);
  await store.close();
}, 30_000);
afterAll(() => rmSync(h.root, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

const lines = (s: string): string[] => s.trim().split('\n');

describe('a store a replay of a recording wrote (finding 1)', () => {
  it('is refused in one line saying why and to train on the recording with --input bdi', async () => {
    const r = await cobalt('train', 'cnn', '--input', 'history', '--store', replayed, '--archive-dir', h.archiveDir, ...TINY, '--no-save');
    expect(r.code).toBe(1);
    expect(lines(r.err)).toHaveLength(1);
    expect(r.err).toContain(`store ${resolve(replayed)}: a replay of a recording wrote this history (up to 2024-08-08T11:00:00.000Z)`);
    expect(r.err).toContain('train on the recording itself with --input bdi');
  });

  it('is refused with --archives-only too: the store is still asked', async () => {
    const r = await cobalt('train', 'cnn', '--input', 'history', '--store', replayed, '--archive-dir', h.archiveDir, '--archives-only', ...TINY, '--no-save');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`store ${resolve(replayed)}: a replay of a recording wrote this history`);
  });

  it('is read from the replay\'s bound on: what a later live run recorded there', async () => {
    const store = openHistoryStore(replayed)!;
    let until: number | null | undefined;
    try {
      until = new HistoryReader(store, '').replayedUntil();
    } finally {
      await store.close();
    }
    expect(until).toBe(REACHED);
    expect([replayRefusal(until, REACHED), replayRefusal(until, REACHED - 1), replayRefusal(until, undefined), replayRefusal(null, REACHED)]
      .map((x) => x === undefined)).toEqual([true, false, false, false]);
  });
});

describe('a --store that holds no store beside an archive directory (finding 3)', () => {
  it('is refused naming why, unless --archives-only', async () => {
    const typo = join(h.root, 'stroe');
    const r = await cobalt('train', 'cnn', '--input', 'history', '--store', typo, '--archive-dir', h.archiveDir, ...TINY, '--no-save');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`--store: ${resolve(typo)} does not exist`);
    expect(r.err).toContain(`to train on the archive files in ${resolve(h.archiveDir)} alone, add --archives-only`);
  });

  it('with --archives-only, trains on the archive files alone', async () => {
    const r = await cobalt('train', 'cnn', '--input', 'history', '--archives-only', '--archive-dir', h.archiveDir, ...TINY, '--no-save', '--json');
    let archived = 0;
    for await (const _ of new HistoryReader(undefined, h.archiveDir).records({ symbol: SYMBOL, to: Date.parse('2024-08-08T13:00:00Z') })) archived++;
    expect(r.code).toBeUndefined();
    const s = JSON.parse(r.out) as CnnTrainSummary;
    expect(s.history?.counts.read).toBe(archived);
    expect(s.history?.counts.samples).toBeGreaterThan(0);
  }, 60_000);

  it('refuses --archives-only without --archive-dir', async () => {
    const r = await cobalt('train', 'cnn', '--input', 'history', '--archives-only', ...TINY, '--no-save');
    expect(r.code).toBe(1);
    expect(r.err).toContain('--archives-only needs --archive-dir <dir>');
  });
});

describe('cobalt history stats without an LMDB store at store.path (finding 3)', () => {
  it('says why in a line, then prints the archive figures, exit 0', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cobalt-history-stats-nostore-'));
    try {
      const cfg = join(empty, 'config.yaml');
      writeFileSync(cfg, `store:\n  path: ${empty}\n  archiveDir: ${h.archiveDir}\n`);
      const r = await cobalt('history', 'stats', '--config', cfg);
      expect(r.code).toBeUndefined();
      expect(lines(r.out)[0]).toBe(`no LMDB store at store.path ${resolve(empty)}: it is not an LMDB store (no data.mdb in it)`);
      expect(lines(r.out)[1]).toMatch(new RegExp(`^archive ${h.archiveDir}: [1-9]\\d* files, \\d+ bytes`));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('--from and --until of train cnn and dqn (finding 4)', () => {
  const nowhere = join(tmpdir(), 'cobalt-no-such-store');
  // Each run stops before any training: a missing store (cnn) or kline folder (dqn) once the times are taken.
  const cnn = ['train', 'cnn', '--input', 'history', '--store', nowhere, '--no-save'];
  const dqn = ['train', 'dqn', '--klines-dir', nowhere, '--no-save'];
  it.each([
    ['cnn', cnn], ['dqn', dqn],
  ])('%s: refuses a day not on the calendar, a zoneless date-time and epoch seconds, each in one line', async (name, base) => {
    const runs = [];
    for (const extra of [['--from', '2024-02-30'], ['--until', '2024-08-08T13:00'], ['--from', '1723111200']]) runs.push(await cobalt(...base, ...extra));
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1]);
    expect(runs.map((r) => lines(r.err).length)).toEqual([1, 1, 1]);
    expect(runs[0]!.err).toBe(`train ${name}: --from '2024-02-30' is not a date and time on the calendar (month 1-12, a day of that month, hour 0-23, minute and second 0-59)\n`);
    expect(runs[1]!.err).toContain(`train ${name}: --until '2024-08-08T13:00' is neither epoch milliseconds nor an ISO time with a zone`);
    expect(runs[2]!.err).toContain('outside 2000-2100: epoch seconds need three more digits');
  });

  it.each([['cnn', cnn], ['dqn', dqn]])('%s: takes epoch milliseconds and offsets as the instants they are', async (name, base) => {
    const r = await cobalt(...base, '--from', '1723111200000', '--until', '2024-08-08T12:00:00+02:00');
    expect(r.err).toBe(`train ${name}: --from 1723111200000 is not before --until 2024-08-08T12:00:00+02:00\n`);
  });
});
