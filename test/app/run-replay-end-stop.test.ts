// `cobalt run` stops at the end of a replay through the process's one graceful stop (ProcessStop),
// the one the signal handler uses, instead of posing as a signal: the same REPLAY_ENDED / REPLAY_FAILED lines and
// exit codes (0, and 1 when the replay failed), and a signal during that stop still forces the exit.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { stopAtReplayEnd } from '../../app/run.ts';
import { installSignalHandlers } from '../../engine/runtime/lifecycle.ts';
import { settle, stopRig } from '../engine/runtime/stop-rig.ts';

function rig() {
  const { clock, lifecycle, codes, reports, stop } = stopRig();
  const lines: { code?: string; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as { code?: string; msg: string }) });
  const source = new EventEmitter();
  installSignalHandlers(lifecycle, { source, stop });
  let end!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<void>((res, rej) => {
    end = res;
    fail = rej;
  });
  stopAtReplayEnd(done, stop, logger);
  return { clock, lifecycle, codes, reports, lines, source, end, fail };
}

describe('cobalt run when the replay ends', () => {
  it('says REPLAY_ENDED, shuts down gracefully and exits 0', async () => {
    const { codes, reports, lines, end } = rig();
    end();
    await settle();

    expect(lines.map((l) => l.code).filter(Boolean)).toEqual(['REPLAY_ENDED']);
    expect(reports.map((r) => r.signal)).toEqual(['REPLAY_ENDED']);
    expect(codes).toEqual([0]);
  });

  it('says REPLAY_FAILED, shuts down and exits 1 when the replay failed', async () => {
    const { codes, reports, lines, fail } = rig();
    fail(new Error('unexpected end of file'));
    await settle();

    expect(lines.map((l) => l.code).filter(Boolean)).toEqual(['REPLAY_FAILED']);
    expect(reports.map((r) => r.signal)).toEqual(['REPLAY_ENDED']);
    expect(codes).toEqual([1]);
  });

  it('leaves a shutdown a signal began to finish as asked, says nothing more, and exits 1 if the replay failed meanwhile', async () => {
    const { codes, reports, lines, source, fail } = rig();
    source.emit('SIGTERM', 'SIGTERM');
    fail(new Error('unexpected end of file'));
    await settle();

    expect(lines.map((l) => l.code).filter(Boolean)).toEqual([]);
    expect(reports.map((r) => r.signal)).toEqual(['SIGTERM']);
    expect(codes).toEqual([1]);
  });

  it('exits at once on a signal while the stop the replay\'s end asked for drains', async () => {
    const { clock, codes, lifecycle, source, end } = rig();
    lifecycle.onDrain('slow', () => new Promise<void>(() => {}), { timeoutMs: 10_000 });
    end();
    await settle();
    source.emit('SIGINT', 'SIGINT');
    expect(codes).toEqual([130]);

    clock.advance(10_000);
    await settle();
    expect(codes).toEqual([130, 1]);
  });
});
