import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputValidationError, StoreError } from '../../engine/types/errors.ts';
import { DqnAgent, type DqnConfig } from './agent.ts';

/** Sidecar JSON of a saved DQN: enough to rebuild the network and check the weight file. */
export type DqnMeta = {
  readonly format: 'cobalt-dqn/1';
  readonly config: DqnConfig;
  /** Layer widths, input to output. */
  readonly sizes: number[];
  /** Float32 values in weights.bin (online network; the target is restored equal to it). */
  readonly paramCount: number;
  readonly envSteps: number;
  readonly gradSteps: number;
  /** Free-form: data span, metric, etc. (H6's checkpoints.ts can fill this). */
  readonly extra?: Record<string, unknown>;
};

/** Returns the online network's weights (raw little-endian Float32) and their metadata. */
export function dqnToBytes(agent: DqnAgent, extra?: Record<string, unknown>): { meta: DqnMeta; weights: Uint8Array } {
  const p = agent.online.params;
  const meta: DqnMeta = {
    format: 'cobalt-dqn/1', config: agent.config, sizes: [...agent.online.sizes], paramCount: p.length,
    envSteps: agent.steps, gradSteps: agent.updates, ...(extra ? { extra } : {}),
  };
  const le = new Uint8Array(p.length * 4);
  const view = new DataView(le.buffer);
  for (let i = 0; i < p.length; i++) view.setFloat32(i * 4, p[i], true);
  return { meta, weights: le };
}

/** Returns a fresh agent (empty replay, new optimiser state) with saved weights in both networks. */
export function dqnFromBytes(meta: DqnMeta, weights: Uint8Array): DqnAgent {
  if (meta.format !== 'cobalt-dqn/1') throw new InputValidationError(`unknown DQN checkpoint format '${String(meta.format)}'`);
  if (weights.byteLength !== meta.paramCount * 4) throw new InputValidationError(`DQN weights have ${weights.byteLength} bytes, meta says ${meta.paramCount} float32 values`);
  const agent = new DqnAgent(meta.config);
  const sizes = agent.online.sizes.join(',');
  if (sizes !== meta.sizes.join(',')) throw new InputValidationError(`DQN checkpoint layers [${meta.sizes.join(', ')}] do not match its config [${sizes}]`);
  const view = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
  const p = new Float32Array(meta.paramCount);
  for (let i = 0; i < p.length; i++) p[i] = view.getFloat32(i * 4, true);
  agent.online.setParams(p);
  agent.target.setParams(p);
  return agent;
}

/** Writes `meta.json` and `weights.bin` into `dir`. */
export function saveDqn(agent: DqnAgent, dir: string, extra?: Record<string, unknown>): void {
  const { meta, weights } = dqnToBytes(agent, extra);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'weights.bin'), weights);
    writeFileSync(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  } catch (err) {
    throw new StoreError(`cannot save DQN to ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** Returns the agent saved in `dir` by `saveDqn`. */
export function loadDqn(dir: string): DqnAgent {
  let meta: DqnMeta, weights: Uint8Array;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as DqnMeta;
    weights = readFileSync(join(dir, 'weights.bin'));
  } catch (err) {
    throw new StoreError(`cannot load DQN from ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return dqnFromBytes(meta, weights);
}
