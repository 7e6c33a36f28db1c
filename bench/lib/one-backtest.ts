// One models-off backtest of the bundled recording in this (fresh) process, for bench/loop.ts: what one
// `cobalt backtest` pays. argv[2]: the replay catalog directory (a fresh one makes the run build the catalog first);
// argv[3] `text` reads the recording's text instead. Prints one JSON line.
import { runBacktest } from '../../app/backtest.ts';
import { createLogger, setLogger } from '../../engine/log.ts';
import { testConfig } from '../../test/e2e/helpers.ts';

setLogger(createLogger({ level: 'silent' }));
const dir = process.argv[2];
if (!dir) throw new Error('usage: one-backtest.ts <catalogDir> [text]');
const r = await runBacktest(testConfig({ data: { catalogDir: dir } }), { seed: 1, models: { momentum: false }, catalog: process.argv[3] !== 'text' });
const s = r.summary;
process.stdout.write(`${JSON.stringify({ speedX: s.speedX, replaySpeedX: s.replaySpeedX, durationMs: s.durationMs, replayMs: s.replayMs })}\n`);
process.exit(0);
