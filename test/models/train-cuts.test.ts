// Review finding (--from/--until): they were passed to the bdi trainer only, so `train cnn --input klines` and
// `train dqn --state env` trained on the whole file without a word. The kline input now applies the cut; options the
// chosen input cannot use are refused, naming them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CNN_TRAIN_DEFAULTS, cnnSamples } from '../../models/train/cnn.ts';

const ETH = 'data/klines/mintanam-ftrade_ETH_USDT-1m.csv.gz';
const MIN = 60_000;

const cli = (args: string[]) => promisify(execFile)('node', ['bin/cobalt.mjs', ...args], { env: { ...process.env, COBALT_LOG_LEVEL: 'silent' } });

describe('train data cuts', () => {
  it('cnn --input klines: reads no bar closing after --until and makes no decision before --from', async () => {
    const fromMs = Date.parse('2024-07-26T22:00:00Z'), untilMs = Date.parse('2024-07-27T00:00:00Z');
    const ds = await cnnSamples({ ...CNN_TRAIN_DEFAULTS, input: 'klines', data: [ETH], window: 16, stride: 1, fromMs, untilMs });
    const t = ds.openTimeMs;
    // The grid ends with the bar that closes at --until; the first decision is the bar closing at --from.
    expect(t[t.length - 1]! + MIN).toBe(untilMs);
    expect(t[ds.t0[0]!]! + MIN).toBe(fromMs);
    // The last label's time barrier is the last bar before --until.
    expect(ds.t0[ds.t0.length - 1]! + CNN_TRAIN_DEFAULTS.horizon).toBe(t.length - 1);
    // Stride 1: one decision per bar from the one closing at --from (opening 21:59) to the last with a full horizon.
    expect(ds.t0.length).toBe((untilMs - fromMs) / MIN + 1 - CNN_TRAIN_DEFAULTS.horizon);
  });

  it('cnn --input klines: with --last-bars, takes the newest bars before --until', async () => {
    const untilMs = Date.parse('2024-07-27T00:00:00Z');
    const ds = await cnnSamples({ ...CNN_TRAIN_DEFAULTS, input: 'klines', data: [ETH], window: 16, stride: 1, untilMs, lastBars: 200 });
    expect([ds.openTimeMs.length, ds.openTimeMs[0], ds.openTimeMs[199]! + MIN]).toEqual([200, untilMs - 200 * MIN, untilMs]);
  });

  // `--last-bars 2 --no-save`: should the refusal fail, the run stops at once on too few bars, and saves nothing.
  it.each([
    ['cnn --input klines --klines-dir', ['train', 'cnn', '--input', 'klines', '--data', ETH, '--klines-dir', 'data/klines'], /--klines-dir is for --input bdi/],
    ['dqn --state env --until', ['train', 'dqn', '--state', 'env', '--data', ETH, '--until', '2024-07-27T00:00:00Z'], /--until is for --state bdi/],
    ['dqn --state env --from --every --klines-dir', ['train', 'dqn', '--state', 'env', '--data', ETH, '--from', '2024-07-27', '--every', '5', '--klines-dir', 'x'],
      /--klines-dir, --from, --every are for --state bdi/],
  ])('refuses %s, naming the options', async (_name, args, message) => {
    const err = await cli([...args, '--last-bars', '2', '--no-save']).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(message);
  }, 60_000);
});
