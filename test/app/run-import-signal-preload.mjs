// Loaded with `node --import` into a real `cobalt run` by run-import-signal.test.ts (test code, never the product's):
// sends the process SIGTERM while the `run` action imports app/run.ts, i.e. before runCommand exists. The import
// takes seconds of the start (tsx compiles the daemon's module graph); the hook sees it resolved and signals then.
import { register } from 'node:module';

register('./run-import-signal-hooks.mjs', import.meta.url);
