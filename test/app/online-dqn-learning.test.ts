// The daemon's online learning of the DQN (app/online-dqn.ts) on real data: DQN decisions stored in a real inference
// history the way the orchestrator stores them (BaseDataInputs packed by the DataProvider from the real ETH 1m klines,
// the bundled CNN's same-tick outputs fed in, the bundled DQN's answer; two per decision time), read back one per
// decision time, fine-tuned from the bundled DQN in the worker thread, refused or promoted with the figures in the log,
// and loaded again by a restart (app/models.ts). The window (2024-08-10) lies after every bar the bundled DQN was
// trained or validated on (its data ends 2024-08-08 23:00).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KlinesArchive } from '../../actors/data-provider/klines-archive.ts';
import { cnnRunner } from '../../actors/model-agents/cnn-agent.ts';
import { rlRunner } from '../../actors/model-agents/rl-agent.ts';
import { feedModelOutputs } from '../../actors/orchestrator/coordinator.ts';
import { ModelRegistry, type ModelRunner } from '../../actors/orchestrator/registry.ts';
import { dashboardProviders } from '../../app/dashboard-providers.ts';
import { DQN_WEIGHTS_FILE, loadModels, ONLINE_VERSION_PREFIX, onlineCheckpointRoot, type LoadedDqn } from '../../app/models.ts';
import { OnlineDqnLearning, onlineDqnFor, READ_SLICE, type OnlineDqnOptions } from '../../app/online-dqn.ts';
import { OnlineLearning, type OnlineOff } from '../../app/online-learning.ts';
import { recordRollbacks, RETIRED_FILE } from '../../app/online-rollbacks.ts';
import { buildSystem } from '../../app/system.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { onlineSchema, type Config } from '../../engine/config/schema.ts';
import { createLogger } from '../../engine/log.ts';
import { CandleSeries } from '../../engine/market/candles.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { ModelOutput } from '../../engine/messages/signals.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { InferenceHistoryStore } from '../../engine/store/inference-history.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { bundledCnnCheckpoint, bundledDqnCheckpoint } from '../../models/bundled/index.ts';
import { loadDqn } from '../../models/dqn/io.ts';
import type { DqnFineTuneSpec } from '../../models/online/dqn-finetune.ts';
import { dqnWorkerTrainer, type DqnLearnSettings, type DqnTrainer } from '../../models/online/dqn-pipeline.ts';
import { DECISION_LAG_MS, replayBaseDataInputs } from '../../models/train/bdi-dataset.ts';
import { ortCnnPort } from '../../models/train/dqn-bdi.ts';
import { dqnStateBuilder, dqnStateOf, fileSha256 } from '../../models/train/dqn-state.ts';
import { RECORDINGS } from '../e2e/helpers.ts';
import { startOnClock } from '../e2e/live-driver.ts';

const MIN = 60_000;
const EVERY = 5 * MIN; // the bundled DQN decides every 5 minutes
const SYMBOL = 'ETH/USDT';
const N = 288; // decision times with stored decisions: a day
const FROM = Date.parse('2024-08-10T00:00:00Z');
const bundledCnn = bundledCnnCheckpoint()!;
const bundled = bundledDqnCheckpoint()!;
const BASE = `bundled-${bundled.meta.version}`;
const BASE_SHA = fileSha256(path.join(bundled.dir, DQN_WEIGHTS_FILE));
const dqn: LoadedDqn = { version: BASE, dir: bundled.dir, meta: bundled.meta, base: BASE, baseSha256: BASE_SHA, requires: ['cnn'], dependsOn: ['cnn'] };
const at = (k: number): number => FROM + (k + 1) * EVERY; // decision time k: the close of its bar

let root: string;
let store: LmdbStore;
let history: InferenceHistoryStore;
let bars: CandleSeries;
let config: Config;
/** The state the bundled DQN's builder makes of each stored input, and the close of each decision bar. */
let states: Float32Array[];
let closes: number[];
let cnnOut: ModelOutput;

// Two stored decisions per decision time, 10 s and 40 s after its bar closed, as the orchestrator records them.
beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'cobalt-online-dqn-'));
  store = LmdbStore.open({ path: path.join(root, 'db'), noSync: true });
  history = new InferenceHistoryStore(store, { retention: { maxRecords: 10_000, maxAgeMs: 365 * 86_400_000 }, archiveDir: path.join(root, 'archive') });
  const archive = new KlinesArchive(['data/klines']);
  const all = archive.all(SYMBOL, '1m');
  const grid = all.filter((c) => c.openTime + MIN <= at(N));
  bars = new CandleSeries('1m');
  bars.pushAll(all.filter((c) => c.openTime >= FROM - 60 * MIN && c.openTime < at(N) + 30 * MIN).map((c) => ({ ...c, closed: true })));
  const byOpen = new Map(all.map((c) => [c.openTime, c.close]));
  const decisionMs = Float64Array.from({ length: N }, (_, k) => at(k) + DECISION_LAG_MS);
  const port = await ortCnnPort(bundledCnn.onnxPath);
  const cnn = cnnRunner({ pool: port, checkpoint: bundledCnn.meta });
  const agent = loadDqn(bundled.dir);
  const build = dqnStateBuilder(dqnStateOf(bundled.meta.input));
  const dqnRun = rlRunner({ q: agent, state: build, stateSize: agent.config.stateSize, requires: ['cnn'] });
  states = [];
  closes = [];
  try {
    await replayBaseDataInputs(archive, SYMBOL, grid, decisionMs, 120, async (bdi, d) => {
      for (const lag of [0, 30_000]) {
        const ts = decisionMs[d]! + lag;
        cnnOut = await cnn(bdi, { model: 'cnn', version: 'bundled-v000001', symbol: SYMBOL, ts, deps: new Map() });
        const input = feedModelOutputs(bdi, new Map([['cnn', cnnOut]]));
        const output = await dqnRun(input, { model: 'dqn', version: BASE, symbol: SYMBOL, ts, deps: new Map([['cnn', cnnOut]]) });
        if (lag === 0) {
          states.push(build(input));
          closes.push(byOpen.get(at(d) - MIN)!);
        }
        await history.record({ model: 'dqn', symbol: SYMBOL, ts, input: { features: input, shape: [input.length], timeframe: '1s' }, output });
      }
    });
  } finally {
    await port.release();
  }
  config = loadConfig('configs/default.yaml', {}).config;
  config = { ...config, models: { ...config.models, checkpointDir: path.join(root, 'checkpoints') } };
}, 180_000);

afterAll(async () => {
  await store?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const logged: { level: number; msg: string; model?: string; live?: { return: number }; candidate?: { return: number } }[] = [];
const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) } });
const stubRunner: ModelRunner = async (_x, ctx) => ({ model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: 'HOLD', probabilities: [0, 0, 1], confidence: 1 });

function learnerOptions(clock: SimulatedClock, registry: ModelRegistry, dqnSettings: Partial<Config['models']['online']['dqn'] & DqnLearnSettings>, trainer?: DqnTrainer): OnlineDqnOptions {
  const online = { ...config.models.online, enabled: true, dqn: { ...config.models.online.dqn, lookbackMs: (N + 12) * EVERY, retrainEveryMs: 60_000, ...dqnSettings } };
  return {
    settings: online, clock, logger, registry, history, symbol: SYMBOL, bars: () => bars, dqn, checkpointRoot: onlineCheckpointRoot(config),
    activate: (m, v) => void registry.activate(m, v, clock.now()), ...(trainer ? { trainer } : {}),
  };
}

function learning(x: OnlineDqnLearning | OnlineOff): OnlineDqnLearning {
  if (!(x instanceof OnlineDqnLearning)) throw new Error(`online learning of the DQN is off: ${x.off}`);
  return x;
}

// A trainer that records what it is asked and trains nothing.
function recorder(): DqnTrainer & { specs: DqnFineTuneSpec[] } {
  const specs: DqnFineTuneSpec[] = [];
  return { specs, train: (spec) => { specs.push(spec); return Promise.reject(new Error('recorded only')); }, close: async () => {} };
}

function setup(clockAt = at(N) + 2 * MIN) {
  const clock = new SimulatedClock(clockAt);
  const registry = new ModelRegistry();
  registry.register('cnn', { version: 'bundled-v000001', run: stubRunner }, clock.now());
  registry.register('dqn', { version: BASE, run: stubRunner, dependsOn: ['cnn'] }, clock.now());
  return { clock, registry };
}

const trade = (tsExchange: number): EngineMsg =>
  ({ type: 'md.trade', venue: 'binance', symbol: SYMBOL, tsExchange, tsLocal: tsExchange, tradeId: 1, price: 1 as Ticks, lots: 1 as Lots, buyerMaker: false });

describe('online learning of the DQN in the daemon', () => {
  it('reads one decision per decision time: the first stored one, its state built by the checkpoint, the decision bar\'s close', async () => {
    const { clock, registry } = setup();
    const trainer = recorder();
    const learner = learning(OnlineDqnLearning.create(learnerOptions(clock, registry, {}, trainer)));
    try {
      expect(learner.everyMinutes).toBe(5);
      expect(learner.costs).toEqual({ feeRate: 0.001, rewardScale: 100, from: 'fee from meta.json, reward scale from the trainer\'s default' });
      clock.advance(60_000);
      await learner.poll();
      expect(learner.stats).toMatchObject({ read: N, decisions: N, missingBars: 0, acrossBreak: 0, runs: 1, failures: 1 });
      // The newest 30 % held out (86), the rest train, in one unbroken run each.
      const [spec] = trainer.specs;
      expect([spec!.train.length, spec!.heldOut.length]).toEqual([1, 1]);
      const held = Math.floor(N * 0.3);
      expect(Array.from(spec!.train[0]!.price)).toEqual(closes.slice(0, N - held));
      expect(Array.from(spec!.heldOut[0]!.price)).toEqual(closes.slice(N - held));
      expect(spec!.train[0]!.states.subarray(7 * 85, 8 * 85)).toEqual(states[7]);
      expect(spec!.heldOut[0]!.states.subarray(0, 85)).toEqual(states[N - held]);
      // The checkpoint's fee and reward scale; the fine-tune's learning rate a tenth of the live network's.
      expect(spec).toMatchObject({ feeRate: 0.001, rewardScale: 100, learningRate: 1e-4, episodeLength: 48 });
    } finally {
      await learner.stop();
    }
  });

  it('reads the backlog a few records per turn of the event loop', async () => {
    const { clock, registry } = setup();
    let queries = 0;
    const counted: OnlineDqnOptions['history'] = { query: (...args) => { queries++; return history.query(...args); } };
    const learner = learning(OnlineDqnLearning.create({ ...learnerOptions(clock, registry, {}, recorder()), history: counted }));
    try {
      clock.advance(60_000);
      const perTurn: number[] = [];
      let seen = 0, reading = true;
      const sample = (): void => {
        perTurn.push(queries - seen);
        seen = queries;
        if (reading) setImmediate(sample);
      };
      setImmediate(sample);
      await learner.poll();
      reading = false;
      // One more turn: the last sample takes what the poll read after the one before.
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(learner.stats).toMatchObject({ read: N, decisions: N });
      expect(perTurn.reduce((a, b) => a + b, 0)).toBe(queries);
      // Every decision time of the lookback whose bar is in the series is looked up: the N stored ones and a few before.
      expect(queries).toBeGreaterThanOrEqual(N);
      expect(Math.max(...perTurn)).toBeLessThanOrEqual(READ_SLICE);
    } finally {
      await learner.stop();
    }
  });

  it('keeps a decision whose 1m bar is not in the series yet and reads it once the bar is there; gives up past the series\' span', async () => {
    const { clock, registry } = setup();
    let ready = false;
    const learner = learning(OnlineDqnLearning.create({ ...learnerOptions(clock, registry, {}, recorder()), bars: () => (ready ? bars : undefined) }));
    try {
      clock.advance(60_000);
      await learner.poll();
      // The lookback's decision times: the N stored ones, the 11 before them and the newest (at(N), none stored).
      expect(learner.stats).toMatchObject({ read: 0, decisions: 0, pendingBars: N + 12, missingBars: 0 });
      ready = true;
      clock.advance(60_000);
      await learner.poll();
      // The 6 oldest decision times of the lookback lie before the series' first bar: they wait until they leave its span.
      expect(learner.stats).toMatchObject({ read: N, decisions: N, pendingBars: 6, missingBars: 0 });
    } finally {
      await learner.stop();
    }
    // The series never comes back: each decision is given up once its bar is older than the lookback.
    const later = setup();
    const never = learning(OnlineDqnLearning.create({ ...learnerOptions(later.clock, later.registry, {}, recorder()), bars: () => undefined }));
    try {
      later.clock.advance(60_000);
      await never.poll();
      later.clock.advance(100 * EVERY);
      await never.poll();
      // 100 decision times left the lookback: the 11 before the first stored decision and stored ones 0 … 88, given up
      // (counted where a decision was stored); 100 newer ones joined the wait.
      expect(never.stats).toMatchObject({ read: 0, decisions: 0, missingBars: 89, pendingBars: N + 12 });
    } finally {
      await never.stop();
    }
  });

  it('waits for as many new decisions as the last scored run held out before the next run', async () => {
    const { clock, registry } = setup(at(200) + 2 * MIN);
    // A fine-tune that scores both networks flat: a verdict, no promotion.
    const specs: DqnFineTuneSpec[] = [];
    const flat: DqnTrainer = {
      train: async (spec) => {
        specs.push(spec);
        const steps = spec.heldOut.reduce((n, seg) => n + seg.price.length - 1, 0);
        const score = { return: 0, fees: 0, trades: 0, exposure: 0, steps };
        return { params: spec.params, live: score, candidate: score, episodes: 1, envSteps: 1, gradSteps: 1, liveSteps: new Float64Array(steps), candidateSteps: new Float64Array(steps) };
      },
      close: async () => {},
    };
    const learner = learning(OnlineDqnLearning.create(learnerOptions(clock, registry, {}, flat)));
    try {
      clock.advance(60_000);
      expect(await learner.poll()).toMatchObject({ promoted: false, heldOutDecisions: 60 });
      clock.advance(59 * EVERY);
      expect(await learner.poll()).toBeUndefined();
      expect(learner.stats).toMatchObject({ read: 260, runs: 1 });
      expect(learner.report().status).toMatch(/; the next run waits for 60 new decisions \(59 so far\);/);
      clock.advance(EVERY);
      expect(await learner.poll()).toMatchObject({ promoted: false });
      expect(learner.stats.runs).toBe(2);
      // The first run (decisions 0 … 200) held out 141 … 200; the second's newest 60 held out are the 60 read since.
      expect(specs[0]!.heldOut.flatMap((seg) => Array.from(seg.price))).toEqual(closes.slice(141, 201));
      expect(specs[1]!.heldOut.flatMap((seg) => Array.from(seg.price)).slice(-60)).toEqual(closes.slice(201, 261));
    } finally {
      await learner.stop();
    }
  });

  it('is off at start when the settings could never take a gradient step', () => {
    const { clock, registry } = setup();
    const off = OnlineDqnLearning.create(learnerOptions(clock, registry, { episodes: 5 }, recorder()));
    expect(off).toEqual({ off: expect.stringMatching(/^models\.online\.dqn can never train dqn@bundled-v\d+: the fine-tune can take at most min\(maxSteps 10000, episodes 5 × episodeLength 48\) = 240 environment steps, not more than learningStarts \d+ \+ batch \d+/) });
  });

  it('splits the decisions at a break of the data and drops those whose state reads a bar in it', async () => {
    const { clock, registry } = setup();
    const trainer = recorder();
    const bus = new Bus<EngineMsg>();
    const learner = learning(OnlineDqnLearning.create({ ...learnerOptions(clock, registry, {}, trainer), bus }));
    try {
      learner.start();
      // A reset 30 s after decision time 99 until a trade 10 min later: decisions 100 … 107 read a bar inside it.
      bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: SYMBOL, reason: 'reconnect', ts: at(99) + 30_000 });
      bus.publish(trade(at(101) + 10_000));
      bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: 'BTC/USDT', reason: 'reconnect', ts: at(10) }); // another symbol's
      clock.advance(60_000);
      await learner.poll();
      expect(learner.stats).toMatchObject({ read: N - 8, acrossBreak: 8 });
      const [spec] = trainer.specs;
      expect(spec!.train.map((s) => s.price.length)).toEqual([100, 280 - Math.floor(280 * 0.3) - 100]);
      expect(learner.report().status).toMatch(/^learning dqn@bundled-v000001 from 280 decisions \(one every 5 min, 2 unbroken runs\);/);
    } finally {
      await learner.stop();
    }
  });

  it('fine-tunes the bundled DQN in the worker thread, refuses or promotes by the held-out return, and a restart loads the promoted version', async () => {
    const worker = dqnWorkerTrainer();
    // Both learners share one thread; it is closed here, not by their stop.
    const shared: DqnTrainer = { train: (spec) => worker.train(spec), close: async () => {} };
    try {
      // A short fine-tune that trades less badly than the live network but still loses against flat: refused.
      const first = setup();
      const refusing = learning(OnlineDqnLearning.create(learnerOptions(first.clock, first.registry, { maxSteps: 2000, learningRate: 1e-4 }, shared)));
      first.clock.advance(60_000);
      const refused = await refusing.poll();
      await refusing.stop();
      expect(refused).toMatchObject({ promoted: false, trainDecisions: 202, heldOutDecisions: 86 });
      expect(refused!.candidate!.return).toBeGreaterThan(refused!.live!.return);
      expect(refused!.candidate!.return).toBeLessThan(0);
      expect(refused!.reason).toMatch(/^held-out return -\d\.\d{3}% vs live -\d\.\d{3}% \(flat 0%\): worse than flat$/);
      expect(first.registry.active('dqn')!.version).toBe(BASE);
      expect(existsSync(path.join(onlineCheckpointRoot(config), 'dqn'))).toBe(false);
      const refusal = logged.filter((l) => l.msg.startsWith('online learning: dqn candidate not promoted')).at(-1);
      expect(refusal).toMatchObject({ model: 'dqn', live: refused!.live, candidate: refused!.candidate });
      expect(refusing.report().status).toMatch(/; last run \d\d:\d\d:\d\d UTC kept the live version: held-out return .*: worse than flat; 1 runs, 0 promoted, 0 failed$/);

      // A longer step size: the candidate stops trading on the held-out day (0 % against the live -1.41 %). The old
      // rule promoted that; the gate refuses a candidate that does not trade.
      const strict = setup();
      const flat = learning(OnlineDqnLearning.create(learnerOptions(strict.clock, strict.registry, { maxSteps: 2000, learningRate: 3e-4 }, shared)));
      strict.clock.advance(60_000);
      const notTrading = await flat.poll();
      await flat.stop();
      expect(notTrading).toMatchObject({ promoted: false, candidate: { return: 0, trades: 0 } });
      expect(notTrading!.reason).toMatch(/^held-out return 0\.000% vs live -1\.411% \(flat 0%\): the candidate made 0 trades < minTrades 2$/);

      // The promotion itself (checkpoint, registration, restart, rollback), with the gate loosened to let that one through.
      const second = setup();
      const loose = { minTrades: 0, minExposure: 0, confidence: 0.5 };
      const promoting = learning(OnlineDqnLearning.create(learnerOptions(second.clock, second.registry, { maxSteps: 2000, learningRate: 3e-4, ...loose }, shared)));
      second.clock.advance(60_000);
      const run = await promoting.poll();
      await promoting.stop();
      const version = `${ONLINE_VERSION_PREFIX}v000001`;
      expect(run).toMatchObject({ promoted: true, version });
      expect(run!.candidate!.return).toBeGreaterThanOrEqual(0);
      expect(run!.candidate!.return - run!.live!.return).toBeGreaterThan(0.001);
      expect(logged.find((l) => l.msg.startsWith(`online learning: dqn candidate promoted as ${version}`))).toMatchObject({ live: run!.live, candidate: run!.candidate });
      expect(second.registry.active('dqn')!.version).toBe(version);
      expect(second.registry.list().find((m) => m.name === 'dqn')).toMatchObject({ rollbackTo: [BASE], dependsOn: ['cnn'] });
      const provenance = JSON.parse(readFileSync(path.join(run!.checkpointDir!, 'online.json'), 'utf8')) as Record<string, unknown>;
      expect(provenance).toMatchObject({
        base: BASE, baseSha256: BASE_SHA, parent: BASE, trainDecisions: 202, heldOutDecisions: 86, live: run!.live, candidate: run!.candidate, flat: 0,
        feeRate: 0.001, rewardScale: 100, everyMinutes: 5,
        span: { train: { fromMs: at(0) - MIN, toMs: at(201) - MIN }, heldOut: { fromMs: at(202) - MIN, toMs: at(N - 1) - MIN } },
      });
      expect(JSON.parse(readFileSync(path.join(run!.checkpointDir!, 'checkpoint.json'), 'utf8'))).toMatchObject({ model: 'dqn', input: bundled.meta.input });

      // The promoted version answers on a stored input beside the CNN's same-tick output.
      const [rec] = history.query('dqn', SYMBOL, {}, 1);
      const deps = new Map([['cnn', cnnOut]]);
      const out = await second.registry.active('dqn')!.run(rec!.input.features, { model: 'dqn', version, symbol: SYMBOL, ts: second.clock.now(), deps });
      expect(out.version).toBe(version);

      // A restart runs the promoted version over the bundled one it descends from, the bundled one as its rollback.
      const withDqn = { ...config, models: { ...config.models, poolThreads: 1, online: { ...config.models.online, enabled: true } } };
      const again = await loadModels(withDqn, second.clock, logger);
      try {
        expect(again.loaded).toContain(`dqn@${version}`);
        expect(again.dqn).toMatchObject({ version, dir: run!.checkpointDir, base: BASE, baseSha256: BASE_SHA, parent: { version: BASE, dir: bundled.dir }, requires: ['cnn'] });
        expect(again.registry.list().find((m) => m.name === 'dqn')).toMatchObject({ active: version, rollbackTo: [BASE] });
        expect(again.cnnBound).toEqual([`dqn@${version}`]);
        const restarted = await again.registry.active('dqn')!.run(rec!.input.features, { model: 'dqn', version, symbol: SYMBOL, ts: second.clock.now(), deps });
        expect(restarted.probabilities).toEqual(out.probabilities);
      } finally {
        await again.pool?.close();
      }

      // An operator rolls it back: marked retired, and the next restart runs the bundled DQN.
      const bus = new Bus<EngineMsg>();
      const rollbacks = recordRollbacks({ bus, clock: second.clock, logger, root: onlineCheckpointRoot(config), versionPrefix: ONLINE_VERSION_PREFIX });
      const status = second.registry.rollback('dqn', second.clock.now());
      bus.publish(status);
      await rollbacks.idle();
      rollbacks.stop();
      expect(JSON.parse(readFileSync(path.join(run!.checkpointDir!, RETIRED_FILE), 'utf8'))).toMatchObject({ version, activeAfter: BASE });
      const afterRollback = await loadModels(withDqn, second.clock, logger);
      try {
        expect(afterRollback.dqn).toMatchObject({ version: BASE, base: BASE });
        expect(afterRollback.dqn!.parent).toBeUndefined();
      } finally {
        await afterRollback.pool?.close();
      }
    } finally {
      await worker.close();
    }
  }, 240_000);

  it('is off unless models.online enables it, and refuses a maxDecisions no run could split', () => {
    const { clock, registry } = setup();
    const deps = { clock, logger, registry, history, dqn, bars: () => bars, activate: () => undefined };
    expect(onlineDqnFor(config, deps)).toBeUndefined();
    const on = (dqnSettings: object) => ({ ...config, models: { ...config.models, online: onlineSchema.parse({ enabled: true, dqn: dqnSettings }) } });
    expect(onlineDqnFor(on({ enabled: false }), deps)).toBeUndefined();
    expect(onlineDqnFor(on({}), { ...deps, dqn: undefined })).toEqual({ off: 'no DQN checkpoint is in the blend' });
    expect(onlineSchema.safeParse({ dqn: { maxDecisions: 120 } }).error?.issues[0]).toMatchObject({
      path: ['dqn', 'maxDecisions'], message: 'expected at least 143 (minTrain 100 and minHeldOut 36 at heldOutFraction 0.3), received 120',
    });
    // 5 episodes of 48 steps is below a quarter of the 10,000-step budget: the fine-tune would never take a gradient step.
    expect(onlineSchema.safeParse({ dqn: { episodes: 5 } }).error?.issues[0]).toMatchObject({
      path: ['dqn', 'episodes'], message: 'expected episodes × episodeLength (5 × 48) above maxSteps / 4 (2500): the fine-tune would take no gradient step',
    });
    expect(onlineSchema.parse({ dqn: {} }).dqn).toMatchObject({ minTrades: 2, minExposure: 0.05, confidence: 0.95 });
  });

  it('runs in a paper daemon with the default blend: the DQN learns online while the CNN learner stays off', async () => {
    const clock = new SimulatedClock(FROM);
    const dir = path.join(root, 'daemon');
    const c: Config = {
      ...config, mode: 'paper',
      data: { ...config.data, replayFiles: RECORDINGS.map((f) => path.resolve(f)), klinesDirs: [path.resolve('data/klines')] },
      models: { ...config.models, checkpointDir: path.join(dir, 'checkpoints'), online: { ...config.models.online, enabled: true, pollMs: 60_000 } },
      store: { ...config.store, path: path.join(dir, 'store'), archiveDir: path.join(dir, 'archive') },
      dashboard: { ...config.dashboard, enabled: false },
    };
    const sys = await buildSystem(c, { clock, mode: 'paper', logger, dataOverride: () => undefined, noSync: true });
    let stopped = false;
    try {
      expect(sys.onlineDqn).toBeInstanceOf(OnlineDqnLearning);
      expect([sys.online, sys.onlineOff]).toEqual([undefined, expect.stringMatching(/^dqn@bundled-v\d+ was trained on the outputs of cnn@bundled-v\d+.*The DQN learns online instead/)]);
      expect(sys.online).not.toBeInstanceOf(OnlineLearning);
      await startOnClock(sys, clock, FROM + 30_000);
      const jobs = dashboardProviders(sys).training!()!.jobs;
      expect(jobs).toContainEqual({ model: 'dqn (online)', status: expect.stringMatching(/^learning dqn@bundled-v\d+ from 0 decisions \(one every 5 min, 0 unbroken runs\); a run needs 143; 0 runs/) });
      expect(jobs).toContainEqual({ model: 'cnn (online)', status: expect.stringMatching(/^off: dqn@bundled/) });
      const polls = sys.onlineDqn!.stats.polls;
      clock.advance(3 * 60_000);
      expect(sys.onlineDqn!.stats.polls).toBe(polls + 3);
      const report = await sys.stop('test');
      stopped = true;
      expect(report.steps.filter((st) => st.name === 'online-dqn')).toEqual([{ phase: 'drain', name: 'online-dqn', outcome: 'ok' }]);
      clock.advance(5 * 60_000);
      expect(sys.onlineDqn!.stats.polls).toBe(polls + 3);
    } finally {
      if (!stopped) await sys.stop('test');
    }
  }, 120_000);
});
