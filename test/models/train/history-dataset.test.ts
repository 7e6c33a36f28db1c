import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Candle } from '../../../engine/messages/market.ts';
import { HistoryReader, openHistoryStore } from '../../../engine/store/history-reader.ts';
import type { LmdbStore } from '../../../engine/store/lmdb.ts';
import { CNN_INPUT_SIZE, selectCnnInput } from '../../../models/cnn/bdi-adapter.ts';
import { BUY, HOLD, SELL } from '../../../models/labels/triple-barrier.ts';
import { buildBdiDataset, MemoryKlines } from '../../../models/train/bdi-dataset.ts';
import { buildHistoryDataset, type HistoryDatasetOptions, type HistorySamples } from '../../../models/train/history-dataset.ts';
import { decisionAt, FROM, klines, LABELS, SYMBOL, writeBdiHistory, type HistoryFixture } from './history-dataset-fixture.ts';

const MIN = 60_000;
/** Records at 13:00 and later are not read; decisions after 12:30:10 have no bar at t0 + horizon before it. */
const UNTIL = Date.parse('2024-08-08T13:00:00Z');
let h: HistoryFixture;
let store: LmdbStore;
beforeAll(async () => {
  h = await writeBdiHistory();
  store = openHistoryStore(h.storePath)!;
}, 30_000);
afterAll(async () => {
  await store?.close();
  rmSync(h.root, { recursive: true, force: true });
});

const build = (o: Partial<HistoryDatasetOptions> = {}): Promise<HistorySamples> => buildHistoryDataset({
  reader: new HistoryReader(store, h.archiveDir), klines, symbol: SYMBOL, labels: LABELS, everyMinutes: 5, untilMs: UNTIL, ...o,
});
const row = (ds: { write(i: number, out: Float32Array, o: number): void }, i: number): Float32Array => {
  const out = new Float32Array(CNN_INPUT_SIZE);
  ds.write(i, out, 0);
  return out;
};

// Triple barrier by hand, from the kline rows, for a record made at `ts` (decision bar: the last 1m bar closed by ts).
function labelByHand(bars: readonly Candle[], ts: number): number {
  const t = bars.findIndex((c) => c.openTime === Math.floor(ts / MIN) * MIN - MIN);
  const r = Array.from({ length: LABELS.volWindow }, (_, k) => Math.log(bars[t - k]!.close / bars[t - k - 1]!.close));
  const mean = r.reduce((a, b) => a + b, 0) / r.length;
  const sigma = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
  const c = bars[t]!.close;
  for (let j = t + 1; j <= t + LABELS.horizon; j++) {
    const up = bars[j]!.high >= c * (1 + LABELS.ptMult * sigma), down = bars[j]!.low <= c * (1 - LABELS.slMult * sigma);
    if (up && down) return HOLD;
    if (up || down) return up ? BUY : SELL;
  }
  return HOLD;
}

describe('CNN samples from the inference history', () => {
  it('counts every record read: one sample per decision, the rest dropped or off the grid, and the span', async () => {
    const ds = await build();
    // Read: decisions 0..35 (before 13:00), five records each; labelled: 0..30 (t0 + horizon closes by 13:00).
    expect(ds.history.counts).toEqual({
      read: 36 * 5, wrongShape: 36, duplicate: 36, offGrid: 72, noLabel: 5, atGaps: 0, samples: 31, storedCopies: 0, badLines: 0, unreadableArchives: 0,
    });
    expect(ds.history.wrongShapes).toEqual({ 'aux [85]': 36 });
    expect(ds.history.span).toMatchObject({ fromMs: decisionAt(0), toMs: decisionAt(35) + MIN });
    expect(Array.from(ds.recordTs)).toEqual(Array.from({ length: 31 }, (_, i) => decisionAt(i)));
    expect(ds.input.kind).toBe('bdi-klines-v1');
  });

  it('gives each record the CNN columns of its BaseDataInput and the label of the bdi trainer at the same decision', async () => {
    const ds = await build();
    const bdi = await buildBdiDataset({ klines, symbol: SYMBOL, everyMinutes: 5, labels: LABELS, fromMs: FROM, untilMs: UNTIL });
    const bars = klines.all(SYMBOL, '1m');
    expect(Array.from(bdi.decisionMs)).toEqual(Array.from(ds.recordTs));
    expect(Array.from(ds.label)).toEqual(Array.from(bdi.label));
    expect(Array.from(ds.t0, (t) => ds.openTimeMs[t])).toEqual(Array.from(bdi.t0, (t) => bdi.openTimeMs[t]));
    expect(Array.from(ds.t1, (t) => ds.openTimeMs[t])).toEqual(Array.from(bdi.t1, (t) => bdi.openTimeMs[t]));
    for (const i of [0, 17, 30]) {
      expect(row(ds, i)).toEqual(selectCnnInput(h.bdis[i]!));
      expect(row(ds, i)).toEqual(row(bdi, i));
      expect(ds.label[i]).toBe(labelByHand(bars, decisionAt(i)));
    }
    // Not all one class: the comparison above means something.
    expect(new Set(ds.label).size).toBeGreaterThan(1);
  });

  it('reads the archives too; without them, only what LMDB still holds', async () => {
    const lmdbOnly = await buildHistoryDataset({ reader: new HistoryReader(store, ''), klines, symbol: SYMBOL, labels: LABELS, everyMinutes: 5, untilMs: UNTIL });
    // Retention kept the newest 25 records of each series: dqn's and aux's of decisions 15..39, cnn's of 32..39 and
    // the last of 31. Before 13:00: 21 + 21 + 13 records; labelled: the dqn copies of 15..30.
    expect(lmdbOnly.history.counts).toMatchObject({ read: 55, samples: 16 });
    expect(Array.from(lmdbOnly.recordTs)).toEqual(Array.from({ length: 16 }, (_, i) => decisionAt(15 + i)));
  });

  it('takes the first model\'s copy of a tick, and keeps a tick whose first copy had the wrong shape', async () => {
    const cnn = await build({ model: 'cnn' });
    const dqn = await build({ model: 'dqn' });
    expect(cnn.history.counts).toMatchObject({ read: 36 * 3, duplicate: 0, offGrid: 72, wrongShape: 0, samples: 31 });
    expect(dqn.history.counts).toMatchObject({ read: 36, duplicate: 0, offGrid: 0, samples: 31 });
    expect(Array.from(dqn.label)).toEqual(Array.from(cnn.label));
  });

  it('refuses records that are not BaseDataInputs, naming the model, its shape and the expected one', async () => {
    await expect(build({ model: 'aux' })).rejects.toThrow(/the 36 history records of ETH\/USDT by model aux are not BaseDataInputs: found aux \[85\] × 36; the CNN trains on the BaseDataInput \[\d+\]/);
  });

  it('drops and counts the records whose σ window or horizon crosses a hole in the klines', async () => {
    // Remove the bar opening at 11:02: the decisions whose bars [t0 − 60, t0 + 30] hold it are dropped.
    const hole = Date.parse('2024-08-08T11:02:00Z');
    const bars = new Map([[`${SYMBOL} 1m`, klines.all(SYMBOL, '1m').filter((c) => c.openTime !== hole)]]);
    const ds = await build({ klines: new MemoryKlines(bars) });
    const crossing = Array.from({ length: 31 }, (_, i) => decisionAt(i)).filter((d) => {
      const t0 = Math.floor(d / MIN) * MIN - MIN;
      return hole >= t0 - LABELS.volWindow * MIN && hole <= t0 + LABELS.horizon * MIN;
    });
    expect(crossing.length).toBeGreaterThan(5);
    expect(ds.history.counts.atGaps).toBe(crossing.length);
    expect(ds.gapDropped).toBe(crossing.length);
    expect(ds.history.counts.samples).toBe(31 - crossing.length);
    expect(Array.from(ds.recordTs).some((ts) => crossing.includes(ts))).toBe(false);
  });
});
