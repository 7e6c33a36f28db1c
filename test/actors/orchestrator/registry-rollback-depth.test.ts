// Review finding (online learning, retention): the registry never trimmed its rollback history, and each promotion
// pushed the previous version onto it, so a daemon promoting hourly held every version it ever ran as a rollback
// target. The history now keeps the newest ROLLBACK_DEPTH; rollback still walks back through those.
import { describe, expect, it } from 'vitest';
import { ModelRegistry, ROLLBACK_DEPTH, type ModelRunner } from '../../../actors/orchestrator/registry.ts';

const run: ModelRunner = async (_x, c) => ({ model: c.model, version: c.version, symbol: c.symbol, ts: c.ts, action: 'HOLD', probabilities: [0, 0, 1], confidence: 1 });

describe('the rollback history', () => {
  it('keeps the newest ROLLBACK_DEPTH versions, and rollback walks back through exactly those', () => {
    const r = new ModelRegistry();
    r.register('cnn', { version: 'v0', run }, 0);
    for (let i = 1; i <= 12; i++) r.register('cnn', { version: `v${i}`, run }, i, { activate: true });
    const info = r.list()[0]!;
    expect(ROLLBACK_DEPTH).toBe(5);
    expect(info.rollbackTo).toEqual(['v11', 'v10', 'v9', 'v8', 'v7']);
    // The versions it dropped stay registered, and no rollback reaches them any more: they can be removed.
    expect(info.versions).toHaveLength(13);
    expect(r.remove('cnn', 'v6')).toBe(true);
    for (const v of ['v11', 'v10', 'v9', 'v8', 'v7']) expect(r.rollback('cnn', 20).version).toBe(v);
    expect(() => r.rollback('cnn', 21)).toThrow(/no earlier version/);
  });

  it('counts activations through activate() too, and a rollback then a promotion keeps the bound', () => {
    const r = new ModelRegistry();
    r.register('dqn', { version: 'base', run }, 0);
    for (let i = 1; i <= 8; i++) {
      r.register('dqn', { version: `online-v${i}`, run }, i);
      r.activate('dqn', `online-v${i}`, i);
    }
    r.rollback('dqn', 9);
    r.register('dqn', { version: 'online-v9', run }, 10);
    r.activate('dqn', 'online-v9', 10);
    expect(r.list()[0]!.rollbackTo).toEqual(['online-v7', 'online-v6', 'online-v5', 'online-v4', 'online-v3']);
  });
});
