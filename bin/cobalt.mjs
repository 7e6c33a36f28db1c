#!/usr/bin/env -S node --single-threaded-gc
// The `cobalt` command. Sources are TypeScript run through tsx, so a clone works without a build step.
// --single-threaded-gc: on 2 vCPUs, V8's parallel GC threads competed with the inference pool and the event loop;
// without them the live-like (paced) tick -> intent p99 fell from 1.1-1.7 ms to 0.6-0.9 ms and the CNN's from
// 4.4-5.9 ms to 3.0-3.5 ms, with backtest speed unchanged (bench/loop.ts, 4 runs each). V8 takes it only at start,
// hence the shebang (and `npm start`); `node bin/cobalt.mjs` runs without it.
import { register } from 'tsx/esm/api';

register();
await import('../engine/cli.ts');
