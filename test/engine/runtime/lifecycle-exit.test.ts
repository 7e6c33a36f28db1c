// The last log lines at exit (runtime review finding 5b): the log writes asynchronously (pino.destination), and the
// signal handler called process.exit as soon as the shutdown finished, while "shutdown finished" and "stopped" could
// still be in flight: lost, or written out of order. The exit now waits for the log to be written out.
import { EventEmitter } from 'node:events';
import { mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushLog, log, logDestination, setLogger } from '../../../engine/log.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { installSignalHandlers, Lifecycle } from '../../../engine/runtime/lifecycle.ts';

const previous = log();
afterEach(() => {
  setLogger(previous);
  vi.restoreAllMocks();
});

// A log destination that holds each line until it is flushed, then writes them out a turn later (as an asynchronous
// write to stderr does).
function slowDestination() {
  const held: string[] = [];
  const written: string[] = [];
  return {
    held, written,
    write(line: string) {
      held.push(line);
    },
    flush(cb: (err?: Error) => void) {
      setImmediate(() => {
        written.push(...held.splice(0));
        cb();
      });
    },
  };
}

describe('the exit after a signal', () => {
  it('comes once every line of the shutdown is written out', async () => {
    const dest = slowDestination();
    setLogger(pino({ level: 'info' }, dest));
    const atExit: { code: number | undefined; held: number; written: number }[] = [];
    vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      atExit.push({ code, held: dest.held.length, written: dest.written.length });
    }) as never);
    const lifecycle = new Lifecycle({ bus: new Bus(), clock: new SimulatedClock(0) });
    const source = new EventEmitter();
    installSignalHandlers(lifecycle, { source: source as never, onReport: (r) => log().info({ ok: r.ok }, 'stopped') });

    source.emit('SIGTERM', 'SIGTERM');
    await vi.waitFor(() => expect(atExit).toHaveLength(1));

    // shutdown started, shutdown finished, stopped
    expect(atExit).toEqual([{ code: 0, held: 0, written: 3 }]);
  });
});

describe('a signal once the shutdown finished', () => {
  it('changes nothing while the exit writes out the log', async () => {
    const exits: number[] = [];
    const lifecycle = new Lifecycle({ bus: new Bus(), clock: new SimulatedClock(0) });
    const source = new EventEmitter();
    // The exit is not immediate (it writes out the log first): a Ctrl-C lands meanwhile.
    const exit = (code: number): void => {
      exits.push(code);
      if (exits.length === 1) source.emit('SIGINT', 'SIGINT');
    };
    installSignalHandlers(lifecycle, { source: source as never, exit });

    source.emit('SIGTERM', 'SIGTERM');
    await lifecycle.shutdown();
    await new Promise((r) => setImmediate(r));

    expect(exits).toEqual([0]);
  });
});

describe('the daemon\'s log destination', () => {
  it('answers a flush once the write in flight is done', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-log-flush-'));
    const fd = openSync(path.join(dir, 'log'), 'w');
    try {
      const dest = logDestination(fd);
      const logger = pino({ level: 'info' }, dest);
      let written = false;
      dest.once('write', () => (written = true));
      logger.info('one line');
      await flushLog(logger);

      expect(written).toBe(true);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
