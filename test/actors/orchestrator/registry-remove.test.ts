// ModelRegistry.remove: a version no rollback can reach any more is dropped with its runner; the active version and
// those on the rollback history are not.
import { describe, expect, it } from 'vitest';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';

const hold: ModelRunner = async (_x, ctx) => ({ model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: 'HOLD', probabilities: [0, 0, 1], confidence: 1 });

describe('model registry: removing a version', () => {
  it('removes a rolled-back version, and refuses the active one and one a rollback can reach', () => {
    const r = new ModelRegistry();
    r.register('dqn', { version: 'v1', run: hold }, 0);
    r.register('dqn', { version: 'v2', run: hold }, 1, { activate: true });
    r.register('dqn', { version: 'v3', run: hold }, 2, { activate: true });
    expect(() => r.remove('dqn', 'v3')).toThrow('model dqn: cannot remove version v3, it is active');
    expect(() => r.remove('dqn', 'v2')).toThrow('model dqn: cannot remove version v2, a rollback can reach it');
    r.rollback('dqn', 3);
    expect(r.remove('dqn', 'v3')).toBe(true);
    expect(r.remove('dqn', 'v3')).toBe(false);
    expect(r.list()[0]).toMatchObject({ active: 'v2', versions: ['v1', 'v2'], rollbackTo: ['v1'] });
    expect(() => r.activate('dqn', 'v3', 4)).toThrow(/has no version v3/);
    expect(r.rollback('dqn', 5).version).toBe('v1');
  });
});
