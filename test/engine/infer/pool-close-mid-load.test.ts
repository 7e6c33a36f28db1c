// How piscina loads the inference workers' entry, and pools closed while a worker loads, in a child process (an abort
// there must not kill vitest). piscina require()d engine/infer/worker.mjs, an ES module (Node's require(esm)); a thread
// terminated while require() instantiates it aborts the process ("FATAL ERROR: v8::Module::IsGraphAsync must be used
// on an instantiated module"). That window is a millisecond or less, so no churn meets it reliably; Node's own trace of
// require(esm) tells for sure whether a worker loads its entry that way. A CommonJS entry whose handler awaited import()
// of worker.mjs avoided require(esm) but left every idle worker's import() stalled in piscina's Atomics.wait: only the
// worker given the first task loaded, and a 3-thread pool failed to start after its 60 s wait for the others.
// Terminating a worker while ONNX Runtime loads a session aborts the process too ('terminate called after throwing an
// instance of Napi::Error', whatever the entry): close() waits for a replacement worker to load before terminating it.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const SCRIPT = `
import { createInferencePool } from './engine/infer/pool.ts';
import { createLogger, setLogger } from './engine/log.ts';
setLogger(createLogger({ level: 'silent' }));
const models = { cnn: 'models/bundled/cnn/cnn.onnx' };
const row = () => new Float32Array(5450);
// Start waits until every worker has loaded its sessions, each on its own (no task reaches the others first).
const three = await createInferencePool({ models, threads: 3 });
const answers = await Promise.all([0, 1, 2].map(() => three.infer('cnn', row(), [1, 5450])));
await three.close();
console.log('three workers loaded, ' + answers.length + ' answers');
// A worker dies on a request; piscina starts another in its place, which loads while close() runs at staggered times.
for (let k = 0; k < 16; k++) {
  const pool = await createInferencePool({ models, threads: 2, testHooks: true });
  pool.injectFault('exit');
  const answer = pool.infer('cnn', row(), [1, 5450]).catch(() => undefined);
  await new Promise((r) => setTimeout(r, k * 20));
  await pool.close();
  await answer;
}
console.log('closed 16 pools while a worker loaded');
`;

describe('inference pool workers', () => {
  it('load their entry without require(esm), all at start, and closing a pool while one loads never aborts the process', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
      encoding: 'utf8', timeout: 140_000,
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --trace-require-module=all`.trim() },
    });
    expect(r.stderr).not.toMatch(/piscina\/dist\/worker\.js is loading ES Module .* using require\(\)/);
    expect(r.stderr).not.toContain('FATAL ERROR');
    expect(r.stderr).not.toContain('terminate called');
    expect([r.status, r.signal]).toEqual([0, null]);
    expect(r.stdout).toContain('three workers loaded, 3 answers');
    expect(r.stdout).toContain('closed 16 pools while a worker loaded');
  }, 150_000);
});
