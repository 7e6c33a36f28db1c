import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkConfigFile } from '../../../engine/commands/config.ts';
import {
  configSchemaJson, configSections, loadConfig, parseEnvOverrides, preflightProblems, readSecrets, validateConfig,
} from '../../../engine/config/index.ts';
import { ConfigError } from '../../../engine/types/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'cobalt-config-'));
let n = 0;
function file(yaml: string): string {
  const f = join(dir, `c${n++}.yaml`);
  writeFileSync(f, yaml);
  return f;
}
function problems(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    loadConfig(file(yaml), env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message.split('\n').slice(1).map((l) => l.trim());
  }
  throw new Error('expected the config to be rejected');
}

describe('shipped configs', () => {
  const shipped = readdirSync('configs').filter((f) => f.endsWith('.yaml'));
  it('ships default, paper, live.example and backtest', () => {
    expect(shipped.sort()).toEqual(expect.arrayContaining(['backtest.yaml', 'default.yaml', 'live.example.yaml', 'paper.yaml']));
  });
  it.each(shipped)('%s validates and its data paths exist', (f) => {
    const out: string[] = [];
    const err: string[] = [];
    expect(checkConfigFile(join('configs', f), {}, (l) => out.push(l), (l) => err.push(l)), err.join('\n')).toBe(0);
    expect(out[0]).toMatch(new RegExp(`^ok configs/${f.replace('.', '\\.')}: mode=\\w+, symbols=ETH/USDT,BTC/USDT$`));
  });
  it('default.yaml is paper on the bundled recording, looped', () => {
    const { config } = loadConfig('configs/default.yaml', {});
    expect(config.mode).toBe('paper');
    expect(config.data.loop).toBe(true);
    expect(config.data.replayFiles).toHaveLength(4);
    expect(config.dashboard).toMatchObject({ host: '127.0.0.1', port: 8080 });
  });
  it('backtest.yaml names the four bundled recordings', () => {
    const { config } = loadConfig('configs/backtest.yaml', {});
    expect(config.mode).toBe('backtest');
    expect([...config.data.replayFiles].sort()).toEqual([
      'data/recordings/spot_btcusdt_20240808.jsonl.gz', 'data/recordings/spot_btcusdt_20240809.jsonl.gz',
      'data/recordings/spot_ethusdt_20240808.jsonl.gz', 'data/recordings/spot_ethusdt_20240809.jsonl.gz',
    ]);
  });
});

describe('defaults', () => {
  // An empty file is refused (it holds no settings: config-review-refusals.test.ts); its mode alone takes every default.
  it('turns a file naming only its mode into a complete paper config', () => {
    const { config } = loadConfig(file('mode: paper\n'), {});
    expect(config).toMatchObject({
      mode: 'paper',
      symbols: { primary: 'ETH/USDT', reference: 'BTC/USDT', cobBucketSize: { 'ETH/USDT': '1', 'BTC/USDT': '10' } },
      venues: { binance: { restUrl: 'https://api.binance.com', recvWindowMs: 5000 }, mexc: { enabled: true } },
      cob: { publishHz: 10, buckets: 20, imbalanceBuckets: 5, heatmap: { seconds: 300, buckets: 10 } },
      risk: { sizing: 'fixed-fraction', maxOrderNotional: '1000' },
      execution: { fees: { maker: '0.001', taker: '0.001' } },
      dashboard: { host: '127.0.0.1', port: 8080 },
    });
  });
  it('applies inner defaults of a partly written section', () => {
    const { config } = loadConfig(file('cob:\n  heatmap: { seconds: 60 }\n'), {});
    expect(config.cob.heatmap).toEqual({ seconds: 60, buckets: 10 });
    expect(config.cob.publishHz).toBe(10);
  });
});

describe('problems name their key path', () => {
  it.each([
    ['risk:\n  maxDrawdonPct: 5\n', 'risk.maxDrawdonPct: unknown key'],
    ['cob:\n  publishHz: "10"\n', 'cob.publishHz: expected number, received string'],
    ['mode: lve\n', 'mode: expected one of "paper", "live", "backtest", "replay", received "lve"'],
    ['risk:\n  maxOrderNotional: abc\n', "risk.maxOrderNotional: expected a notional string such as '0.001', received 'abc'"],
    ['execution:\n  fees: { maker: 0.00000001 }\n', 'execution.fees.maker: expected a fee rate string such as \'0.001\', received number 1e-8 (quote it to keep it exact)'],
    ['risk:\n  maxOrderNotional: "9000"\n', 'risk.maxOrderNotional: expected at most risk.maxPositionNotional (5000), received 9000'],
    ['cob:\n  imbalanceBuckets: 25\n', 'cob.imbalanceBuckets: expected at most cob.buckets (20), received 25'],
    ['symbols:\n  primary: BTC/USDT\n  reference: ETH/USDT\n  cobBucketSize: { BTC/USDT: "10" }\n', 'symbols.cobBucketSize["ETH/USDT"]: missing bucket size for ETH/USDT'],
    ['risk:\n  var: { warnPct: 9 }\n', 'risk.var.warnPct: expected at most risk.var.haltPct (6), received 9'],
    ['risk:\n  maxOrderQty: "2"\n  maxPositionQty: "1.5"\n', 'risk.maxOrderQty: expected at most risk.maxPositionQty (1.5), received 2'],
    ['risk:\n  maxPositionQty: "0"\n', 'risk.maxPositionQty: expected a positive decimal'],
    ['risk:\n  maxOrderQty: half\n', "risk.maxOrderQty: expected a quantity string such as '0.001', received 'half'"],
    ['risk:\n  maxOrderQtty: "0.5"\n', 'risk.maxOrderQtty: unknown key'],
    ['mode: backtest\n', 'data.replayFiles: mode backtest needs at least one recording file'],
    ['dashboard:\n  port: 70000\n', 'dashboard.port: expected <= 65535, received 70000'],
    ['venues:\n  binance:\n    restUrl: ftp://x.org\n', 'venues.binance.restUrl: expected an http(s):// URL (a REST endpoint), received "ftp://x.org"'],
    ['venues:\n  binance:\n    restUrl: wss://stream.binance.com:9443\n', 'venues.binance.restUrl: expected an http(s):// URL (a REST endpoint), received "wss://stream.binance.com:9443"'],
    ['venues:\n  binance:\n    wsUrl: https://api.binance.com\n', 'venues.binance.wsUrl: expected a ws(s):// URL (a stream endpoint), received "https://api.binance.com"'],
    ['orchestrator:\n  buyThreshold: 0\n', 'orchestrator.buyThreshold: expected > 0, received 0'],
    ['- a\n- b\n', '(root): expected a mapping of config sections, received array'],
  ])('%j -> %s', (yaml, expected) => {
    expect(problems(yaml)).toEqual([expected]);
  });

  it('lists every problem at once', () => {
    const p = problems('risk:\n  maxDrawdonPct: 5\n  sizing: kelly\ncob:\n  publishHz: fast\n');
    expect(p).toHaveLength(3);
    expect(p).toEqual(expect.arrayContaining(['risk.maxDrawdonPct: unknown key', 'cob.publishHz: expected number, received string']));
  });

  it('refuses invalid YAML with the file name', () => {
    expect(() => loadConfig(file('risk: [\n'), {})).toThrow(/invalid YAML/);
  });
  it('refuses a missing file with its name', () => {
    expect(() => loadConfig(join(dir, 'nope.yaml'), {})).toThrow(ConfigError);
  });
});

describe('secrets', () => {
  it.each([
    ['venues:\n  binance:\n    apiKey: abc\n', 'venues.binance.apiKey', 'COBALT_API_KEY'],
    ['venues:\n  binance:\n    api_secret: abc\n', 'venues.binance.api_secret', 'COBALT_API_SECRET'],
    ['venues:\n  mexc:\n    secret: abc\n', 'venues.mexc.secret', 'COBALT_MEXC_API_SECRET'],
    ['dashboard:\n  token: abc\n', 'dashboard.token', 'COBALT_DASHBOARD_TOKEN'],
  ])('refuses a file holding %j', (yaml, path, variable) => {
    expect(problems(yaml)).toEqual([`${path}: secrets are not read from config files; set ${variable} in the environment`]);
  });
  it('reads secrets only from the environment, into a separate object', () => {
    const loaded = loadConfig(file('mode: live\n'), { COBALT_API_KEY: 'k', COBALT_API_SECRET: 's', COBALT_DASHBOARD_TOKEN: 't' });
    expect(loaded.secrets).toEqual({ binanceApiKey: 'k', binanceApiSecret: 's', dashboardToken: 't' });
    expect(JSON.stringify(loaded.config)).not.toMatch(/"k"|"s"|"t"/);
  });
  it('serialises secrets redacted, at any depth, so a logged config cannot leak them', () => {
    const loaded = loadConfig(file('mode: paper\n'), { COBALT_API_KEY: 'AKIA-live', COBALT_API_SECRET: 'sh-secret' });
    expect(loaded.secrets.binanceApiKey).toBe('AKIA-live');
    const text = JSON.stringify({ a: { b: { c: loaded } } }) + inspect({ a: { b: { c: loaded } } }, { depth: 10 });
    expect(text).not.toMatch(/AKIA-live|sh-secret/);
    expect(JSON.parse(JSON.stringify(loaded.secrets))).toEqual({ binanceApiKey: '[redacted]', binanceApiSecret: '[redacted]' });
  });
  it('refuses a secret passed as an override', () => {
    expect(problems('mode: paper\n', { COBALT_DASHBOARD__TOKEN: 'x' })[0]).toMatch(/^dashboard\.token \(from COBALT_DASHBOARD__TOKEN\): secrets are read only from/);
  });
});

describe('environment overrides', () => {
  it('maps COBALT_A__B_C to a.bC with YAML scalar values', () => {
    const { config, overrides } = loadConfig(file('risk:\n  maxDrawdownPct: 10\n'), {
      COBALT_RISK__MAX_DRAWDOWN_PCT: '5', COBALT_MODE: 'backtest', COBALT_DATA__REPLAY_FILES: '[a.gz, b.gz]',
      COBALT_DATA__LOOP: 'true', COBALT_EXECUTION__FEES__MAKER: "'0.0002'", COBALT_VENUES__BINANCE__REST_URL: 'http://127.0.0.1:9443',
    });
    expect(config.risk.maxDrawdownPct).toBe(5);
    expect(config.mode).toBe('backtest');
    expect(config.data.replayFiles).toEqual(['a.gz', 'b.gz']);
    expect(config.data.loop).toBe(true);
    expect(config.execution.fees.maker).toBe('0.0002');
    expect(config.venues.binance.restUrl).toBe('http://127.0.0.1:9443');
    expect(overrides).toHaveLength(6);
  });
  it('leaves out the secrets and the variables read elsewhere (COBALT_LOG_LEVEL, COBALT_ORT_PROVIDER, …)', () => {
    const o = parseEnvOverrides({
      COBALT_LOG_LEVEL: 'debug', COBALT_LOG_PRETTY: '1', COBALT_ORT_PROVIDER: 'cpu', COBALT_SIM_API_KEY: 'k', COBALT_SIM_API_SECRET: 's',
      COBALT_API_KEY: 'k', COBALT_LOG__LEVEL: 'warn', PATH: '/bin',
    });
    expect(o).toEqual([{ path: ['log', 'level'], value: 'warn', variable: 'COBALT_LOG__LEVEL' }]);
  });
  it('names the variable behind a bad override', () => {
    expect(problems('mode: paper\n', { COBALT_RISK__MAX_DRAWDON_PCT: '5', COBALT_COB__PUBLISH_HZ: 'fast' }).sort()).toEqual([
      'cob.publishHz (from COBALT_COB__PUBLISH_HZ): expected number, received string',
      'risk.maxDrawdonPct (from COBALT_RISK__MAX_DRAWDON_PCT): unknown key',
    ]);
  });
});

describe('decimal values', () => {
  it('keeps quoted decimals exact and accepts short unquoted numbers', () => {
    const r = validateConfig({ risk: { maxOrderNotional: 250, maxPositionNotional: '1000.123456789' }, execution: { fees: { taker: 0.00075 } } });
    expect(r.ok && r.config.risk.maxOrderNotional).toBe('250');
    expect(r.ok && r.config.risk.maxPositionNotional).toBe('1000.123456789');
    expect(r.ok && r.config.execution.fees.taker).toBe('0.00075');
  });
  it('keeps the quantity caps as the decimals written, absent when not given', () => {
    const r = validateConfig({ risk: { maxOrderQty: 0.5, maxPositionQty: '2.00010' } });
    const none = validateConfig({});
    expect(r.ok && [r.config.risk.maxOrderQty, r.config.risk.maxPositionQty]).toEqual(['0.5', '2.00010']);
    expect(none.ok && [none.config.risk.maxOrderQty, none.config.risk.maxPositionQty]).toEqual([undefined, undefined]);
  });

  it('refuses negative notional', () => {
    const r = validateConfig({ risk: { maxOrderNotional: '-1' } });
    expect(r.ok ? [] : r.problems).toEqual(['risk.maxOrderNotional: expected a positive decimal']);
  });
});

describe('preflight', () => {
  const live = validateConfig({ mode: 'live' });
  if (!live.ok) throw new Error('live config should validate');
  it('requires both Binance keys for live mode', () => {
    expect(preflightProblems(live.config, readSecrets({}))).toEqual([
      'mode live: COBALT_API_KEY is not set', 'mode live: COBALT_API_SECRET is not set',
    ]);
    expect(preflightProblems(live.config, readSecrets({ COBALT_API_KEY: 'k', COBALT_API_SECRET: 's' }))).toEqual([]);
  });
  it('requires a token for a dashboard off loopback', () => {
    const r = validateConfig({ dashboard: { host: '0.0.0.0' } });
    expect(r.ok && preflightProblems(r.config, {})).toEqual(['dashboard.host 0.0.0.0 is not loopback: set COBALT_DASHBOARD_TOKEN']);
  });
  it('refuses recording files in live mode', () => {
    const r = validateConfig({ mode: 'live', data: { replayFiles: ['x.gz'] } });
    expect(r.ok ? [] : r.problems).toEqual(['data.replayFiles: mode live trades on live market data: remove the recording files']);
  });
});

describe('config check command and JSON Schema', () => {
  it('exits 2 (as run and backtest refuse a config) and prints the problems for a bad file', () => {
    const err: string[] = [];
    const code = checkConfigFile(file('cob:\n  publishHz: "10"\n'), {}, () => {}, (l) => err.push(l));
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('cob.publishHz: expected number, received string');
  });
  it('exits 2 when a recording file is missing', () => {
    const err: string[] = [];
    expect(checkConfigFile(file('data:\n  replayFiles: [data/recordings/nope.jsonl.gz]\n'), {}, () => {}, (l) => err.push(l))).toBe(2);
    expect(err.join('\n')).toContain('data.replayFiles[0]: no such file data/recordings/nope.jsonl.gz');
  });
  it('exports a JSON Schema that forbids unknown keys', () => {
    const s = configSchemaJson() as { properties: Record<string, { additionalProperties?: boolean; properties?: Record<string, unknown> }>; additionalProperties: boolean };
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.risk!.additionalProperties).toBe(false);
    expect(Object.keys(s.properties).sort()).toEqual([...configSections()].sort());
    expect(s.properties.cob!.properties!.publishHz).toMatchObject({ type: 'number', default: 10 });
  });
});
