// Spawns `cobalt run` on a replay of the bundled recording (config written under `root`) with a preload module that
// signals it at a chosen point of its start; resolves with how it exited and its stderr.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { replayConfigYaml } from '../e2e/helpers.ts';

const BIN = path.resolve('bin/cobalt.mjs');
// Wall time: a loaded machine takes a minute or more to load the modules.
const EXIT_WAIT_MS = 150_000;

export async function runWithPreload(root: string, preload: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const config = path.join(root, 'paper.yaml');
  writeFileSync(config, replayConfigYaml(root, { speed: 1 }));
  const env = {
    PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', TMPDIR: process.env['TMPDIR'] ?? '/tmp',
    COBALT_LOG_PRETTY: '0', COBALT_LOG_LEVEL: 'info',
  };
  const child = spawn(process.execPath, ['--import', path.resolve(preload), BIN, 'run', '--config', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => void (stderr += b.toString('utf8')));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WAIT_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  return { code, signal, stderr };
}
