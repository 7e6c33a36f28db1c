// The replay position's names live in engine/store/replay-position.ts: the replay that writes them
// (actors/data-provider/replay.ts) names them without loading the history reader (archives, gzip, LMDB meta pages),
// which only training and `cobalt history` need. Checked on the modules Node really loads, in a process of its own.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// Resolve hook that appends every module URL resolved to the file named in its data (written before the module loads).
const HOOKS = `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(log, r.url + '\\n');
  return r;
}`)}`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Returns the file URLs of the modules loaded by importing `file` (relative to the repository root) under tsx. */
async function modulesLoadedBy(file: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cobalt-imports-'));
  dirs.push(dir);
  const log = join(dir, 'resolved.txt');
  const script = `import { register } from 'node:module';
register(${JSON.stringify(HOOKS)}, { data: { log: ${JSON.stringify(log)} } });
await import(${JSON.stringify(pathToFileURL(resolve(file)).href)});`;
  await new Promise<void>((done, fail) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 }, (err, _out, stderr) =>
      (err ? fail(new Error(`importing ${file} failed: ${stderr || err.message}`)) : done()));
  });
  return readFileSync(log, 'utf8').split('\n').filter((u) => u.startsWith('file:'));
}

describe('the replay position names', () => {
  it('are named by the daemon\'s replay without loading the history reader', async () => {
    const loaded = await modulesLoadedBy('actors/data-provider/replay.ts');

    expect(loaded.some((u) => u.endsWith('/engine/store/replay-position.ts'))).toBe(true);
    expect(loaded.some((u) => u.endsWith('/engine/store/lmdb.ts'))).toBe(true);
    expect(loaded.filter((u) => u.endsWith('/engine/store/history-reader.ts'))).toEqual([]);
  }, 90_000);
});
