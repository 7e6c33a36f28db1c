import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../engine/infer/latency.ts';

describe('LatencyHistogram', () => {
  it('reports nearest-rank percentiles, max and mean', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) h.record(i / 10);
    expect(h.summary()).toEqual({ count: 100, p50Ms: 5, p99Ms: 9.9, maxMs: 10, meanMs: 5.05 });
    expect(h.percentile(100)).toBe(10);
    expect(h.percentile(0)).toBe(0.1);
  });

  it('keeps percentiles over the last `capacity` samples but counts all of them', () => {
    const h = new LatencyHistogram(10);
    for (let i = 0; i < 10; i++) h.record(100);
    for (let i = 0; i < 10; i++) h.record(1);
    const s = h.summary();
    expect([s.count, s.p99Ms, s.maxMs]).toEqual([20, 1, 100]);
  });

  it('ignores negative and non-finite samples and reads 0 when empty', () => {
    const h = new LatencyHistogram();
    h.record(-1);
    h.record(Number.NaN);
    expect(h.summary()).toEqual({ count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 });
  });
});
