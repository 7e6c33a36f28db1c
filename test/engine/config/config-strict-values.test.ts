// Config values that `config check` used to accept but the engine then refused at start, ignored, or silently turned
// into something else (review findings 2, 4-9). Each is refused by the schema now, naming the key and the value.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CobAggregator, cobSettingsFromConfig, cobSymbolsFromConfig } from '../../../actors/cob-aggregator/index.ts';
import { riskLimitsFromConfig } from '../../../app/risk-limits.ts';
import { configSchemaJson, loadConfig, parseEnvOverrides, validateConfig, type Config } from '../../../engine/config/index.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { ConfigError } from '../../../engine/types/errors.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import { money } from '../../../engine/types/money.ts';

const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

function accepted(doc: unknown): Config {
  const r = validateConfig(doc);
  if (!r.ok) throw new Error(`expected the config to be accepted: ${r.problems.join('; ')}`);
  return r.config;
}
const problemsOf = (doc: unknown, env: Record<string, string> = {}): string[] => {
  const r = validateConfig(doc, parseEnvOverrides(env));
  return r.ok ? [] : r.problems;
};

// What the engine builds from the config's cob section at start (app/system.ts): it throws ConfigError on what it cannot use.
function startCob(config: Config): CobAggregator {
  return new CobAggregator({
    bus: new Bus<EngineMsg>(), clock: new SimulatedClock(0), snapshots: { requestSnapshot: () => {} },
    symbols: cobSymbolsFromConfig(config, [ETH, BTC]), settings: cobSettingsFromConfig(config.cob),
  });
}

describe('COB settings the aggregator cannot start with (finding 2)', () => {
  it.each([
    ['a heatmap wider than the COB', { cob: { buckets: 20, heatmap: { buckets: 25 } } }, 'cob.heatmap.buckets: expected at most cob.buckets (20), received 25'],
    ['a bucket size that is not a whole number of ticks', { symbols: { cobBucketSize: { 'ETH/USDT': '0.005', 'BTC/USDT': '10' } } },
      'symbols.cobBucketSize["ETH/USDT"]: expected a whole number of ETH/USDT price ticks (0.01), received \'0.005\''],
    ['a BTC bucket size off the tick grid', { symbols: { cobBucketSize: { 'ETH/USDT': '1', 'BTC/USDT': '10.001' } } },
      'symbols.cobBucketSize["BTC/USDT"]: expected a whole number of BTC/USDT price ticks (0.01), received \'10.001\''],
  ])('refuses %s', (_name, doc, problem) => {
    expect(problemsOf(doc)).toEqual([problem]);
  });

  it.each([
    ['the defaults', {}],
    ['a heatmap as wide as the COB', { cob: { buckets: 30, heatmap: { buckets: 30 } } }],
    ['one-tick and fractional whole-tick buckets', { symbols: { cobBucketSize: { 'ETH/USDT': '0.01', 'BTC/USDT': '2.5' } } }],
  ])('starts the aggregator on what it accepts: %s', (_name, doc) => {
    expect(startCob(accepted(doc)).symbols()).toEqual(['ETH/USDT', 'BTC/USDT']);
  });
});

describe('COB settings that would change what the models receive (finding 4)', () => {
  it.each([
    ['fewer buckets than the input\'s ±20', { cob: { buckets: 5, imbalanceBuckets: 5, heatmap: { buckets: 5 } } }, 'cob.buckets: expected >= 20, received 5'],
    ['the 60 s average alone (it would sit in the ma1s slot)', { cob: { imbalanceWindowsMs: [60_000] } },
      'cob.imbalanceWindowsMs: expected to start with the model input\'s windows [1000, 5000, 15000, 60000] in this order, received [60000]'],
    ['the input\'s windows in another order', { cob: { imbalanceWindowsMs: [60_000, 15_000, 5_000, 1_000] } },
      'cob.imbalanceWindowsMs: expected to start with the model input\'s windows [1000, 5000, 15000, 60000] in this order, received [60000, 15000, 5000, 1000]'],
  ])('refuses %s', (_name, doc, problem) => {
    expect(problemsOf(doc)).toEqual([problem]);
  });

  it('accepts a wider COB and extra windows after the input\'s four', () => {
    const c = accepted({ cob: { buckets: 40, imbalanceWindowsMs: [1_000, 5_000, 15_000, 60_000, 300_000] } });
    expect([c.cob.buckets, c.cob.imbalanceWindowsMs]).toEqual([40, [1_000, 5_000, 15_000, 60_000, 300_000]]);
  });
});

describe('keys nothing reads are gone (finding 5)', () => {
  it.each([
    [{ venues: { fallback: { halfOpenProbes: 2 } } }, 'venues.fallback.halfOpenProbes: unknown key'],
    [{ venues: { mexc: { wsUrl: 'wss://wbs.mexc.com/ws' } } }, 'venues.mexc.wsUrl: unknown key'],
    [{ models: { minFrames: 50 } }, 'models.minFrames: unknown key'],
    [{ models: { minCompleteness: 0.5 } }, 'models.minCompleteness: unknown key'],
  ])('refuses %j', (doc, problem) => {
    expect(problemsOf(doc)).toEqual([problem]);
  });
});

describe('risk values the RiskManager would round to something else (finding 6)', () => {
  it.each([
    [{ maxSubmitPerSec: 0.2 }, 'risk.maxSubmitPerSec: expected an integer, received 0.2'],
    [{ maxSubmitPerSec: 2.9 }, 'risk.maxSubmitPerSec: expected an integer, received 2.9'],
    [{ maxSubmitPerSec: 0 }, 'risk.maxSubmitPerSec: expected >= 1, received 0'],
    [{ var: { confidence: 0.999 } }, 'risk.var.confidence: expected one of 0.95, 0.99, received 0.999'],
    [{ var: { confidence: 0.975 } }, 'risk.var.confidence: expected one of 0.95, 0.99, received 0.975'],
    [{ var: { horizonMs: 1_000 } }, 'risk.var.horizonMs: expected >= 60000, received 1000'],
    [{ stopLossPct: 0.004 }, 'risk.stopLossPct: expected >= 0.01, received 0.004'],
    [{ maxDrawdownPct: 0.004 }, 'risk.maxDrawdownPct: expected >= 0.01, received 0.004'],
    [{ takeProfitPct: 2.555 }, 'risk.takeProfitPct: expected whole basis points (a multiple of 0.01), received 2.555'],
    [{ var: { warnPct: 1.005 } }, 'risk.var.warnPct: expected whole basis points (a multiple of 0.01), received 1.005'],
    [{ fraction: 0.00001 }, 'risk.fraction: expected >= 0.0001, received 0.00001'],
    [{ fraction: 0.00015 }, 'risk.fraction: expected whole basis points (a multiple of 0.0001), received 0.00015'],
  ])('refuses risk %j', (risk, problem) => {
    expect(problemsOf({ risk })).toEqual([problem]);
  });

  it('passes what it accepts to the RiskManager unchanged', () => {
    const c = accepted({ risk: { maxSubmitPerSec: 3, stopLossPct: 0.05, maxDrawdownPct: 1.5, takeProfitPct: 0.01, var: { confidence: 0.95, horizonMs: 90_000, warnPct: 1.25, haltPct: 2 } } });
    const l = riskLimitsFromConfig(c, money('10000'), ETH);
    expect(l).toMatchObject({ maxSubmitsPerSecond: 3, stopLossBps: 5, maxDrawdownBps: 150, takeProfitBps: 1, varHorizonMs: 90_000, maxVar95: money('200'), warnVar95: money('125') });
  });
});

describe('environment overrides (finding 7)', () => {
  it.each([
    ['a single underscore after the section', 'COBALT_RISK_MAX_DRAWDOWN_PCT', /^COBALT_RISK_MAX_DRAWDOWN_PCT: names no config section .*\(COBALT_RISK__MAX_DRAWDOWN_PCT\?\)/],
    ['a misspelt section', 'COBALT_RISKS__MAX_DRAWDOWN_PCT', /^COBALT_RISKS__MAX_DRAWDOWN_PCT: names no config section .*sections: mode, seed, symbols/],
    ['a name nothing reads', 'COBALT_LOGLEVEL', /^COBALT_LOGLEVEL: names no config section .*other variables: .*COBALT_LOG_LEVEL/],
  ])('refuses %s instead of ignoring it', (_name, variable, problem) => {
    const p = problemsOf({}, { [variable]: '3' });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(problem);
  });

  it('refuses it through loadConfig, as `config check` and every command read it', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'cobalt-env-')), 'c.yaml');
    writeFileSync(f, 'risk:\n  maxDrawdownPct: 10\n');
    expect(() => loadConfig(f, { COBALT_RISK_MAX_DRAWDOWN_PCT: '3' })).toThrow(ConfigError);
    expect(loadConfig(f, { COBALT_LOG_LEVEL: 'warn', COBALT_LOG_PRETTY: '0', COBALT_ORT_PROVIDER: 'cpu', COBALT_API_KEY: 'k' }).config.risk.maxDrawdownPct).toBe(10);
  });

  it('sets a key spelt with capitals inside a word (store.retention.archiveMaxMB)', () => {
    const r = validateConfig({}, parseEnvOverrides({ COBALT_STORE__RETENTION__ARCHIVE_MAX_MB: '100' }));
    expect(r.ok && r.config.store.retention.archiveMaxMB).toBe(100);
  });

  it.each([
    ['COBALT_DATA__SPEED', '.inf', 'data.speed (from COBALT_DATA__SPEED): expected a finite number, received Infinity'],
    ['COBALT_DATA__SPEED', '.nan', 'data.speed (from COBALT_DATA__SPEED): expected a finite number, received NaN'],
    ['COBALT_SEED', '1.5', 'seed (from COBALT_SEED): expected an integer, received 1.5'],
  ])('names the problem with %s=%s', (variable, value, problem) => {
    expect(problemsOf({}, { [variable]: value })).toEqual([problem]);
  });
});

describe('values that pass the check but stop the run (finding 8)', () => {
  it.each([
    [{ execution: { paper: { initialQuote: '10000.0000000001' } } },
      'execution.paper.initialQuote: expected at most 9 decimal places (the engine counts in 1e-9 units), received \'10000.0000000001\''],
    [{ execution: { fees: { taker: '0.0000000001' } } },
      'execution.fees.taker: expected at most 9 decimal places (the engine counts in 1e-9 units), received \'0.0000000001\''],
    [{ symbols: { primary: 'SOL/USDT', cobBucketSize: { 'SOL/USDT': '0.1', 'BTC/USDT': '10' } } },
      'symbols.primary: no instrument increments for SOL/USDT: add them under instruments (SOL/USDT: { tickSize, lotSize, minNotional }); known: BTC/USDT, ETH/USDT'],
    [{ symbols: { primary: 'ETH/USDT', reference: 'ETH/USDT' } }, 'symbols.reference: expected another symbol than symbols.primary, received ETH/USDT'],
    [{ models: { online: { maxPairs: 100 } } }, 'models.online.maxPairs: expected at least 186 (minTrain 100 plus labels.horizon 30 and minHeldOut 50 at heldOutFraction 0.3), received 100'],
  ])('refuses %j', (doc, problem) => {
    expect(problemsOf(doc)).toEqual([problem]);
  });

  it('accepts nine decimal places (trailing zeros beyond them too) and the fewest pairs a run needs', () => {
    const c = accepted({ execution: { paper: { initialQuote: '10000.123456789000' } }, models: { online: { maxPairs: 186 } } });
    expect([c.execution.paper.initialQuote, c.models.online.maxPairs]).toEqual(['10000.123456789000', 186]);
    expect(money(c.execution.paper.initialQuote)).toBe(money('10000.123456789'));
  });
});

describe('config schema (finding 9)', () => {
  it('gives the defaults of the decimal keys', () => {
    type Node = { default?: unknown; properties?: Record<string, Node> };
    const s = configSchemaJson() as Node;
    const at = (...path: string[]): unknown => path.reduce<Node | undefined>((n, k) => n?.properties?.[k], s)?.default;
    expect([
      at('risk', 'maxOrderNotional'), at('risk', 'maxPositionNotional'), at('execution', 'fees', 'maker'), at('execution', 'fees', 'taker'),
      at('execution', 'paper', 'initialQuote'), at('symbols', 'cobBucketSize'),
    ]).toEqual(['1000', '5000', '0.001', '0.001', '10000', { 'ETH/USDT': '1', 'BTC/USDT': '10' }]);
  });
});
