// Starting and closing inference pools back to back, in a child process: terminating a worker thread while ONNX Runtime
// loads a session aborts the whole process ("terminate called after throwing an instance of 'Napi::Error'"), which the
// pool prevents by closing only workers that have finished loading. Before that, 30 cycles aborted in 6-18.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const SCRIPT = `
import { createInferencePool } from './engine/infer/pool.ts';
import { createLogger, setLogger } from './engine/log.ts';
setLogger(createLogger({ level: 'silent' }));
for (let i = 0; i < 30; i++) {
  const pool = await createInferencePool({ models: { cnn: 'models/bundled/cnn/cnn.onnx' }, threads: 2 });
  await pool.infer('cnn', new Float32Array(5450), [1, 5450]);
  await pool.close();
}
console.log('closed 30 pools');
`;

describe('inference pool lifecycle', () => {
  it('starts and closes 30 two-worker pools in a row without aborting the process', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toContain('terminate called');
    expect([r.status, r.signal]).toEqual([0, null]);
    expect(r.stdout).toContain('closed 30 pools');
  });
});
