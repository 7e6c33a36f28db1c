import { ConfigError } from '../types/errors.ts';

/** ONNX Runtime execution providers this engine knows how to ask for. */
export const ORT_PROVIDERS = ['cpu', 'cuda', 'webgpu', 'tensorrt', 'dml', 'coreml'] as const;
/** One ONNX Runtime execution provider name. */
export type OrtProvider = (typeof ORT_PROVIDERS)[number];

/**
 * Returns the execution providers to request, in preference order: the explicit option, else
 * COBALT_ORT_PROVIDER (comma-separated, e.g. `cuda` or `webgpu,cpu`), else `cpu`. ONNX Runtime places
 * operators a GPU provider lacks on the CPU by itself; a provider missing from the installed build fails at session creation.
 */
export function resolveExecutionProviders(option?: readonly string[], env: NodeJS.ProcessEnv = process.env): OrtProvider[] {
  const source = option && option.length > 0 ? 'executionProviders option' : env.COBALT_ORT_PROVIDER ? 'COBALT_ORT_PROVIDER' : undefined;
  const names = option && option.length > 0 ? [...option] : (env.COBALT_ORT_PROVIDER ?? 'cpu').split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(ORT_PROVIDERS as readonly string[]).includes(n)) throw new ConfigError(`${source ?? 'provider'}: unknown ONNX Runtime execution provider '${n}' (known: ${ORT_PROVIDERS.join(', ')})`);
  }
  return names.length > 0 ? (names as OrtProvider[]) : ['cpu'];
}
