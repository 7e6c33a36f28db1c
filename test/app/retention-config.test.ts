// The retention scheduler's knobs (records per pass, unarchived deletes while behind, when to warn
// RETENTION_BEHIND) were fixed in code, so a daemon with a large backlog could not be tuned. They are now config
// store.retention keys, bounded by the schema, with defaults equal to the old fixed values.
import { rmSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { retentionOptionsOf } from '../../app/history-retention.ts';
import { buildSystem, type System } from '../../app/system.ts';
import { configSchema } from '../../engine/config/schema.ts';
import type { ModelOutput } from '../../engine/messages/signals.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import type { InferenceRecord } from '../../engine/store/inference-history.ts';
import type { TsMs } from '../../engine/types/time.ts';
import { testConfig } from '../e2e/helpers.ts';

const T0 = 1_723_161_253_937;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function rec(ts: number): InferenceRecord {
  const output: ModelOutput = { model: 'cnn', version: 'v1', symbol: 'ETH/USDT', ts: ts as TsMs, action: 'HOLD', probabilities: [0.2, 0.2, 0.6], confidence: 0.6 };
  return { model: 'cnn', symbol: 'ETH/USDT', ts: ts as TsMs, input: { features: Float32Array.from([1, 2, 3]), shape: [3], timeframe: '1s' }, output };
}

/** A paper system (not started) whose history keeps 2 records, with `retention` over that; logs kept as objects. */
async function paperSystem(retention: Record<string, unknown>): Promise<{ sys: System; lines: Record<string, unknown>[]; add: (n: number) => Promise<void> }> {
  const config = testConfig({ mode: 'paper', store: { retention: { maxRecords: 2, archive: false, ...retention } } });
  dirs.push(path.dirname(config.store.path));
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const sys = await buildSystem(config, { clock: new SimulatedClock(T0 + 100_000_000), mode: 'paper', noSync: true, maintenanceMs: 0, dataOverride: () => undefined, logger });
  let next = 0;
  const add = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) void sys.history.record(rec(T0 + 1_000 * next++));
    await sys.store.flush();
  };
  return { sys, lines, add };
}

describe('store.retention scheduler keys', () => {
  it('keeps the old fixed values as defaults', () => {
    const r = configSchema.parse({}).store.retention;

    expect([r.maxPerPass, r.maxDropPerPass, r.dropWhenBehind, r.behindFactor, r.warnEveryMinutes]).toEqual([2_000, undefined, true, 1, 5]);
    expect(retentionOptionsOf(r)).toEqual({ everyMs: 600_000, maxPerPass: 2_000, dropWhenBehind: true, behindFactor: 1, warnEveryMs: 300_000 });
  });

  it.each([
    ['maxPerPass', 0], ['maxPerPass', 1.5], ['maxPerPass', 20_001],
    ['maxDropPerPass', 0], ['maxDropPerPass', 2_000_001],
    ['behindFactor', 0], ['behindFactor', -1], ['behindFactor', 1_001],
    ['warnEveryMinutes', 0], ['warnEveryMinutes', 1_441],
    ['dropWhenBehind', 'yes'],
  ])('refuses store.retention.%s %s', (key, value) => {
    const r = configSchema.safeParse({ store: { retention: { [key]: value } } });

    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toEqual([`store.retention.${key}`]);
  });

  it('sets the warning interval in wall minutes', () => {
    const r = configSchema.parse({ store: { retention: { warnEveryMinutes: 0.5, maxDropPerPass: 7 } } }).store.retention;

    expect(retentionOptionsOf(r)).toMatchObject({ warnEveryMs: 30_000, maxDropPerPass: 7 });
  });
});

describe('a paper daemon built with store.retention scheduler keys', () => {
  it('removes at most maxPerPass a pass, and maxDropPerPass more once passes stop gaining', async () => {
    const { sys, add } = await paperSystem({ maxPerPass: 3, maxDropPerPass: 4 });
    const removed: number[] = [];
    try {
      await add(20);
      await sys.retention!.runOnce(); // backlog 18: 3 removed
      removed.push(sys.retention!.stats.removed);
      await add(5);
      await sys.retention!.runOnce(); // backlog 20 >= 18: not gaining, so the next pass drops too
      await sys.retention!.runOnce();
      removed.push(sys.retention!.stats.removed);
    } finally {
      await sys.stop('test');
    }

    expect(removed).toEqual([3, 3 + 3 + (3 + 4)]);
  });

  it('does not delete beyond maxPerPass while behind when dropWhenBehind is false', async () => {
    const { sys, add } = await paperSystem({ maxPerPass: 3, dropWhenBehind: false });
    try {
      await add(20);
      await sys.retention!.runOnce();
      await add(5);
      await sys.retention!.runOnce();
      await sys.retention!.runOnce();
    } finally {
      await sys.stop('test');
    }

    expect(sys.retention!.stats.removed).toBe(9);
  });

  it.each([[1, 1], [10, 0]])('with behindFactor %s warns RETENTION_BEHIND %s times for 15 records left beyond 2 kept', async (behindFactor, warnings) => {
    const { sys, lines, add } = await paperSystem({ maxPerPass: 3, behindFactor });
    try {
      await add(20);
      await sys.retention!.runOnce();
    } finally {
      await sys.stop('test');
    }

    expect(lines.filter((l) => l['code'] === 'RETENTION_BEHIND')).toHaveLength(warnings);
  });
});
