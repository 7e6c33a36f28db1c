// Holes in the 1m klines: the DQN trainers neither build a state across one nor let a position ride through one.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { BUY } from '../../models/labels/triple-barrier.ts';
import { loadAlignedKlines } from '../../models/train/dataset.ts';
import { buildDqnRows } from '../../models/train/dqn-bdi.ts';
import { BdiTradingEnv } from '../../models/train/dqn-bdi-env.ts';
import { DQN_TRAIN_DEFAULTS, GapFlatTradingEnv, trainDqn } from '../../models/train/dqn.ts';

const MIN = 60_000;
const KLINES = 'data/klines';
const ETH = 'mintanam-ftrade_ETH_USDT-1m.csv.gz';
const BTC = 'mintanam-ftrade_BTC_USDT-1m.csv.gz';
const tmp = mkdtempSync(path.join(tmpdir(), 'cobalt-dqn-gaps-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Copies a kline CSV without the bars opening in [fromMs, untilMs). */
function withHole(file: string, to: string, fromMs: number, untilMs: number): void {
  const lines = gunzipSync(readFileSync(path.join(KLINES, file))).toString('utf8').split('\n');
  const kept = lines.filter((l, i) => i === 0 || !(Number(l.split(',')[0]) >= fromMs && Number(l.split(',')[0]) < untilMs));
  writeFileSync(to, gzipSync(kept.join('\n')));
}

describe('DQN --state bdi rows at a hole in the 1m klines', () => {
  it('drops decisions whose 300-bar frame crosses the hole and marks the step across it, where the env holds no position', async () => {
    const dir = path.join(tmp, 'bdi');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    for (const f of ['moudux1-ft_userdata_ETH_USDT-1h.csv.gz', 'rocketalerts_ETHUSDT_1d.csv.gz']) symlinkSync(path.resolve(KLINES, f), path.join(dir, f));
    const holeFrom = Date.parse('2024-08-08T00:00:00Z'), holeUntil = Date.parse('2024-08-08T02:00:00Z');
    withHole(ETH, path.join(dir, ETH), holeFrom, holeUntil);
    const rows = await buildDqnRows({
      klinesDirs: [dir], everyMinutes: 5, cnn: 'none', closesScale: 100,
      fromMs: Date.parse('2024-08-07T23:30:00Z'), untilMs: Date.parse('2024-08-08T07:30:00Z'),
    });
    // Decisions at bar closes 02:05 … 06:55 read a frame reaching back into the hole (300 bars): 59 of them.
    expect(rows.droppedAtGaps).toBe(59);
    const t = Array.from(rows.barOpenMs);
    for (const b of t) expect(b < holeFrom || b - 299 * MIN >= holeUntil).toBe(true);
    // The only step that is not 5 minutes is the one across the hole, and it is the one marked.
    const across = t.flatMap((b, d) => (d + 1 < t.length && t[d + 1]! - b !== 5 * MIN ? [d] : []));
    expect(across).toHaveLength(1);
    expect(Array.from(rows.flatAtGaps)).toEqual(across);

    // Always BUY: equity follows the price inside each run of bars, never across the hole.
    const n = rows.price.length, d = across[0]!;
    const env = new BdiTradingEnv({ states: rows.states, stateSize: rows.states.length / n, price: rows.price, from: 0, to: n, feeRate: 0, flatAtGaps: rows.flatAtGaps });
    env.reset();
    let before = 1;
    for (let k = 0; k < n - 1; k++) {
      const r = env.step(BUY);
      const expected = k === d ? 1 : rows.price[k + 1]! / rows.price[k]!;
      expect(r.equity / before).toBeCloseTo(expected, 12);
      before = r.equity;
    }
  }, 60_000);
});

describe('DQN --state env at holes in the aligned klines', () => {
  it('reports bars lost to the inner join and the steps across holes, where it holds no position', async () => {
    const eth = path.join(tmp, ETH), btc = path.join(tmp, BTC);
    const holeFrom = Date.parse('2024-08-23T00:00:00Z');
    withHole(ETH, eth, 0, 0);
    withHole(BTC, btc, holeFrom, holeFrom + 30 * MIN);
    const aligned = loadAlignedKlines([eth, btc]);
    expect(aligned.unmatched).toBeGreaterThanOrEqual(30);
    const s = await trainDqn({ ...DQN_TRAIN_DEFAULTS, data: [eth, btc], lastBars: 5000, episodeLength: 300, episodes: 2, evalEvery: 2, maxSteps: 600, progress: false });
    expect(s.gaps).toEqual({ unmatchedBars: aligned.unmatched, flatAtGaps: 1 });
  }, 120_000);
});

describe('GapFlatTradingEnv', () => {
  it('holds no position over a step marked as crossing a hole, whatever the action', () => {
    const close = Array.from({ length: 40 }, (_, i) => (i <= 20 ? 100 + i : 200 + i));
    const env = new GapFlatTradingEnv(new Set([20]), { close, from: 10, to: 40, window: 5, volWindow: 5, feeRate: 0, mode: 'long-short' });
    env.reset();
    let before = 1;
    for (let t = 10; t < 39; t++) {
      const r = env.step(BUY);
      expect(r.position).toBe(t === 20 ? 0 : t === 38 ? 0 : 1);
      expect(r.equity / before).toBeCloseTo(t === 20 ? 1 : close[t + 1]! / close[t]!, 12);
      before = r.equity;
    }
  });
});
