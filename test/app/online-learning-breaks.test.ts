// The daemon's online learner follows breaks in the traded symbol's data on the bus (review of the looped replay,
// finding 3): an md.feedReset (a reconnect, a replay lap, a hole in a recording) opens a break that the symbol's next
// trade closes, and a prediction whose bars reach into it is dropped (stats.acrossReset), not labelled: in a looped
// replay the bars around a seam are archive klines of another day, and its labels, 30 bars ahead, would cross it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { ModelRegistry } from '../../actors/orchestrator/registry.ts';
import type { LoadedCnn } from '../../app/models.ts';
import { OnlineLearning } from '../../app/online-learning.ts';
import { onlineSchema } from '../../engine/config/schema.ts';
import { createLogger } from '../../engine/log.ts';
import { CandleSeries } from '../../engine/market/candles.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { InferenceHistoryStore } from '../../engine/store/inference-history.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { bundledCnnCheckpoint } from '../../models/bundled/index.ts';
import type { CandidateTrainer } from '../../models/online/pipeline.ts';

const MIN = 60_000;
const SYMBOL = 'ETH/USDT';
const FROM = Date.parse('2024-08-06T12:00:00Z');
const N = 90; // decision bars FROM + k·MIN, k = 0 … 89, one stored prediction each
const bundled = bundledCnnCheckpoint()!;
const cnn: LoadedCnn = { version: 'bundled', dir: bundled.dir, onnx: bundled.onnxPath, meta: bundled.meta, base: 'bundled', baseDir: bundled.dir, baseSha256: '' };
const idleTrainer: CandidateTrainer = { train: () => Promise.reject(new Error('this learner does not train')), save: async () => {}, close: async () => {} };
const root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-breaks-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Runs a learner over the stored predictions for 3 hours of engine time; `events` publishes on its bus after start.
async function learn(name: string, events: (bus: Bus<EngineMsg>) => void): Promise<OnlineLearning['stats']> {
  const store = LmdbStore.open({ path: path.join(root, name), noSync: true });
  const history = new InferenceHistoryStore(store, { retention: { maxRecords: 10_000, maxAgeMs: 1e12 }, archiveDir: path.join(root, 'archive'), archive: false });
  for (let k = 0; k < N; k++) {
    const ts = FROM + (k + 1) * MIN + 10_000;
    await history.record({
      model: 'cnn', symbol: SYMBOL, ts, input: { features: Float32Array.of(k), shape: [1], timeframe: '1m' },
      output: { model: 'cnn', version: 'bundled', symbol: SYMBOL, ts, action: 'HOLD', probabilities: [0.3, 0.3, 0.4], confidence: 0.4 },
    });
  }
  const bars = new CandleSeries('1m');
  bars.pushAll(new KlinesArchive(['data/klines']).all(SYMBOL, '1m').filter((c) => c.openTime >= FROM - 3 * 60 * MIN && c.openTime < FROM + 3 * 60 * MIN).map((c) => ({ ...c, closed: true })));
  const clock = new SimulatedClock(FROM);
  const bus = new Bus<EngineMsg>();
  const registry = new ModelRegistry();
  registry.register('cnn', { version: 'bundled', run: async () => { throw new Error('not run here'); } }, clock.now());
  const learner = await OnlineLearning.create({
    settings: onlineSchema.parse({ enabled: true }), clock, logger: createLogger({ level: 'silent' }), registry, history, symbol: SYMBOL,
    bars: () => bars, cnn, checkpointRoot: path.join(root, name, 'checkpoints'), activate: () => undefined,
    openPool: () => Promise.reject(new Error('no pool here')), trainer: idleTrainer, bus,
  }, []);
  if (!(learner instanceof OnlineLearning)) throw new Error(`online learning is off: ${learner.off}`);
  learner.start();
  events(bus);
  clock.set(FROM + 3 * 60 * MIN);
  await learner.stop();
  await store.close();
  return learner.stats;
}

const trade = (symbol: string, tsExchange: number): EngineMsg =>
  ({ type: 'md.trade', venue: 'binance', symbol, tsExchange, tsLocal: tsExchange, tradeId: 1, price: 1 as Ticks, lots: 1 as Lots, buyerMaker: false });

describe('online learning across breaks in the data', () => {
  it('drops the predictions whose bars reach into a reset of the traded symbol until its next trade, and counts them', async () => {
    const whole = await learn('whole', () => undefined);
    const broken = await learn('broken', (bus) => {
      bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: SYMBOL, reason: 'replay lap 2', ts: FROM + 50 * MIN + 30_000 });
      bus.publish(trade(SYMBOL, FROM + 52 * MIN + 10_000));
      // Another symbol's reset is not the traded symbol's break (taken as one, it would drop every prediction).
      bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: 'BTC/USDT', reason: 'replay lap 2', ts: FROM + 5 * MIN });
    });

    // The bundled CNN's rule (its train-report.json): σ over 60 bars, 30 ahead. Bars k − 60 … k + 30 meet bars 50 … 52
    // for k from 20; every prediction from k = 20 to 89 does.
    expect(whole).toMatchObject({ labelled: N, acrossReset: 0 });
    expect(broken).toMatchObject({ labelled: 20, acrossReset: N - 20 });
  }, 60_000);
});
