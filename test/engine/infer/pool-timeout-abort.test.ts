// Realism review, finding 3: a request past its deadline aborted its batch, which terminated the worker while ONNX
// Runtime could be inside session.run, and that aborts the whole process with SIGABRT ("terminate called after
// throwing an instance of 'Napi::Error'"; the reviewer's 300 requests at a 3 ms deadline exited 134). A timeout now
// fails the request only; the batch runs on and its answer is dropped. In a child process, which such an abort kills.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// 64-row batches of the bundled CNN (a run of several ms); each request's deadline passes on a simulated clock 0-3 ms
// of wall time after it was sent, mostly while its batch is inside session.run.
const TIMEOUTS = `
import { createInferencePool } from './engine/infer/pool.ts';
import { SimulatedClock } from './engine/runtime/clock.ts';
import { createLogger, setLogger } from './engine/log.ts';
setLogger(createLogger({ level: 'silent' }));
const clock = new SimulatedClock(0);
const pool = await createInferencePool({ models: { cnn: 'models/bundled/cnn/cnn.onnx' }, threads: 2, timeoutMs: 5, clock });
const x = new Float32Array(64 * 5450);
const outcomes = {};
for (let i = 0; i < 150; i++) {
  const p = pool.infer('cnn', x, [64, 5450]).then(() => 'ok', (e) => e.name);
  await new Promise((r) => setTimeout(r, i % 4));
  clock.advance(5);
  const o = await p;
  outcomes[o] = (outcomes[o] ?? 0) + 1;
}
const last = await pool.infer('cnn', new Float32Array(5450), [1, 5450]);
const s = pool.stats();
console.log(JSON.stringify({ outcomes, last: last.outputs.probs.length, workerDeaths: s.workerDeaths, poolErrors: s.poolErrors }));
await pool.close();
console.log('closed');
`;

describe('inference pool timeouts', () => {
  it('a timeout fails the request without terminating a worker inside session.run: the process lives', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', TIMEOUTS], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toContain('terminate called');
    expect([r.status, r.signal]).toEqual([0, null]);
    const summary = JSON.parse(r.stdout.split('\n')[0]!) as { outcomes: Record<string, number>; last: number; workerDeaths: number; poolErrors: number };
    expect(summary.outcomes.InferenceTimeoutError).toBeGreaterThan(0);
    expect([summary.last, summary.workerDeaths, summary.poolErrors]).toEqual([3, 0, 0]);
    expect(r.stdout).toContain('closed');
  });
});
