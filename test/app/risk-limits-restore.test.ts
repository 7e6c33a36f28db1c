// Limits an operator set at run time across restarts (app/risk-child.ts restoreLimits; review of 5b8d4e4, finding 2):
// the record keeps the config limits the operator's replaced, so a start keeps each field the operator set while its
// config value is unchanged. An upgrade that adds a schema default (5b8d4e4: risk.breaker.maxSpreadBps and spreadMs)
// changes riskLimitsKey, and before this fix it dropped every limit set from the dashboard.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { restoreLimits, riskChild, type RiskControl } from '../../app/risk-child.ts';
import { riskLimitsFromConfig, riskLimitsKey } from '../../app/risk-limits.ts';
import type { RiskState } from '../../actors/risk-manager/index.ts';
import { configSchema, type Config } from '../../engine/config/schema.ts';
import type { RiskLimits } from '../../engine/messages/risk.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { createLogger, setLogger } from '../../engine/log.ts';
import { captureLog } from '../e2e/live-driver.ts';
import { money } from '../../engine/types/money.ts';
import { ETH } from '../actors/risk-manager/helpers.ts';

const EQUITY = money('10000');
const configOf = (risk: Record<string, unknown> = {}): Config => configSchema.parse({ risk });
const limitsOf = (c: Config): RiskLimits => riskLimitsFromConfig(c, EQUITY, ETH);
const keyOf = (c: Config): string => riskLimitsKey(c, ETH, EQUITY);
const control = (l: RiskControl['limits']): RiskControl => ({ tradingState: 'active', stateReason: '', killSwitch: false, peakEquity: EQUITY, limits: l });

/** The config as parsed before 5b8d4e4 (no spread guard keys), which keyed the records written then. */
function beforeSpreadGuard(c: Config): Config {
  const { maxSpreadBps: _b, spreadMs: _m, ...breaker } = c.risk.breaker;
  return { ...c, risk: { ...c.risk, breaker } } as unknown as Config;
}

/** The limits as 5b8d4e4's parent derived them (no spread guard), with the operator's order cap and stop loss off. */
function operatorSetBefore(c: Config): RiskLimits {
  const { maxSpreadBps: _b, spreadMs: _m, stopLossBps: _s, ...rest } = limitsOf(c);
  return { ...rest, maxOrderNotional: money('120') };
}

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('limits set at run time across restarts', () => {
  it('keeps the operator\'s limits of a record written before an upgrade that added schema defaults, new fields from the config', () => {
    const c = configOf();
    const r = restoreLimits({ limits: limitsOf(c) }, control({ base: keyOf(beforeSpreadGuard(c)), set: operatorSetBefore(c) }), keyOf(c));
    expect(r).toMatchObject({ configWon: [], migrated: true, limits: { maxOrderNotional: money('120'), maxSpreadBps: 50, spreadMs: 2_000, maxMoveBps: 500 } });
    expect(r.limits?.stopLossBps).toBeUndefined(); // switched off by the operator: stays off
  });

  it('drops a record of the old format set over config values edited since', () => {
    const c = configOf();
    const edited = configOf({ maxOrderNotional: '200' });
    const r = restoreLimits({ limits: limitsOf(edited) }, control({ base: keyOf(beforeSpreadGuard(c)), set: operatorSetBefore(c) }), keyOf(edited));
    expect([r.limits, r.dropped !== undefined]).toEqual([undefined, true]);
  });

  it('keeps each field the operator set while its config value is unchanged, gives way to an edited one, and takes the rest from the config', () => {
    const c = configOf();
    const set: RiskLimits = { ...limitsOf(c), maxOrderNotional: money('120'), maxDrawdownBps: 300 };
    const edited = configOf({ maxDrawdownPct: 8, stopLossPct: 3, breaker: { maxSpreadBps: 30 } });
    const r = restoreLimits({ limits: limitsOf(edited) }, control({ base: keyOf(c), config: limitsOf(c), set }), keyOf(edited));
    expect(r).toMatchObject({ configWon: ['maxDrawdownBps'], migrated: false, limits: { maxOrderNotional: money('120'), maxDrawdownBps: 800, stopLossBps: 300, maxSpreadBps: 30 } });
  });

  it('keeps a field the operator set whose config value moved while the key is the same (a live balance)', () => {
    const c = configOf();
    const set: RiskLimits = { ...limitsOf(c), maxVar99: money('700') };
    const moved: RiskLimits = { ...limitsOf(c), maxVar99: money('590') };
    const r = restoreLimits({ limits: moved }, control({ base: 'live-key', config: limitsOf(c), set }), 'live-key');
    expect(r.limits?.maxVar99).toBe(money('700'));
  });

  it('restores a record of the old format at a start, says so, and rewrites it in the current format', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-limits-'));
    const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
    const db = store.db<string, RiskControl>('risk.control');
    const c = configOf();
    await db.put('control', control({ base: keyOf(beforeSpreadGuard(c)), set: operatorSetBefore(c) }));
    const captured = captureLog();
    setLogger(captured.logger);
    let read: (() => RiskState) | undefined;
    let started: RiskLimits | undefined;
    try {
      const actor = createActor(riskChild, { input: { bus: new Bus(), clock: new SimulatedClock(1_000_000), initial: { limits: limitsOf(c), instruments: [ETH], cash: EQUITY }, fills: () => [], store, limitsKey: keyOf(c), onState: (g) => void (read = g) } });
      actor.start();
      started = read!().limits;
      actor.stop();
      await store.flush();
    } finally {
      setLogger(createLogger());
    }
    const rewritten = db.get('control')!.limits!;
    await store.close();
    expect(started).toMatchObject({ maxOrderNotional: money('120'), maxSpreadBps: 50, spreadMs: 2_000 });
    expect(captured.withCode('RISK_LIMITS_RESTORED').map((l) => l['migrated'])).toEqual([true]);
    expect([rewritten.base, rewritten.config?.maxSpreadBps, rewritten.set.maxOrderNotional]).toEqual([keyOf(c), 50, money('120')]);
  });

  it('names the fields that give way to an edited config in the log, and a return to the old config brings them not back', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cobalt-risk-limits-'));
    const store = LmdbStore.open({ path: dir, noSync: true, syncCommits: true });
    const c = configOf();
    const edited = configOf({ maxDrawdownPct: 8 });
    const start = async (cfg: Config, then?: (bus: Bus) => void): Promise<RiskLimits> => {
      const bus = new Bus();
      let read: (() => RiskState) | undefined;
      const actor = createActor(riskChild, { input: { bus, clock: new SimulatedClock(1_000_000), initial: { limits: limitsOf(cfg), instruments: [ETH], cash: EQUITY }, fills: () => [], store, limitsKey: keyOf(cfg), onState: (g) => void (read = g) } });
      actor.start();
      then?.(bus);
      const l = read!().limits;
      actor.stop();
      await store.flush();
      return l;
    };
    await start(c, (bus) => bus.publish({ type: 'risk.setLimits', limits: { maxOrderNotional: money('120'), maxDrawdownBps: 600 }, ts: 1_000_000 }));
    const captured = captureLog();
    setLogger(captured.logger);
    let afterEdit: RiskLimits;
    try {
      afterEdit = await start(edited);
    } finally {
      setLogger(createLogger());
    }
    const back = await start(c);
    await store.close();
    expect([afterEdit.maxOrderNotional, afterEdit.maxDrawdownBps]).toEqual([money('120'), 800]);
    expect(captured.withCode('RISK_LIMITS_RESET').map((l) => l['fields'])).toEqual([['maxDrawdownBps']]);
    expect([back.maxOrderNotional, back.maxDrawdownBps]).toEqual([money('120'), 1_000]);
  });
});
