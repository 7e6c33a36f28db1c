import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { DataProvider } from '../../actors/data-provider/provider.ts';
import { BDI_LENGTH } from '../../engine/market/base-data-input.ts';
import type { Candle } from '../../engine/messages/market.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { timeframeMs, type Timeframe } from '../../engine/types/time.ts';
import { CNN_INPUT_SIZE, CNN_INPUT_SPEC, cnnInputMismatch, selectCnnInput } from '../../models/cnn/bdi-adapter.ts';
import { buildBdiDataset, DECISION_LAG_MS, MemoryKlines, type BdiSamples } from '../../models/train/bdi-dataset.ts';
import { CNN_TRAIN_DEFAULTS, trainCnn, type CnnTrainResult } from '../../models/train/cnn.ts';

const LABELS = { volWindow: 60, horizon: 30, ptMult: 2, slMult: 2 };
const archive = new KlinesArchive(['data/klines']);
const row = (ds: BdiSamples, i: number): Float32Array => {
  const out = new Float32Array(CNN_INPUT_SIZE);
  ds.write(i, out, 0);
  return out;
};

// What the running engine feeds the CNN at `now`: a DataProvider built as the engine builds it for recorded data
// (history from the kline archive of data/klines, BTC/USDT as reference), its BaseDataInput, then the adapter.
async function runtimeRow(now: number): Promise<Float32Array> {
  const provider = new DataProvider({ bus: new Bus(), clock: new SimulatedClock(now), history: new KlinesArchive(['data/klines']), maintenanceMs: 0 });
  await provider.start();
  provider.stop();
  return selectCnnInput(provider.assembleInput(new Float32Array(BDI_LENGTH)).data);
}

describe('BaseDataInput training rows (train/serve skew guard)', () => {
  it('equal the rows a DataProvider started from the kline archive packs at the same moment', async () => {
    // Decisions every 5 min over midnight UTC: the streamed replay rolls the day and the hours up from 1m bars, the
    // freshly started provider reads them from the 1h and 1d files, and both must give the same floats.
    const ds = await buildBdiDataset({
      klines: archive, everyMinutes: 5, labels: LABELS,
      fromMs: Date.parse('2024-08-07T23:40:00Z'), untilMs: Date.parse('2024-08-08T01:45:00Z'),
    });
    expect(ds.t0.length).toBeGreaterThan(10);
    const times = ['2024-08-07T23:40:10Z', '2024-08-08T00:00:10Z', '2024-08-08T00:05:10Z', '2024-08-08T01:00:10Z', '2024-08-08T01:05:10Z'].map(Date.parse);
    for (const t of times) {
      const i = ds.decisionMs.indexOf(t);
      expect(i, new Date(t).toISOString()).toBeGreaterThanOrEqual(0);
      // The decision bar is the 1m bar that closed DECISION_LAG_MS before the decision.
      expect(ds.openTimeMs[ds.t0[i]!]! + 60_000 + DECISION_LAG_MS).toBe(t);
      expect(row(ds, i), new Date(t).toISOString()).toEqual(await runtimeRow(t));
    }
  }, 60_000);

  it('read no bar that had not closed at the decision time, and do see the next bars once they have', async () => {
    const at = Date.parse('2024-08-08T00:05:10Z');
    const opts = { everyMinutes: 5, labels: LABELS, fromMs: Date.parse('2024-08-07T23:00:00Z'), untilMs: Date.parse('2024-08-08T01:00:00Z') };
    const data = new Map<string, Candle[]>();
    const changed = new Map<string, Candle[]>();
    for (const tf of ['1m', '1h', '1d'] as Timeframe[]) {
      const bars = archive.all('ETH/USDT', tf);
      data.set(`ETH/USDT ${tf}`, bars);
      // Every bar still open at `at` becomes a crash-and-spike with a huge volume: any peek would change the row.
      changed.set(`ETH/USDT ${tf}`, bars.map((c, k) => (c.openTime + timeframeMs(tf) <= at ? c : {
        ...c, open: c.open * (k % 2 ? 0.5 : 1.7), high: c.high * 1.8, low: c.low * 0.4, close: c.close * (k % 2 ? 0.5 : 1.7), volume: 1e9,
      })));
    }
    const a = await buildBdiDataset({ ...opts, klines: new MemoryKlines(data) });
    const b = await buildBdiDataset({ ...opts, klines: new MemoryKlines(changed) });
    const i = a.decisionMs.indexOf(at);
    expect(i).toBeGreaterThan(0);
    for (let k = 0; k <= i; k++) expect(row(b, k)).toEqual(row(a, k));
    expect(row(b, i + 1)).not.toEqual(row(a, i + 1));
  }, 60_000);
});

// A tiny walk-forward run on the bdi input: decisions in the newest 2000 1m bars before the recording starts.
const OPTS = {
  ...CNN_TRAIN_DEFAULTS, input: 'bdi' as const, klinesDirs: ['data/klines'], symbol: 'ETH/USDT', lastBars: 2000,
  untilMs: Date.parse('2024-08-08T23:00:00Z'), folds: 2, testFraction: 0.3, maxSteps: 3, batch: 16, channels: 4, progress: false,
};
let out: string;
let run: CnnTrainResult;

beforeAll(async () => {
  out = mkdtempSync(path.join(tmpdir(), 'cobalt-train-bdi-'));
  run = await trainCnn({ ...OPTS, out });
}, 180_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('cobalt train cnn --input bdi (tiny model, real klines)', () => {
  it('keeps every training label interval disjoint from its fold test window plus embargo', () => {
    const { dataset: ds, folds, embargo } = run;
    expect(embargo).toBe(OPTS.horizon);
    for (const f of folds) {
      expect(f.train.length).toBeGreaterThan(100);
      for (const i of f.train) {
        const disjoint = ds.t1[i]! < f.testStart || ds.t0[i]! > f.testEnd + embargo;
        expect(disjoint, `train sample ${i} [${ds.t0[i]}, ${ds.t1[i]}] vs test [${f.testStart}, ${f.testEnd}] + ${embargo}`).toBe(true);
      }
    }
    // Nothing at or after --until is read: the last label resolves before it.
    expect(ds.openTimeMs[ds.t1[ds.t1.length - 1]!]! + 60_000).toBeLessThanOrEqual(OPTS.untilMs);
  });

  it('saves a checkpoint whose metadata names the input the CNN agent feeds, with figures beside baselines', () => {
    const s = run.summary;
    expect(s.input).toEqual(CNN_INPUT_SPEC);
    expect(s.parity?.ok).toBe(true);
    expect(s.outOfSample.folds.map((f) => f.n)).toEqual(run.folds.map((f) => f.test.length));
    expect(s.baselines.majority.pooled.n).toBe(s.outOfSample.pooled.n);
    expect(s.model.config).toMatchObject({ seqLen: 300, features: 18, tailLen: 50, hidden: 32 });
    const meta = JSON.parse(readFileSync(path.join(s.checkpoint!.dir, 'checkpoint.json'), 'utf8'));
    // Review (45745c5): the training symbol is recorded where the loader reads it (app/models.ts).
    expect(meta.input).toEqual({ ...CNN_INPUT_SPEC, symbol: 'ETH/USDT' });
    expect(cnnInputMismatch(meta.input)).toBeUndefined();
    expect(meta.dataSpan.toMs).toBeLessThan(run.dataset.openTimeMs[run.folds[1]!.testStart]!);
    const report = JSON.parse(readFileSync(path.join(s.checkpoint!.dir, 'train-report.json'), 'utf8'));
    expect(report.features).toMatchObject({ kind: 'bdi-klines-v1', bdiSeries: ['primary1m', 'primary1h', 'primary1d'], bdiTail: ['pivots'], inputSize: CNN_INPUT_SIZE });
  });

  it('refuses a hidden size the BaseDataInput cannot carry', async () => {
    await expect(trainCnn({ ...OPTS, hidden: 8 })).rejects.toThrow(/--hidden must be 32/);
  });
});
