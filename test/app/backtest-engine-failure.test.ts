// A backtest whose engine halted on a fault (an actor spent its restart budget: sys.halted) is not a result: the
// summary says which actor and why (engineFailure) and `cobalt backtest` exits 1 after printing it. A halt by a risk
// limit is a result and stays exit 0 (haltedReason).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CobAggregator } from '../../actors/cob-aggregator/index.ts';
import type { BacktestResult } from '../../app/backtest.ts';
import { captureOutput } from '../capture-output.ts';
import { testConfig } from '../e2e/helpers.ts';

type DepthHandler = (this: CobAggregator, m: unknown) => void;
const proto = CobAggregator.prototype as unknown as { onDepthRaw: DepthHandler };

describe('a backtest whose engine halts on a fault', () => {
  const original = proto.onDepthRaw;
  afterEach(() => {
    proto.onDepthRaw = original;
    vi.doUnmock('../../app/backtest.ts');
    vi.resetModules();
  });

  it('names the actor that spent its restart budget in engineFailure', async () => {
    const { runBacktest } = await import('../../app/backtest.ts');
    let armed = false;
    // Every depth frame after the first trade throws inside the supervised COB actor, after each restart too.
    proto.onDepthRaw = function (this: CobAggregator, m: unknown) {
      if (armed) throw new Error('injected depth fault');
      original.call(this, m);
    };
    const r = await runBacktest(testConfig(), { seed: 5, maxSpanMs: 120_000, onSystem: (s) => void s.bus.subscribe('md.trade', () => void (armed = true)) });
    expect(r.summary.engineFailure).toMatch(/cob/);
    expect(r.summary.engineFailure).toMatch(/injected depth fault/);
  }, 120_000);

  it('prints the summary, then the fault on stderr, and exits 1', async () => {
    const summary = { engineFailure: "actor 'cob': failed 6 times", symbol: 'ETH/USDT', seed: 1 } as unknown as BacktestResult['summary'];
    vi.doMock('../../app/backtest.ts', () => ({ runBacktest: async () => ({ summary }) }));
    const { backtestCommand } = await import('../../app/cli-backtest.ts');
    const { result: code, out, err } = await captureOutput(() => backtestCommand({ config: 'configs/backtest.yaml', json: true, report: false }));
    expect(code).toBe(1);
    expect(JSON.parse(out)).toMatchObject({ engineFailure: "actor 'cob': failed 6 times" });
    expect(err).toContain("cobalt backtest: the engine halted on a fault (actor 'cob': failed 6 times); the figures cover only the time before it");
  });
});
