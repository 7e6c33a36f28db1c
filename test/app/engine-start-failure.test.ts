// An actor the start waits for (the executor's reconciliation, the data provider's history) that cannot start must fail
// the start with a clear error, not leave it waiting forever: in a backtest its restart delays run on the simulated
// clock, which only the replay moves, and the replay begins after the start.
import { afterEach, describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../actors/trading-executor/executor.ts';
import { createLogger, setLogger } from '../../engine/log.ts';
import { EngineStartError } from '../../engine/types/errors.ts';
import { captureOutput } from '../capture-output.ts';
import { testConfig } from '../e2e/helpers.ts';

// The injected failure is logged (ACTOR_FAILED) by design: kept out of the test output.
setLogger(createLogger({ level: 'silent' }));

const proto = TradingExecutor.prototype as unknown as { start: () => Promise<unknown> };
const original = proto.start;

describe('an engine whose executor cannot start', () => {
  afterEach(() => {
    proto.start = original;
  });

  it('fails the backtest start with EngineStartError naming the actor and its error', async () => {
    const { runBacktest } = await import('../../app/backtest.ts');
    proto.start = async () => {
      throw new Error('injected: the exec store cannot be read');
    };
    const err = await runBacktest(testConfig(), { seed: 1, maxSpanMs: 60_000, logger: createLogger({ level: 'silent' }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineStartError);
    expect((err as Error).message).toMatch(/actor 'executor' failed while the backtest started: .*injected: the exec store cannot be read/);
  }, 60_000);

  it('makes cobalt backtest say so on stderr and exit 1', async () => {
    const { backtestCommand } = await import('../../app/cli-backtest.ts');
    proto.start = async () => {
      throw new Error('injected: the exec store cannot be read');
    };
    const { result: code, err } = await captureOutput(() => backtestCommand({ config: 'configs/backtest.yaml', json: true, report: false }));
    expect(code).toBe(1);
    expect(err).toMatch(/^cobalt backtest: actor 'executor' failed while the backtest started/m);
  }, 60_000);
});

describe('a daemon whose executor cannot start', () => {
  afterEach(() => {
    proto.start = original;
  });

  it('fails the start with EngineStartError once the executor spent its restart budget, instead of waiting forever', async () => {
    const { buildSystem } = await import('../../app/system.ts');
    const { SimulatedClock } = await import('../../engine/runtime/clock.ts');
    const { createLogger } = await import('../../engine/log.ts');
    proto.start = async () => {
      throw new Error('injected: the exec store cannot be read');
    };
    const config = testConfig({ mode: 'paper' });
    const sys = await buildSystem(config, {
      clock: new SimulatedClock(1_723_161_253_937), mode: 'paper', noSync: true, maintenanceMs: 0, dataOverride: () => undefined,
      logger: createLogger({ level: 'silent' }), restart: { maxRestarts: 0 },
    });
    try {
      const err = await sys.start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineStartError);
      expect((err as Error).message).toMatch(/^the engine halted before it was ready: actor 'executor' failed 1 times .*injected: the exec store cannot be read/);
    } finally {
      await sys.stop('test');
    }
  }, 60_000);
});
