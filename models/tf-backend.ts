import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { log } from '../engine/log.ts';

/** The tfjs backend a process trains on. */
export type TfBackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm';

/** What `initTfBackend` chose and why the better ones were skipped. */
export interface TfBackendInfo {
  readonly backend: TfBackendName;
  /** tfjs' own backend id (`tensorflow` for tfjs-node and tfjs-node-gpu, `wasm`). */
  readonly tfBackend: string;
  readonly skipped: readonly { readonly pkg: string; readonly reason: string }[];
}

// tfjs-node(-gpu) download libtensorflow at install time and are not dependencies: a user who has them
// installed gets them, everyone else falls through to wasm. The package names sit in variables so the
// type-checker does not require them to exist.
const NATIVE: readonly { pkg: string; name: TfBackendName }[] = [
  { pkg: '@tensorflow/tfjs-node-gpu', name: 'tensorflow-gpu' },
  { pkg: '@tensorflow/tfjs-node', name: 'tensorflow' },
];

let chosen: Promise<TfBackendInfo> | undefined;

/** Returns the directory holding tfjs-backend-wasm's .wasm binaries, with a trailing separator. */
export function wasmBinaryDir(): string {
  const req = createRequire(import.meta.url);
  // The package's `main` is dist/tf-backend-wasm.node.js; the .wasm files sit beside it.
  return path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep;
}

/**
 * Returns the best tfjs backend present, initialising it once per process (or worker thread):
 * tfjs-node-gpu, then tfjs-node, else wasm. Never the plain `cpu` backend; `prefer: 'wasm'` skips the native ones.
 */
export function initTfBackend(opts: { prefer?: 'best' | 'wasm' } = {}): Promise<TfBackendInfo> {
  chosen ??= choose(opts.prefer ?? 'best');
  return chosen;
}

async function choose(prefer: 'best' | 'wasm'): Promise<TfBackendInfo> {
  const skipped: { pkg: string; reason: string }[] = [];
  if (prefer === 'best') {
    for (const { pkg, name } of NATIVE) {
      try {
        await import(pkg);
        await tf.setBackend('tensorflow');
        await tf.ready();
        const info = { backend: name, tfBackend: tf.getBackend(), skipped };
        log().info(info, 'tfjs backend selected');
        return info;
      } catch (err) {
        skipped.push({ pkg, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) });
      }
    }
  } else {
    for (const { pkg } of NATIVE) skipped.push({ pkg, reason: 'wasm requested' });
  }
  setWasmPaths(wasmBinaryDir());
  if (!(await tf.setBackend('wasm'))) throw new Error(`tfjs wasm backend failed to initialise (binaries looked up in ${wasmBinaryDir()})`);
  await tf.ready();
  const info = { backend: 'wasm' as const, tfBackend: tf.getBackend(), skipped };
  log().info({ ...info, simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') }, 'tfjs backend selected');
  return info;
}
