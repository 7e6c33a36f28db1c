// Worker-thread entry for training jobs (piscina). Plain JS so it loads in a worker without tsx as a loader
// (STACK.md: `--import tsx` does not work for workers on Node 20); it imports the TypeScript handler through tsx's API.
// Top-level code runs once per thread, so the tfjs backend and module graph are set up once.
import { tsImport } from 'tsx/esm/api';

const mod = await tsImport('./worker-task.ts', import.meta.url);

/** Handles one training task (see worker-task.ts). */
export default function handle(task) {
  return mod.handle(task);
}
