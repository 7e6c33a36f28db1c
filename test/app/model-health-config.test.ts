// Config orchestrator.health: a small window alone is taken, minJudged and recoverAfter following it; the monitor
// built from the parsed config gets the same figures.
import { describe, expect, it } from 'vitest';
import { ModelHealthMonitor } from '../../actors/orchestrator/model-health.ts';
import { configSchema } from '../../engine/config/schema.ts';

describe('config orchestrator.health', () => {
  it('takes a window of 50 alone: minJudged defaults to min(100, window), recoverAfter to window / 2', () => {
    const health = configSchema.parse({ orchestrator: { health: { window: 50 } } }).orchestrator.health;

    expect(new ModelHealthMonitor(health).config).toMatchObject({ window: 50, minJudged: 50, recoverAfter: 25, minGapMs: 1_800_000 });
    expect(new ModelHealthMonitor(configSchema.parse({}).orchestrator.health).config).toMatchObject({ window: 200, minJudged: 100, recoverAfter: 100 });
  });

  it('still refuses a minJudged above the window, and takes recoverAfter and minGapMs', () => {
    expect(configSchema.safeParse({ orchestrator: { health: { window: 50, minJudged: 60 } } }).success).toBe(false);
    const health = configSchema.parse({ orchestrator: { health: { recoverAfter: 30, minGapMs: 0 } } }).orchestrator.health;

    expect(new ModelHealthMonitor(health).config).toMatchObject({ recoverAfter: 30, minGapMs: 0 });
  });
});
