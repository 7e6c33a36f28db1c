// The online trainer's thread closed while it loads (models/online/pipeline.ts workerTrainer), in a child process.
// piscina require()d models/train/worker.mjs, an ES module (Node's require(esm)); a thread terminated while require()
// instantiated it aborted the whole process with "FATAL ERROR: v8::Module::IsGraphAsync must be used on an instantiated
// module". A daemon stopped a second after start closes the trainer that way: the vitest fork running
// test/app/online-learning.test.ts died of it in one CI run of seven. The abort needs a termination inside a
// millisecond-long instantiation, so the churn below rarely meets it; Node's own trace of require(esm) tells for sure
// whether the thread loads its entry that way.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const SCRIPT = `
import { workerTrainer } from './models/online/pipeline.ts';
// One trainer loaded to the end: a task that fails in the worker (no CNN to save) has awaited the whole entry.
const loaded = workerTrainer();
const err = await loaded.save({ config: {}, weights: [], dir: '', version: 'none' }).then(() => undefined, (e) => e);
await loaded.close();
console.log(err instanceof Error ? 'task failed in the loaded worker' : 'the task did not fail');
// Trainers closed at staggered times across their start-up, eight at a time.
for (let round = 0; round < 2; round++) {
  await Promise.all(Array.from({ length: 8 }, async (_, k) => {
    const t = workerTrainer();
    await new Promise((r) => setTimeout(r, k * 150));
    await t.close();
  }));
}
console.log('closed 16 trainers while they loaded');
`;

describe('the online trainer thread', () => {
  it('loads its entry without require(esm), and closing it while it loads never aborts the process', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
      encoding: 'utf8', timeout: 120_000,
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --trace-require-module=all`.trim() },
    });
    expect(r.stderr).not.toMatch(/piscina\/dist\/worker\.js is loading ES Module .* using require\(\)/);
    expect(r.stderr).not.toContain('FATAL ERROR');
    expect([r.status, r.signal]).toEqual([0, null]);
    expect(r.stdout).toContain('task failed in the loaded worker');
    expect(r.stdout).toContain('closed 16 trainers while they loaded');
  });
});
