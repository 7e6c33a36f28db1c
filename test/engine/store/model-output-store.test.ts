import { describe, expect, it } from 'vitest';
import type { Action, ModelOutput } from '../../../engine/messages/signals.ts';
import { ModelOutputStore } from '../../../engine/store/model-output-store.ts';

const T0 = 1_723_161_253_000; // 2024-08-08 23:54:13 UTC, start of the bundled recording
function out(model: string, symbol: string, ts: number, action: Action = 'HOLD'): ModelOutput {
  return { model, version: 'v1', symbol, ts, action, probabilities: [0.2, 0.3, 0.5], confidence: 0.5 };
}

describe('ModelOutputStore', () => {
  it('keeps only the last N outputs per model, oldest dropped first', () => {
    const s = new ModelOutputStore(1000);
    for (let i = 0; i < 1500; i++) s.add(out('cnn', 'ETH/USDT', T0 + i));
    for (let i = 0; i < 10; i++) s.add(out('dqn', 'ETH/USDT', T0 + i));
    expect(s.count('cnn')).toBe(1000);
    expect(s.count('dqn')).toBe(10);
    const kept = s.query({ model: 'cnn' });
    expect(kept[0]!.ts).toBe(T0 + 500);
    expect(kept.at(-1)!.ts).toBe(T0 + 1499);
  });

  it('queries by model, symbol and time range (from inclusive, to exclusive)', () => {
    const s = new ModelOutputStore(100);
    for (let i = 0; i < 10; i++) {
      s.add(out('cnn', 'ETH/USDT', T0 + i * 1000));
      s.add(out('cnn', 'BTC/USDT', T0 + i * 1000));
      s.add(out('dqn', 'ETH/USDT', T0 + i * 1000 + 500));
    }
    expect(s.query({ model: 'cnn', symbol: 'ETH/USDT', from: T0 + 2000, to: T0 + 5000 }).map((o) => o.ts))
      .toEqual([T0 + 2000, T0 + 3000, T0 + 4000]);
    expect(s.query({ symbol: 'ETH/USDT', from: T0 + 8000 }).map((o) => `${o.model}@${o.ts - T0}`))
      .toEqual(['cnn@8000', 'dqn@8500', 'cnn@9000', 'dqn@9500']);
    expect(s.query({ model: 'nope' })).toEqual([]);
    expect(s.query()).toHaveLength(30);
  });

  it('returns the latest output per model and symbol, for cross-model feeding', () => {
    const s = new ModelOutputStore();
    s.add(out('cnn', 'ETH/USDT', T0, 'BUY'));
    s.add(out('dqn', 'ETH/USDT', T0 + 5, 'SELL'));
    s.add(out('cnn', 'ETH/USDT', T0 + 10, 'HOLD'));
    s.add(out('cnn', 'BTC/USDT', T0 + 20, 'BUY'));
    s.add(out('cnn', 'ETH/USDT', T0 + 7, 'SELL')); // arrives late: not the latest
    expect(s.latest('cnn', 'ETH/USDT')!.ts).toBe(T0 + 10);
    expect(s.latest('dqn', 'BTC/USDT')).toBeUndefined();
    const all = s.latestAll('ETH/USDT');
    expect(Object.fromEntries([...all].map(([m, o]) => [m, o.action]))).toEqual({ cnn: 'HOLD', dqn: 'SELL' });
    expect(s.latestAll('SOL/USDT').size).toBe(0);
    expect(s.models().sort()).toEqual(['cnn', 'dqn']);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new ModelOutputStore(0)).toThrow(RangeError);
  });
});
