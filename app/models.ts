// Which models join the blend at start. The momentum rule always does: it needs no training and is a legitimate
// expert. The CNN joins when a checkpoint with an ONNX export exists in `models.checkpointDir/cnn/<version>/cnn.onnx`
// (the best by its metric, models/checkpoints.ts), served by the inference pool; the DQN when
// `models.checkpointDir/dqn/<version>/` holds a saved agent (models/dqn/io.ts), reading the CNN's hidden state when
// the CNN is there. A missing checkpoint is said plainly in the log and the blend runs with the models that exist.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../engine/config/schema.ts';
import { createInferencePool, type InferencePool } from '../engine/infer/pool.ts';
import type { Logger } from '../engine/log.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import { CheckpointStore } from '../models/checkpoints.ts';
import { loadDqn } from '../models/dqn/io.ts';
import { cnnRunner } from '../actors/model-agents/cnn-agent.ts';
import { momentumRunner } from '../actors/model-agents/momentum.ts';
import { bdiRlState, rlRunner } from '../actors/model-agents/rl-agent.ts';
import { ModelRegistry } from '../actors/orchestrator/registry.ts';

/** The ONNX file a CNN checkpoint directory holds. */
export const CNN_ONNX_FILE = 'cnn.onnx';

/** Overrides for tests and benchmarks. */
export interface ModelOverrides {
  /** Serve this ONNX file as the CNN instead of looking for a checkpoint. */
  readonly cnnOnnx?: string;
  /** Leave the momentum rule out (default in). */
  readonly momentum?: boolean;
}

/** The registry and what runs it. */
export interface LoadedModels {
  readonly registry: ModelRegistry;
  readonly pool: InferencePool | undefined;
  /** `name@version` of every registered model. */
  readonly loaded: readonly string[];
  /** One line per model that was not registered, and why. */
  readonly skipped: readonly string[];
}

/** Returns the registry for `config`; the caller closes `pool`. */
export async function loadModels(config: Config, clock: Clock, logger: Logger, over: ModelOverrides = {}): Promise<LoadedModels> {
  const registry = new ModelRegistry();
  const loaded: string[] = [];
  const skipped: string[] = [];
  const now = clock.now();
  const cps = new CheckpointStore({ root: config.models.checkpointDir, clock });
  if (over.momentum !== false) {
    registry.register('momentum', { version: 'rule-15m-10bps', run: momentumRunner({ lookback: 15, scaleBps: 10 }) }, now);
    loaded.push('momentum@rule-15m-10bps');
  }
  let pool: InferencePool | undefined;
  if (config.models.cnn.enabled || over.cnnOnnx) {
    let file = over.cnnOnnx;
    let version = 'override';
    if (!file) {
      const best = await cps.best('cnn');
      if (best && existsSync(path.join(best.dir, CNN_ONNX_FILE))) {
        file = path.join(best.dir, CNN_ONNX_FILE);
        version = best.meta.version;
      } else {
        skipped.push(`cnn: no checkpoint with ${CNN_ONNX_FILE} under ${path.join(config.models.checkpointDir, 'cnn')} (train one with the models toolkit); not in the blend`);
      }
    }
    if (file) {
      pool = await createInferencePool({ models: { cnn: file }, threads: config.models.poolThreads, timeoutMs: config.models.timeoutMs });
      registry.register('cnn', { version, run: cnnRunner({ pool }) }, now);
      loaded.push(`cnn@${version}`);
    }
  } else skipped.push('cnn: disabled by models.cnn.enabled');
  if (config.models.dqn.enabled) {
    const best = await cps.best('dqn').catch(() => undefined);
    if (best && existsSync(path.join(best.dir, 'meta.json'))) {
      const agent = loadDqn(best.dir);
      const state = bdiRlState(30);
      registry.register('dqn', {
        version: best.meta.version, run: rlRunner({ q: agent, state, stateSize: agent.config.stateSize }),
        ...(registry.names().includes('cnn') ? { dependsOn: ['cnn'] } : {}),
      }, now);
      loaded.push(`dqn@${best.meta.version}`);
    } else {
      skipped.push(`dqn: no checkpoint under ${path.join(config.models.checkpointDir, 'dqn')}; not in the blend`);
    }
  } else skipped.push('dqn: disabled by models.dqn.enabled');
  for (const s of skipped) logger.warn({ code: 'MODEL_NOT_LOADED' }, s);
  logger.info({ models: loaded }, `blending ${loaded.length} model(s): ${loaded.join(', ') || 'none'}`);
  return { registry, pool, loaded, skipped };
}
