// Review finding (online learning, CNN held-out reuse): the CNN learner started a run every retrainEveryMs whatever
// the new pairs, so with one pair a minute and hourly runs each run was judged on a held-out set sharing 240 of its
// 300 pairs with the previous one: every hour another draw of the gate on nearly the same data. After a run that
// scored a candidate the next now waits for `minNewPairs` new labelled pairs (default: that run's held-out count).
import { afterAll, describe, expect, it } from 'vitest';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { ModelRegistry } from '../../actors/orchestrator/registry.ts';
import type { LoadedCnn } from '../../app/models.ts';
import { OnlineLearning, type OnlineLearningOptions } from '../../app/online-learning.ts';
import { onlineSchema } from '../../engine/config/schema.ts';
import { createLogger } from '../../engine/log.ts';
import { CandleSeries } from '../../engine/market/candles.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { InferenceRecord } from '../../engine/store/inference-history.ts';
import { bundledCnnCheckpoint } from '../../models/bundled/index.ts';
import { cnnInputSize } from '../../models/cnn/config.ts';
import { readCnnWeights } from '../../models/cnn/weights-read.ts';
import type { CandidateTrainer } from '../../models/online/pipeline.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const MIN = 60_000;
const SYMBOL = 'ETH/USDT';
const FROM = Date.parse('2024-08-06T12:00:00Z');
const N = 300; // decision bars with a stored prediction, one a minute
const bundled = bundledCnnCheckpoint()!;
const cnn: LoadedCnn = { version: 'bundled', dir: bundled.dir, onnx: bundled.onnxPath, meta: bundled.meta, base: 'bundled', baseDir: bundled.dir, baseSha256: '' };
const root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-new-pairs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const bars = new CandleSeries('1m');
bars.pushAll(new KlinesArchive(['data/klines']).all(SYMBOL, '1m')
  .filter((c) => c.openTime >= FROM - 3 * 60 * MIN && c.openTime < FROM + (N + 60) * MIN).map((c) => ({ ...c, closed: true })));

// A stored prediction 10 s after each decision bar's close, its input the CNN's row with the bar's index in every
// cell (read back from the held-out rows the trainer gets). The evaluator reads none made after now.
async function historyOf(): Promise<OnlineLearningOptions['history']> {
  const size = cnnInputSize((await readCnnWeights(bundled.dir)).config);
  const records: InferenceRecord[] = Array.from({ length: N }, (_, k) => {
    const ts = FROM + (k + 1) * MIN + 10_000;
    return {
      model: 'cnn', symbol: SYMBOL, ts, input: { features: new Float32Array(size).fill(k), shape: [size], timeframe: '1m' },
      output: { model: 'cnn', version: 'bundled', symbol: SYMBOL, ts, action: 'HOLD', probabilities: [0.3, 0.3, 0.4], confidence: 0.4 },
    };
  });
  return {
    query: (model, symbol, range, limit) => records
      .filter((r) => r.model === model && r.symbol === symbol && r.ts >= (range?.from ?? -Infinity) && r.ts < (range?.to ?? Infinity))
      .slice(0, limit),
  };
}

interface Judged { readonly newest: number; readonly heldOut: number }

// A learner whose trainer scores every candidate just short of the gate (nothing is promoted, every run is judged),
// recording each run's held-out count and its newest pair's bar index.
async function learner(online: Record<string, unknown>): Promise<{ learner: OnlineLearning; clock: SimulatedClock; judged: Judged[] }> {
  const clock = new SimulatedClock(FROM);
  const registry = new ModelRegistry();
  registry.register('cnn', { version: 'bundled', run: async () => { throw new Error('not run here'); } }, clock.now());
  const judged: Judged[] = [];
  const trainer: CandidateTrainer = {
    train: async (t) => {
      const rows = t.heldOut.y.length;
      judged.push({ newest: t.heldOut.x[(rows - 1) * (t.heldOut.x.length / rows)]!, heldOut: rows });
      const live = { n: rows, accuracy: 0.5, logLoss: 1 };
      return { weights: [], live, candidate: { ...live, logLoss: 1.0005 }, candidateProbs: new Float32Array(), candidateHidden: new Float32Array(), losses: [], backend: 'stub' };
    },
    save: async () => {}, close: async () => {},
  };
  const settings = onlineSchema.parse({ enabled: true, pollMs: MIN, retrainEveryMs: MIN, maxPairs: 100, minTrain: 30, minHeldOut: 20, lookbackMs: 10 * 60 * MIN, ...online });
  const made = await OnlineLearning.create({
    settings, clock, logger: createLogger({ level: 'silent' }), registry, history: await historyOf(), symbol: SYMBOL,
    bars: () => bars, cnn, checkpointRoot: path.join(root, 'checkpoints'), activate: () => undefined,
    openPool: () => Promise.reject(new Error('no pool here')), trainer,
  }, []);
  if (!(made instanceof OnlineLearning)) throw new Error(`online learning is off: ${made.off}`);
  return { learner: made, clock, judged };
}

describe('the CNN learner after a judged run', () => {
  it('waits for as many new labelled pairs as that run held out, and says so on the dashboard row', async () => {
    const { learner: l, clock, judged } = await learner({});
    try {
      // The bundled CNN labels 30 bars ahead: a run needs ceil((30 + 30) / 0.7) = 86 pairs; one is labelled a minute.
      const statuses: string[] = [];
      for (let m = 0; m < 220; m++) {
        clock.advance(MIN);
        await l.poll();
        statuses.push(l.report().status);
      }
      expect(judged.length).toBeGreaterThanOrEqual(3);
      // Every run after the first came once the pairs labelled since the previous one were at least its held-out count:
      // the newest held-out pair moved on by that many bars.
      for (let i = 1; i < judged.length; i++) expect(judged[i]!.newest - judged[i - 1]!.newest).toBeGreaterThanOrEqual(judged[i - 1]!.heldOut);
      // Once maxPairs is reached the held-out set is 30 pairs: 30 minutes between runs, not one.
      expect(judged.at(-1)!.heldOut).toBe(30);
      expect(judged.at(-1)!.newest - judged.at(-2)!.newest).toBe(30);
      expect(statuses).toContainEqual(expect.stringMatching(/; the next run waits for 30 new labelled pairs \(29 so far\);/));
    } finally {
      await l.stop();
    }
  }, 60_000);

  it('waits for models.online.minNewPairs instead when set, and not at all at 0', async () => {
    const runsWith = async (minNewPairs: number): Promise<Judged[]> => {
      const { learner: l, clock, judged } = await learner({ minNewPairs });
      try {
        for (let m = 0; m < 160; m++) {
          clock.advance(MIN);
          await l.poll();
        }
        return judged;
      } finally {
        await l.stop();
      }
    };
    const five = await runsWith(5);
    expect(five.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < five.length; i++) expect(five[i]!.newest - five[i - 1]!.newest).toBe(5);
    const every = await runsWith(0);
    // Every retrainEveryMs (a minute), as before.
    for (let i = 1; i < every.length; i++) expect(every[i]!.newest - every[i - 1]!.newest).toBe(1);
    expect(every.length).toBeGreaterThan(five.length * 4);
  }, 60_000);

  it('takes a whole models.online.minNewPairs from 0 (no wait), unset by default', () => {
    expect(onlineSchema.safeParse({ minNewPairs: 0 }).success).toBe(true);
    expect(onlineSchema.safeParse({ minNewPairs: -1 }).success).toBe(false);
    expect(onlineSchema.safeParse({ minNewPairs: 2.5 }).success).toBe(false);
    expect(onlineSchema.parse({}).minNewPairs).toBeUndefined();
  });
});
