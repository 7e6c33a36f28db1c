import { describe, expect, it } from 'vitest';
import { ModelRegistry, type ModelRunner } from '../../../actors/orchestrator/registry.ts';
import type { ModelOutput } from '../../../engine/messages/signals.ts';
import { ConfigError } from '../../../engine/types/errors.ts';

// A real (tiny) model: the sign of the mean of its input.
const meanRule = (bias = 0): ModelRunner => async (x, ctx): Promise<ModelOutput> => {
  const m = x.reduce((a, b) => a + b, 0) / x.length + bias;
  const p: [number, number, number] = m > 0 ? [0.6, 0.2, 0.2] : m < 0 ? [0.2, 0.6, 0.2] : [0.2, 0.2, 0.6];
  return { model: ctx.model, version: ctx.version, symbol: ctx.symbol, ts: ctx.ts, action: m > 0 ? 'BUY' : m < 0 ? 'SELL' : 'HOLD', probabilities: p, confidence: 0.6 };
};

describe('model registry', () => {
  it('keeps versions, activates, rolls back through the history and lists it all', () => {
    const r = new ModelRegistry();
    const first = r.register('cnn', { version: 'v1', run: meanRule() }, 0);
    expect(first).toMatchObject({ type: 'signal.modelStatus', model: 'cnn', version: 'v1', state: 'active' });
    expect(r.register('cnn', { version: 'v2', run: meanRule(1) }, 1)).toBeUndefined(); // registered, not active
    expect(r.active('cnn')!.version).toBe('v1');
    r.register('cnn', { version: 'v3', run: meanRule(2) }, 2, { activate: true });
    r.activate('cnn', 'v2', 3);
    expect(r.list()[0]).toMatchObject({ name: 'cnn', active: 'v2', versions: ['v1', 'v2', 'v3'], rollbackTo: ['v3', 'v1'], health: 'active' });
    expect(r.rollback('cnn', 4)).toMatchObject({ version: 'v3', reason: 'rolled back from v2 to v3' });
    expect(r.rollback('cnn', 5).version).toBe('v1');
    expect(() => r.rollback('cnn', 6)).toThrow(/no earlier version/);
    expect(() => r.register('cnn', { version: 'v1', run: meanRule() }, 7)).toThrow(ConfigError);
    expect(() => r.activate('cnn', 'v9', 7)).toThrow(/has no version v9/);
    expect(() => r.rollback('nope', 7)).toThrow(/no model named nope/);
  });

  it('drops a model after N failures in a row, probes it after the cool-down and re-admits it on success', () => {
    const r = new ModelRegistry({ maxConsecutiveFailures: 3, coolDownMs: 10_000 });
    r.register('cnn', { version: 'v1', run: meanRule() }, 0);
    r.register('dqn', { version: 'v1', run: meanRule(), dependsOn: ['cnn'] }, 0);
    const err = new Error('onnx session lost');
    expect(r.recordFailure('cnn', 'v1', err, 100)).toBeUndefined();
    expect(r.recordSuccess('cnn', 'v1', 200)).toBeUndefined(); // a success resets the run of failures
    expect(r.recordFailure('cnn', 'v1', err, 300)).toBeUndefined();
    expect(r.recordFailure('cnn', 'v1', err, 400)).toBeUndefined();
    const dropped = r.recordFailure('cnn', 'v1', err, 500);
    expect(dropped).toMatchObject({ model: 'cnn', state: 'failed', consecutiveFailures: 3 });
    expect(dropped!.reason).toContain('Error: onnx session lost');
    expect(r.blendable('cnn')).toBe(false);
    expect(r.runnable(5_000)).toEqual([{ name: 'dqn', probe: false }]);
    expect(r.list()[0]).toMatchObject({ health: 'failed', probeAt: 10_500, failures: 4, runs: 5 });

    // Cool-down over: probed first (dependency order), a failed probe drops it again for another cool-down.
    expect(r.runnable(10_500)).toEqual([{ name: 'cnn', probe: true }, { name: 'dqn', probe: false }]);
    expect(r.beginProbe('cnn', 10_500)).toMatchObject({ state: 'probing' });
    expect(r.runnable(10_600).map((x) => x.name)).toEqual(['dqn']);
    expect(r.recordFailure('cnn', 'v1', err, 10_700)).toMatchObject({ state: 'failed' });
    expect(r.runnable(20_600).map((x) => x.name)).toEqual(['dqn']);
    r.beginProbe('cnn', 20_700);
    expect(r.recordSuccess('cnn', 'v1', 20_800)).toMatchObject({ state: 'active', consecutiveFailures: 0, reason: 'probe succeeded: back in the blend' });
    expect(r.blendable('cnn')).toBe(true);
  });

  it('ignores results of a version that is no longer active, and a new version starts healthy', () => {
    const r = new ModelRegistry({ maxConsecutiveFailures: 1, coolDownMs: 1_000 });
    r.register('cnn', { version: 'v1', run: meanRule() }, 0);
    r.register('cnn', { version: 'v2', run: meanRule() }, 0, { activate: true });
    expect(r.recordFailure('cnn', 'v1', new Error('late'), 1)).toBeUndefined();
    expect(r.health('cnn')).toBe('active');
    expect(r.recordFailure('cnn', 'v2', new Error('bad'), 2)).toMatchObject({ state: 'failed' });
    expect(r.rollback('cnn', 3)).toMatchObject({ version: 'v1', state: 'active', consecutiveFailures: 0 });
  });

  it('orders models after their dependencies and refuses cycles', () => {
    const r = new ModelRegistry();
    r.register('dqn', { version: 'v1', run: meanRule(), dependsOn: ['cnn'] }, 0);
    r.register('momentum', { version: 'v1', run: meanRule() }, 0);
    r.register('cnn', { version: 'v1', run: meanRule() }, 0);
    expect(r.runnable(0).map((x) => x.name)).toEqual(['momentum', 'cnn', 'dqn']);
    expect(() => r.register('cnn', { version: 'v2', run: meanRule(), dependsOn: ['dqn'] }, 0, { activate: true })).toThrow(/cycle/);
    expect(r.active('cnn')!.version).toBe('v1');
    expect(() => r.register('x', { version: 'v1', run: meanRule(), dependsOn: ['x'] }, 0)).toThrow(/itself/);
  });
});

describe('model registry runnable list (cached between changes)', () => {
  const names = (r: ModelRegistry, now: number): string[] => r.runnable(now).map((x) => `${x.name}${x.probe ? '?' : ''}`);

  it('changes at once on register, activate and rollback (dependency order follows the active version)', () => {
    const r = new ModelRegistry();
    r.register('a', { version: 'a1', run: meanRule() }, 0);
    expect(names(r, 0)).toEqual(['a']);
    r.register('b', { version: 'b1', run: meanRule() }, 0);
    expect(names(r, 0)).toEqual(['a', 'b']);
    expect(r.names()).toEqual(['a', 'b']);
    // a2 depends on b: activating it puts a after b; rolling back restores registration order.
    r.register('a', { version: 'a2', dependsOn: ['b'], run: meanRule() }, 1);
    expect(names(r, 1)).toEqual(['a', 'b']);
    r.activate('a', 'a2', 2);
    expect(names(r, 2)).toEqual(['b', 'a']);
    r.rollback('a', 3);
    expect(names(r, 3)).toEqual(['a', 'b']);
    r.register('a', { version: 'a3', dependsOn: ['b'], run: meanRule() }, 4, { activate: true });
    expect(names(r, 4)).toEqual(['b', 'a']);
  });

  it('changes at once on a drop, the end of the cool-down, a probe and a re-admission', () => {
    const r = new ModelRegistry({ maxConsecutiveFailures: 1, coolDownMs: 100 });
    r.register('a', { version: 'a1', run: meanRule() }, 0);
    r.register('b', { version: 'b1', run: meanRule() }, 0);
    expect(names(r, 0)).toEqual(['a', 'b']);
    r.recordFailure('a', 'a1', new Error('boom'), 10);
    expect(names(r, 10)).toEqual(['b']);
    expect(names(r, 109)).toEqual(['b']);
    expect(names(r, 110)).toEqual(['a?', 'b']); // cool-down over: due by time alone
    r.beginProbe('a', 110);
    expect(names(r, 111)).toEqual(['b']); // a probe in flight is not returned again
    r.recordSuccess('a', 'a1', 112);
    expect(names(r, 112)).toEqual(['a', 'b']);
    r.recordFailure('b', 'b1', new Error('boom'), 113);
    expect(names(r, 113)).toEqual(['a']);
  });

  it('hands out copies: a caller editing its list does not change the next one', () => {
    const r = new ModelRegistry();
    r.register('a', { version: 'a1', run: meanRule() }, 0);
    r.runnable(0).pop();
    r.names().pop();
    expect(names(r, 0)).toEqual(['a']);
    expect(r.names()).toEqual(['a']);
  });
});
