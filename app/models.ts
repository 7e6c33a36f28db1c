// Which models join the blend at start. The momentum rule always does: it needs no training and is a legitimate
// expert. The CNN joins from the best checkpoint with an ONNX export in `models.checkpointDir/cnn/<version>/cnn.onnx`
// (models/checkpoints.ts) whose recorded input is the one the agent feeds, else from the model bundled in
// models/bundled; it is served by the inference pool. The DQN joins from the best `models.checkpointDir/dqn/<version>/`
// else the bundled one, when it was trained on the engine's RL state (RL_STATE_KIND) beside the CNN now running
// (models/train/dqn-state.ts), reading that CNN's same-tick outputs: on a tick where the CNN gives none (failed, timed
// out, busy, dropped) such a DQN gives none either, a counted failure. A checkpoint trained on another market is
// unusable too: one whose `input.symbol` is not `symbols.primary` (or whose `input.reference`, when recorded, is not
// `symbols.reference`) is passed over, so the bundled ETH/USDT models sit out a run on another symbol; one written
// before the symbol was recorded joins as before (app/system.ts logs the symbol its train-report.json names). A
// missing or unusable checkpoint is said plainly in the log and the blend runs with the models that exist. "Best" is
// by the figure no test data went into (SELECTION_METRICS: the CNN's validation log loss, the DQN's validation PnL);
// checkpoints written before, ranked by their test figure, are never compared with those: they come after them,
// newest first (models/checkpoints.ts).
// A CNN that online learning promoted (app/online-learning.ts, in `<checkpointDir>/online/cnn/`) replaces the version
// it descends from: the newest promoted checkpoint whose base is the version chosen above loads instead, so a restart
// keeps the weights that were live. One descending from another base (you trained or bundled a new CNN) is ignored;
// version strings are reused (a deleted `v000002`, a re-trained `bundled-v000001`), so the base's ONNX sha-256
// recorded in online.json must match too (older online.json files without it match by version, logged). The
// promoted version's parent (online.json) is registered beside it, so the dashboard's rollback still has a target.
// A DQN that online learning promoted (app/online-dqn.ts, in `<checkpointDir>/online/dqn/`) replaces the DQN chosen
// above the same way: the newest promoted one whose online.json names that DQN as its base, with the sha-256 of the
// base's weights.bin, whose input still suits the CNN running now and that no operator rolled back (`promotedDqn`).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../engine/config/schema.ts';
import { ConfigError } from '../engine/types/errors.ts';
import { createInferencePool, type InferencePool } from '../engine/infer/pool.ts';
import type { Logger } from '../engine/log.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import { CheckpointStore, inputSymbolMismatch, LEGACY_SELECTION_METRICS, SELECTION_METRICS, type CheckpointMeta } from '../models/checkpoints.ts';
import { bundledCnnCheckpoint, bundledDqnCheckpoint } from '../models/bundled/index.ts';
import { cnnInputMismatch } from '../models/cnn/bdi-adapter.ts';
import { loadDqn } from '../models/dqn/io.ts';
import { QNetwork } from '../models/dqn/qnet.ts';
import { cnnRunner, type InferPort } from '../actors/model-agents/cnn-agent.ts';
import { momentumRunner } from '../actors/model-agents/momentum.ts';
import { rlRunner } from '../actors/model-agents/rl-agent.ts';
import { DQN_STATE_KIND, dqnInputMismatch, dqnStateBuilder, dqnStateOf, fileSha256 } from '../models/train/dqn-state.ts';
import { ModelRegistry } from '../actors/orchestrator/registry.ts';
import { ONLINE_PROVENANCE_FILE, readOnlineProvenance } from '../models/online/pipeline.ts';
import { isRetired, RETIRED_FILE } from './online-rollbacks.ts';

/** The state layout the engine's RL agent builds from a BaseDataInput (`bdiRlState(30)`); DQN checkpoints must declare it. */
export const RL_STATE_KIND = DQN_STATE_KIND;

/** The ONNX file a CNN checkpoint directory holds. */
export const CNN_ONNX_FILE = 'cnn.onnx';

/** Overrides for tests and benchmarks. */
export interface ModelOverrides {
  /** Serve this ONNX file as the CNN instead of looking for a checkpoint. */
  readonly cnnOnnx?: string;
  /** Leave the momentum rule out (default in). */
  readonly momentum?: boolean;
  /**
   * A started pool already serving `cnnOnnx` as model 'cnn', used instead of starting one; the caller owns and closes
   * it. Runs many backtests in one process through one long-lived pool, as a daemon runs (bench/loop's settled runs).
   */
  readonly cnnPool?: InferencePool;
}

/** The registry and what runs it. */
export interface LoadedModels {
  readonly registry: ModelRegistry;
  readonly pool: InferencePool | undefined;
  /** False when `pool` is the caller's (`ModelOverrides.cnnPool`): whoever stops the system leaves it open. */
  readonly ownsPool: boolean;
  /** `name@version` of every registered model. */
  readonly loaded: readonly string[];
  /** One line per model that was not registered, and why. */
  readonly skipped: readonly string[];
  /** The CNN in the blend, unless a test's override: its checkpoint folder and the version its online line descends from. */
  readonly cnn?: LoadedCnn;
  /** `name@version` of models in the blend trained on the outputs of exactly this CNN (a new CNN version would not suit them). */
  readonly cnnBound: readonly string[];
  /** The DQN in the blend: its checkpoint folder and the metadata it was chosen by. */
  readonly dqn?: LoadedDqn;
}

/** The DQN a system runs (see LoadedModels.dqn). */
export interface LoadedDqn {
  readonly version: string;
  readonly dir: string;
  readonly meta: CheckpointMeta;
  /** The offline or bundled version it is or descends from (online learning), its folder, and the sha-256 of its weights.bin. */
  readonly base?: string;
  readonly baseDir?: string;
  readonly baseSha256?: string;
  /** The version a rollback goes to, registered beside a promoted version (its parent, or the base), and its folder. */
  readonly parent?: { readonly version: string; readonly dir: string };
  /** The runner's `requires` (['cnn'] when CNN outputs filled its training states) and the registry's `dependsOn`. */
  readonly requires?: readonly string[];
  readonly dependsOn?: readonly string[];
}

/** The CNN a system runs (see LoadedModels.cnn). */
export interface LoadedCnn {
  readonly version: string;
  readonly dir: string;
  readonly onnx: string;
  readonly meta: CheckpointMeta;
  /** The offline or bundled version it is or descends from, and its folder. */
  readonly base: string;
  readonly baseDir: string;
  /** The sha-256 of the base's ONNX file (recorded in what online learning promotes). */
  readonly baseSha256: string;
  /** The version a rollback goes to, registered beside a promoted version (its parent, or the base), and its folder. */
  readonly parent?: { readonly version: string; readonly dir: string };
}

/** The inference pool's model name of the registered rollback target of a promoted CNN (LoadedCnn.parent). */
export const CNN_PARENT_POOL_MODEL = 'cnn-parent';

/** Prefix of the registry versions of online-promoted CNN checkpoints. */
export const ONLINE_VERSION_PREFIX = 'online-';

/** Where online learning keeps the checkpoints it promotes (CheckpointStore root; model 'cnn'). */
export function onlineCheckpointRoot(config: Config): string {
  return path.join(config.models.checkpointDir, 'online');
}

/** What a promoted checkpoint's online.json records of its lineage (each undefined when absent or unreadable). */
type Provenance = { base: string | undefined; baseSha256: string | undefined; parent: string | undefined };

/** Returns the base, its ONNX sha-256 and the parent recorded in a promoted checkpoint's online.json (undefined: unreadable). */
function provenanceOf(dir: string): Provenance {
  const p = readOnlineProvenance(dir);
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return { base: str(p?.base), baseSha256: str(p?.baseSha256), parent: str(p?.parent) };
}

type CnnCandidate = { file: string; version: string; meta?: CheckpointMeta; dir?: string };

/** Returns `pool`'s requests without a deadline. */
const withoutDeadline = (pool: InferencePool): InferPort => ({ infer: (model, input, dims) => pool.infer(model, input, dims, { timeoutMs: Number.POSITIVE_INFINITY }) });

/** Returns the registry for `config`; the caller closes `pool`. */
export async function loadModels(config: Config, clock: Clock, logger: Logger, over: ModelOverrides = {}): Promise<LoadedModels> {
  const registry = new ModelRegistry();
  const loaded: string[] = [];
  const skipped: string[] = [];
  const now = clock.now();
  if (over.cnnPool && !over.cnnOnnx) throw new ConfigError('models: a caller\'s CNN pool needs the ONNX file it serves (cnnOnnx)');
  const cps = new CheckpointStore({ root: config.models.checkpointDir, clock });
  // The CNN's base and the CNN the DQN must have been trained beside are often one file: hash it once.
  const hashes = new Map<string, string>();
  const sha256 = (file: string): string => {
    let h = hashes.get(file);
    if (h === undefined) hashes.set(file, (h = fileSha256(file)));
    return h;
  };
  if (over.momentum !== false) {
    registry.register('momentum', { version: 'rule-15m-10bps', run: momentumRunner({ lookback: 15, scaleBps: 10 }) }, now);
    loaded.push('momentum@rule-15m-10bps');
  }
  let pool: InferencePool | undefined;
  let cnnOnnx: string | undefined; // the DQN must have been trained beside this CNN
  let cnn: LoadedCnn | undefined;
  let dqn: LoadedDqn | undefined;
  const cnnBound: string[] = [];
  if (config.models.cnn.enabled || over.cnnOnnx) {
    // Candidates in order: a test override, the configured directory's checkpoints best first (your own training
    // runs), the model shipped in models/bundled. With metadata, a candidate must take the input the agent feeds: a
    // kline-feature CNN from `cobalt train cnn --input klines` is passed over here rather than failing on every tick.
    const candidates: CnnCandidate[] = [];
    if (over.cnnOnnx) candidates.push({ file: over.cnnOnnx, version: 'override' });
    else {
      // Every checkpoint in rank order, not only the best: a research or other-symbol run with a better figure
      // saves under the same name and metric, and would otherwise hide all those the engine can run.
      for (const c of await cps.list('cnn', SELECTION_METRICS.cnn, ...LEGACY_SELECTION_METRICS.cnn)) {
        if (existsSync(path.join(c.dir, CNN_ONNX_FILE))) candidates.push({ file: path.join(c.dir, CNN_ONNX_FILE), version: c.meta.version, meta: c.meta, dir: c.dir });
      }
      const bundled = bundledCnnCheckpoint();
      if (bundled) candidates.push({ file: bundled.onnxPath, version: `bundled-${bundled.meta.version}`, meta: bundled.meta, dir: bundled.dir });
    }
    let chosen = candidates.find((c) => {
      const mismatch = c.meta ? inputSymbolMismatch(c.meta.input, config.symbols) ?? cnnInputMismatch(c.meta.input) : undefined;
      if (mismatch) skipped.push(`cnn@${c.version}: ${mismatch}; passed over`);
      return !mismatch;
    });
    const base = chosen?.version;
    const baseDir = chosen?.dir;
    const baseSha256 = chosen?.dir !== undefined ? sha256(chosen.file) : undefined;
    let parent: CnnCandidate | undefined; // registered beside a promoted version, for rollback
    if (chosen?.dir !== undefined) {
      const baseCandidate = chosen;
      const online = await new CheckpointStore({ root: onlineCheckpointRoot(config), clock }).list('cnn').catch((err: unknown) => {
        skipped.push(`cnn: online checkpoints under ${onlineCheckpointRoot(config)} could not be read (${(err as Error).message}); running ${base}`);
        return [];
      });
      const usable = (c: { dir: string; meta: CheckpointMeta }): boolean => existsSync(path.join(c.dir, CNN_ONNX_FILE))
        && cnnInputMismatch(c.meta.input) === undefined && inputSymbolMismatch(c.meta.input, config.symbols) === undefined;
      const descends = (c: { dir: string; meta: CheckpointMeta }, from: Provenance): boolean => {
        const v = `${ONLINE_VERSION_PREFIX}${c.meta.version}`;
        if (from.base === undefined) skipped.push(`cnn@${v}: its ${ONLINE_PROVENANCE_FILE} is missing or unreadable; passed over`);
        if (from.base !== base || !usable(c)) return false;
        if (from.baseSha256 !== undefined && from.baseSha256 !== baseSha256) {
          logger.info({ model: 'cnn', version: v, base, recorded: from.baseSha256, loading: baseSha256 },
            `cnn@${v} descends from another ${base} (its base's ONNX sha-256 differs from the ${base} loading now): passed over`);
          return false;
        }
        // An operator rolled it back (app/online-rollbacks.ts): not loaded again; the next older one, or the base, runs.
        if (isRetired(c.dir)) {
          logger.info({ model: 'cnn', version: v }, `cnn@${v} was rolled back by an operator (${RETIRED_FILE}): passed over`);
          return false;
        }
        return true;
      };
      // Each online.json is read once: the winner's is needed again below, for its recorded sha-256 and parent.
      let found: { line: (typeof online)[number]; from: Provenance } | undefined;
      for (const c of online) {
        const from = provenanceOf(c.dir);
        if (descends(c, from)) {
          found = { line: c, from };
          break;
        }
      }
      if (found) {
        const { line, from } = found;
        chosen = { file: path.join(line.dir, CNN_ONNX_FILE), version: `${ONLINE_VERSION_PREFIX}${line.meta.version}`, meta: line.meta, dir: line.dir };
        if (from.baseSha256 === undefined) {
          logger.warn({ code: 'ONLINE_BASE_UNVERIFIED', model: 'cnn', version: chosen.version, base },
            `cnn@${chosen.version}: its ${ONLINE_PROVENANCE_FILE} records no sha-256 of its base (promoted before it was recorded), so it is matched to ${base} by version string only; delete ${line.dir} if ${base} is not the model it was fine-tuned from`);
        }
        logger.info({ model: 'cnn', version: chosen.version, base, promotedAt: line.meta.metric.value }, `cnn: the online-promoted ${chosen.version} (descends from ${base}) loads instead of ${base}`);
        // The rollback target: the parent online.json names, while its checkpoint can run (else the base).
        const named = from.parent === undefined || from.parent === base ? undefined
          : online.find((c) => `${ONLINE_VERSION_PREFIX}${c.meta.version}` === from.parent && usable(c) && !isRetired(c.dir));
        parent = named ? { file: path.join(named.dir, CNN_ONNX_FILE), version: from.parent!, meta: named.meta, dir: named.dir } : baseCandidate;
        if (from.parent !== undefined && parent.version !== from.parent) {
          logger.info({ model: 'cnn', version: chosen.version, parent: from.parent }, `cnn@${chosen.version}: its parent ${from.parent} is gone, unusable or rolled back; a rollback goes to ${base}`);
        }
      }
    }
    if (chosen) {
      cnnOnnx = chosen.file;
      const parentModel: Record<string, string> = parent ? { [CNN_PARENT_POOL_MODEL]: parent.file } : {};
      // No clock: the pool's deadline runs on the wall clock, like the worker it bounds. A backtest passes
      // models.timeoutMs Infinity (app/backtest.ts): no deadline, only the pool's wall-time stuck guard, and none on a
      // caller's pool either (made with a deadline of its own).
      pool = over.cnnPool ?? (await createInferencePool({ models: { cnn: chosen.file, ...parentModel }, threads: config.models.poolThreads, timeoutMs: config.models.timeoutMs }));
      const served: InferPort = config.models.timeoutMs === Number.POSITIVE_INFINITY ? withoutDeadline(pool) : pool;
      // A restart keeps one step of the rollback history: the parent first, then the promoted version activated over it.
      if (parent) {
        registry.register('cnn', { version: parent.version, run: cnnRunner({ pool: served, poolModel: CNN_PARENT_POOL_MODEL, ...(parent.meta ? { checkpoint: parent.meta } : {}) }) }, now);
        logger.info({ model: 'cnn', version: chosen.version, rollbackTo: parent.version }, `cnn: ${parent.version} is registered as the version a rollback of ${chosen.version} goes to`);
      }
      registry.register('cnn', { version: chosen.version, run: cnnRunner({ pool: served, ...(chosen.meta ? { checkpoint: chosen.meta } : {}) }) }, now, { activate: true });
      loaded.push(`cnn@${chosen.version}`);
      if (chosen.dir !== undefined && chosen.meta !== undefined) {
        cnn = {
          version: chosen.version, dir: chosen.dir, onnx: chosen.file, meta: chosen.meta, base: base!, baseDir: baseDir!, baseSha256: baseSha256!,
          ...(parent?.dir !== undefined ? { parent: { version: parent.version, dir: parent.dir } } : {}),
        };
      }
    } else {
      skipped.push(`cnn: no usable checkpoint under ${path.join(config.models.checkpointDir, 'cnn')} nor bundled; not in the blend`);
    }
  } else skipped.push('cnn: disabled by models.cnn.enabled');
  if (config.models.dqn.enabled) {
    // Candidates in order: the configured directory's checkpoints best first, then the model shipped in
    // models/bundled. One is taken only if it declares the engine's RL state and, when CNN outputs filled its training
    // states, that CNN is the one running now; its recorded state transforms (zeroed parts, scale) are applied here as
    // in training.
    const candidates: LoadedDqn[] = [];
    // In rank order, as for the CNN: the first that suits this run, not only the best (a `--state env` run would
    // hide the rest).
    const ranked = await cps.list('dqn', SELECTION_METRICS.dqn).catch((err: unknown) => {
      skipped.push(`dqn: checkpoints under ${path.join(config.models.checkpointDir, 'dqn')} could not be read (${(err as Error).message}); trying the bundled one`);
      return [];
    });
    for (const c of ranked) if (existsSync(path.join(c.dir, 'meta.json'))) candidates.push({ dir: c.dir, version: c.meta.version, meta: c.meta });
    const bundled = bundledDqnCheckpoint();
    if (bundled) candidates.push({ dir: bundled.dir, version: `bundled-${bundled.meta.version}`, meta: bundled.meta });
    const cnnSha = cnnOnnx ? sha256(cnnOnnx) : undefined;
    const chosen = candidates.find((c) => {
      const why = inputSymbolMismatch(c.meta.input, config.symbols) ?? dqnInputMismatch(c.meta.input, cnnSha);
      if (why) skipped.push(`dqn@${c.version}: ${why}; not in the blend`);
      return !why;
    });
    if (chosen) {
      const state = dqnStateBuilder(dqnStateOf(chosen.meta.input));
      // `cnn: null` (trained with `--cnn none`) means the CNN slots were zeroed in training: not bound to any CNN.
      const recordedCnn = (chosen.meta.input as { cnn?: unknown } | undefined)?.cnn;
      const cnnInState = typeof recordedCnn === 'object' && recordedCnn !== null;
      // A CNN-bound DQN answers only with the CNN's output of the same tick (see rl-agent.ts `requires`).
      const requires = cnnInState ? ['cnn'] : [];
      const dependsOn = registry.names().includes('cnn') ? ['cnn'] : [];
      const register = (version: string, dir: string, activate: boolean): void => {
        // The runner keeps the weights alone (~39 KB), not the agent with its replay buffer (~35 MB), which is dropped.
        const agent = loadDqn(dir);
        const q = new QNetwork(agent.online.sizes, agent.online.params);
        registry.register('dqn', {
          version, run: rlRunner({ q, state, stateSize: q.stateSize, ...(requires.length > 0 ? { requires } : {}) }),
          ...(dependsOn.length > 0 ? { dependsOn } : {}),
        }, now, { activate });
      };
      const baseSha256 = sha256(path.join(chosen.dir, DQN_WEIGHTS_FILE));
      const online = await promotedDqn(config, clock, logger, chosen, baseSha256, cnnSha, skipped);
      if (online) {
        // A restart keeps one step of the rollback history, as for the CNN: the parent, then the promoted version over it.
        register(online.parent.version, online.parent.dir, false);
        register(online.line.version, online.line.dir, true);
        logger.info({ model: 'dqn', version: online.line.version, base: chosen.version, rollbackTo: online.parent.version },
          `dqn: the online-promoted ${online.line.version} (descends from ${chosen.version}) loads instead of ${chosen.version}; a rollback goes to ${online.parent.version}`);
      } else register(chosen.version, chosen.dir, false);
      const running = online?.line ?? chosen;
      loaded.push(`dqn@${running.version}`);
      dqn = {
        ...running, base: chosen.version, baseDir: chosen.dir, baseSha256, requires, dependsOn,
        ...(online ? { parent: { version: online.parent.version, dir: online.parent.dir } } : {}),
      };
      if (cnnInState) cnnBound.push(`dqn@${running.version}`);
    } else {
      skipped.push(`dqn: no usable checkpoint under ${path.join(config.models.checkpointDir, 'dqn')} nor bundled; not in the blend`);
    }
  } else skipped.push('dqn: disabled by models.dqn.enabled');
  for (const s of skipped) logger.warn({ code: 'MODEL_NOT_LOADED' }, s);
  logger.info({ models: loaded }, `blending ${loaded.length} model(s): ${loaded.join(', ') || 'none'}`);
  return { registry, pool, ownsPool: pool !== undefined && pool !== over.cnnPool, loaded, skipped, ...(cnn ? { cnn } : {}), cnnBound, ...(dqn ? { dqn } : {}) };
}

/** The file of a saved DQN's weights (models/dqn/io.ts), whose sha-256 tells one base from another of the same version. */
export const DQN_WEIGHTS_FILE = 'weights.bin';

/**
 * Returns the newest DQN that online learning promoted from `base` (app/online-dqn.ts, `<checkpointDir>/online/dqn/`)
 * and the version a rollback of it goes to, or undefined when none can run. A promoted checkpoint must descend from
 * this very base (its online.json's base and the sha-256 of the base's weights.bin), still take the input the engine
 * feeds beside the CNN running now (as the base was checked), and not have been rolled back by an operator.
 */
async function promotedDqn(
  config: Config, clock: Clock, logger: Logger, base: LoadedDqn, baseSha256: string, cnnSha: string | undefined, skipped: string[],
): Promise<{ line: LoadedDqn; parent: LoadedDqn } | undefined> {
  const root = onlineCheckpointRoot(config);
  const online = await new CheckpointStore({ root, clock }).list('dqn').catch((err: unknown) => {
    skipped.push(`dqn: online checkpoints under ${root} could not be read (${(err as Error).message}); running ${base.version}`);
    return [];
  });
  const asLoaded = (c: { dir: string; meta: CheckpointMeta }): LoadedDqn => ({ version: `${ONLINE_VERSION_PREFIX}${c.meta.version}`, dir: c.dir, meta: c.meta });
  const runnable = (c: { dir: string; meta: CheckpointMeta }): boolean => existsSync(path.join(c.dir, 'meta.json')) && existsSync(path.join(c.dir, DQN_WEIGHTS_FILE))
    && inputSymbolMismatch(c.meta.input, config.symbols) === undefined && dqnInputMismatch(c.meta.input, cnnSha) === undefined && !isRetired(c.dir);
  for (const c of online) {
    const from = provenanceOf(c.dir);
    const v = `${ONLINE_VERSION_PREFIX}${c.meta.version}`;
    if (from.base === undefined) {
      skipped.push(`dqn@${v}: its ${ONLINE_PROVENANCE_FILE} is missing or unreadable; passed over`);
      continue;
    }
    if (from.base !== base.version || from.baseSha256 !== baseSha256) continue;
    if (!runnable(c)) {
      logger.info({ model: 'dqn', version: v, base: base.version }, `dqn@${v}: rolled back by an operator (${RETIRED_FILE}), or its files or input no longer suit this run: passed over`);
      continue;
    }
    const named = from.parent === undefined || from.parent === base.version ? undefined
      : online.find((p) => `${ONLINE_VERSION_PREFIX}${p.meta.version}` === from.parent && runnable(p));
    if (from.parent !== undefined && from.parent !== base.version && named === undefined) {
      logger.info({ model: 'dqn', version: v, parent: from.parent }, `dqn@${v}: its parent ${from.parent} is gone, unusable or rolled back; a rollback goes to ${base.version}`);
    }
    return { line: asLoaded(c), parent: named ? asLoaded(named) : base };
  }
  return undefined;
}
