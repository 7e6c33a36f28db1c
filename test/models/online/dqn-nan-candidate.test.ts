// Review finding (online 1): a DQN fine-tune whose weights came out NaN gives NaN Q-values, on which DqnAgent.act
// always picks action 0 (BUY): an always-long candidate that a rising held-out span promotes. The NaN network was saved,
// registered and activated; its runner then threw at every tick, and a restart loaded it again.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideDqnPromotion, dqnGatePolicy } from '../../../models/online/dqn-pipeline.ts';
import { decisions, dqnPipeline, liveParams, winning } from './dqn-fixture.ts';

describe('online DQN pipeline with a fine-tune that diverged', () => {
  it.each([
    ['one NaN weight', (p: Float32Array) => { p[0] = NaN; }],
    ['an infinite weight', (p: Float32Array) => { p[5] = -Infinity; }],
  ])('fails the run on %s, saving and registering nothing', async (_name, spoil) => {
    const params = liveParams.slice();
    spoil(params);
    const { p, registry, root } = dqnPipeline({ train: async () => winning(params), close: async () => {} });
    await expect(p.runOnce(decisions(400))).rejects.toThrow(/^DQN fine-tune returned a network with 1 non-finite weight of \d+ \(it diverged\): refused, nothing saved/);
    expect(registry.active('dqn')!.version).toBe('v000001');
    expect(registry.list()[0]!.versions).toEqual(['v000001']);
    expect(existsSync(path.join(root, 'dqn'))).toBe(false);
  });

  it('fails the run when a held-out figure is not finite', async () => {
    const r = winning(liveParams.slice());
    const { p, registry, root } = dqnPipeline({ train: async () => ({ ...r, candidateSteps: r.candidateSteps.map((x, i) => (i === 3 ? NaN : x)) }), close: async () => {} });
    await expect(p.runOnce(decisions(400))).rejects.toThrow(/^DQN fine-tune returned non-finite held-out figures \(candidate step returns\) \(it diverged\): refused, nothing saved/);
    expect(registry.active('dqn')!.version).toBe('v000001');
    expect(existsSync(path.join(root, 'dqn'))).toBe(false);
  });

  it('still promotes the same figures with finite weights', async () => {
    const { p, registry } = dqnPipeline({ train: async () => winning(liveParams.map((x) => x * 0.5)), close: async () => {} });
    expect(await p.runOnce(decisions(400))).toMatchObject({ promoted: true, version: 'online-v000001' });
    expect(registry.active('dqn')!.version).toBe('online-v000001');
  });

  it('decideDqnPromotion refuses non-finite returns', () => {
    const r = winning(liveParams);
    const gate = dqnGatePolicy({ minReturnGain: 0.001 });
    expect(decideDqnPromotion(r.live, r.candidate, { live: r.liveSteps, candidate: r.candidateSteps }, gate, 1).promote).toBe(true);
    const nanSteps = r.candidateSteps.map((x, i) => (i === 0 ? NaN : x));
    expect(decideDqnPromotion(r.live, r.candidate, { live: r.liveSteps, candidate: nanSteps }, gate, 1)).toMatchObject({ promote: false, reason: expect.stringMatching(/not finite/) });
    expect(decideDqnPromotion({ ...r.live, return: NaN }, r.candidate, { live: r.liveSteps, candidate: r.candidateSteps }, gate, 1)).toMatchObject({ promote: false, reason: expect.stringMatching(/not finite/) });
  });
});
