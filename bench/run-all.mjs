// Runs every bench/*.ts (except helpers named _*.ts) one after another with `node --import tsx`, forwarding each
// benchmark's stdout (its JSON line) to stdout and its stderr to stderr. A benchmark that fails gets a JSON line
// {"bench":…,"error":…} and the runner carries on; it exits 1 at the end if any failed.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The loop bench measures the engine as `cobalt` runs it: with the V8 flags of bin/cobalt.mjs's shebang.
// The soak bench forces a full GC before each heap reading.
const NODE_FLAGS = { loop: ['--single-threaded-gc'], soak: ['--single-threaded-gc', '--expose-gc'] };
const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
  .filter((f) => only.length === 0 || only.includes(basename(f, '.ts')))
  .sort();

function run(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(NODE_FLAGS[basename(file, '.ts')] ?? []), '--import', 'tsx', join('bench', file)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderrTail = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      stderrTail = (stderrTail + d).slice(-2000);
      process.stderr.write(d);
    });
    child.on('error', (e) => resolve({ code: null, signal: null, stdout, stderrTail: String(e) }));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderrTail }));
  });
}

let failed = 0;
for (const file of files) {
  const name = basename(file, '.ts');
  const started = Date.now();
  const r = await run(file);
  if (r.stdout.length > 0 && !r.stdout.endsWith('\n')) process.stdout.write('\n');
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  const last = lines.at(-1);
  let error;
  if (r.code !== 0) error = r.signal ? `killed by ${r.signal}` : `exited with code ${r.code}`;
  else if (last === undefined) error = 'printed no JSON line';
  else {
    try {
      JSON.parse(last);
    } catch {
      error = 'last stdout line is not JSON';
    }
  }
  if (error !== undefined) {
    failed++;
    // Node's crash output ends with its version line; the thrown error's own line is more useful.
    const errLines = r.stderrTail.trim().split('\n').filter(Boolean);
    const lastErr = errLines.filter((l) => /\b\w*Error\b/.test(l)).at(-1) ?? errLines.at(-1) ?? '';
    console.log(JSON.stringify({ bench: name, error, stderr: lastErr, ms: Date.now() - started }));
  }
}
if (files.length === 0) console.error('run-all: no benchmarks found in bench/');
console.error(`run-all: ${files.length - failed}/${files.length} benchmarks passed`);
process.exitCode = failed > 0 ? 1 : 0;
