// Task H8 (bad input at the door): what `config check` passed and a start then failed on, with a stack trace, a
// leaked value or a silently wrong run. Data paths of the wrong kind, not recordings, listed twice, or priced off the
// configured tick (findings 2, 4, 5, 6); a YAML alias or tag whose error text carried the value, a secret among them
// (finding 3); fee rates, heatmap lengths, quantity caps and speeds the engine refuses or crashes on (findings 7, 8).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRunSpeed } from '../../../app/run.ts';
import { checkConfigFile } from '../../../engine/commands/config.ts';
import { configSchema, loadConfig, missingDataPaths, validateConfig, type ConfigInput } from '../../../engine/config/index.ts';
import { ConfigError } from '../../../engine/types/errors.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-config-h8-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ETH = 'data/recordings/spot_ethusdt_20240808.jsonl.gz';
const BTC = 'data/recordings/spot_btcusdt_20240808.jsonl.gz';

function config(data: Record<string, unknown>, rest: Partial<Record<keyof ConfigInput, unknown>> = {}) {
  return configSchema.parse({ mode: 'backtest', data: { replayFiles: [ETH, BTC], klinesDirs: ['data/klines'], catalogDir: path.join(dir, 'catalog'), ...data }, ...rest });
}

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

// The message of the ConfigError loadConfig throws for `text`.
function loadError(text: string): string {
  const file = write(`load-${Math.random().toString(36).slice(2)}.yaml`, text);
  try {
    loadConfig(file, {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted the file');
}

describe('data paths of the wrong kind (findings 2 and 4)', () => {
  const notDir = write('afile', 'x\n');
  const empty = path.join(dir, 'empty');
  mkdirSync(empty);
  const solOnly = path.join(dir, 'sol-klines');
  mkdirSync(solOnly);
  writeFileSync(path.join(solOnly, 'x_SOL_USDT-1m.csv'), 'open_time_ms,open,high,low,close,volume\n');

  it.each([
    ['a recording that is a directory', { replayFiles: ['data/recordings', BTC] }, 'data.replayFiles[0]: data/recordings is a directory, not a recording file'],
    ['a recording that is a config file', { replayFiles: ['configs/paper.yaml', BTC] }, "data.replayFiles[0]: configs/paper.yaml is not a recording: no '<receive_ts_ns> {\"stream\":…}' line"],
    ['a .gz recording that is not gzip', { replayFiles: [write('fake.jsonl.gz', '1 {"stream":"ethusdt@trade"}\n'), BTC] }, 'fake.jsonl.gz cannot be read as a recording: '],
    ['a catalog folder that is a file', { catalogDir: notDir }, `data.catalogDir: ${notDir} is a file, not a directory`],
    ['a catalog folder under a file', { catalogDir: path.join(notDir, 'catalog') }, `data.catalogDir: ${notDir} (above ${path.join(notDir, 'catalog')}) is a file, not a directory`],
    ['a kline folder that is a file', { klinesDirs: [notDir] }, `data.klinesDirs[0]: ${notDir} is a file, not a directory of kline CSV files`],
    ['an empty kline folder', { klinesDirs: [empty] }, `data.klinesDirs[0]: ${empty} holds no kline file of ETH/USDT or BTC/USDT`],
    ['a kline folder of another symbol', { klinesDirs: ['data/klines', solOnly] }, `data.klinesDirs[1]: ${solOnly} holds no kline file of ETH/USDT or BTC/USDT`],
  ])('refuses %s', (_what, data, problem) => {
    const problems = missingDataPaths(config(data));

    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });

  it('accepts the bundled recordings and klines, and a catalog folder still to be made', () => {
    expect(missingDataPaths(config({ catalogDir: path.join(dir, 'new', 'catalog') }))).toEqual([]);
  });

  it('makes config check exit 2 naming the path', () => {
    const file = write('dir.yaml', `mode: backtest\ndata:\n  replayFiles: [data/recordings, ${BTC}]\n`);
    const err: string[] = [];

    const code = checkConfigFile(file, {}, () => {}, (l) => err.push(l));

    expect([code, err.join('\n')]).toEqual([2, `${file}: invalid config\n  data.replayFiles[0]: data/recordings is a directory, not a recording file`]);
  });
});

describe('a recording listed twice (finding 5)', () => {
  const link = path.join(dir, 'eth-link.jsonl.gz');
  symlinkSync(path.resolve(ETH), link);

  it.each([
    ['as written', ETH],
    ['with ./', `./${ETH}`],
    ['absolute', path.resolve(ETH)],
    ['through a symlink', link],
  ])('refuses the same file again %s', (_how, again) => {
    expect(missingDataPaths(config({ replayFiles: [ETH, BTC, again] }))).toEqual([
      `data.replayFiles[2]: ${again} is the same file as data.replayFiles[0]: each recording is replayed once, list it once`,
    ]);
  });
});

describe('a tick size off the recording\'s price grid (finding 6)', () => {
  it('refuses it, naming the price, the key and its value', () => {
    const c = config({}, { instruments: { 'ETH/USDT': { tickSize: '1', lotSize: '0.0001', minNotional: '5' } } });

    const problems = missingDataPaths(c);

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^data\.replayFiles\[0\]: data\/recordings\/spot_ethusdt_20240808\.jsonl\.gz has ETH\/USDT (trade|bookTicker) price \d+\.\d+, not a multiple of instruments\["ETH\/USDT"\]\.tickSize 1: /);
  });

  it('accepts a finer tick, on which the recorded prices still lie', () => {
    expect(missingDataPaths(config({}, { instruments: { 'ETH/USDT': { tickSize: '0.001', lotSize: '0.0001', minNotional: '5' } } }))).toEqual([]);
  });
});

describe('YAML that the library reports with a piece of the file (finding 3)', () => {
  const SECRET = 'Xk9pQ2-MY-REAL-SECRET';

  it('refuses an unresolved alias with its line and column and what to do, never its text', () => {
    const m = loadError(`mode: paper\nvenues:\n  binance:\n    apiSecret: *${SECRET}\n`);

    expect(m).toContain("line 4, column 16: a value starting with * is a YAML alias and no &anchor of its name comes before it: quote the value ('*…')");
    expect(m).not.toContain('Xk9p');
  });

  it.each([
    ['an unknown tag', `venues:\n  binance:\n    apiSecret: !${SECRET}\n`],
    ['a tag with an unknown handle', `venues:\n  binance:\n    apiSecret: !e!${SECRET} x\n`],
    ['an alias as a key', `*${SECRET} : 1\n`],
    ['a YAML version directive', `%YAML 9.${SECRET}\n---\nmode: paper\n`],
    ['a duplicate key in an omap', `a: !!omap [ {${SECRET}: 1}, {${SECRET}: 2} ]\n`],
  ])('refuses %s without its text', (_what, yaml) => {
    const m = loadError(yaml);

    expect(m).toMatch(/invalid YAML\n {2}line \d+, column \d+: /);
    expect(m).not.toContain('Xk9p');
  });

  it('says what to do with a second document', () => {
    expect(loadError('mode: paper\n---\nmode: live\n')).toContain('line 2, column 1: a second YAML document starts here (a --- or ... line): a config file is one document');
  });

  it('still reads an alias whose anchor comes first', () => {
    const file = write('anchor.yaml', 'orchestrator:\n  buyThreshold: &t 0.55\n  sellThreshold: *t\n');

    expect(loadConfig(file, {}).config.orchestrator).toMatchObject({ buyThreshold: 0.55, sellThreshold: 0.55 });
  });
});

describe('values config check passed and the start refused or crashed on (finding 7)', () => {
  it.each([
    ['a fee rate over 10 %', { execution: { fees: { taker: '5' } } }, "execution.fees.taker: expected a fraction of at most 0.1 (10 %; '0.001' is 0.1 %), received '5'"],
    ['a heatmap over an hour', { cob: { heatmap: { seconds: 1_000_000_000 } } }, 'cob.heatmap.seconds: expected <= 3600, received 1000000000'],
    ['an order cap under one lot (paper)', { risk: { maxOrderQty: '0.00001' } }, 'risk.maxOrderQty: 0.00001 is less than one lot of ETH/USDT (lot size 0.0001): it would round to 0 lots'],
    ['a position cap under one lot (backtest)', { mode: 'backtest', data: { replayFiles: [ETH] }, risk: { maxPositionQty: '0.00005' } }, 'risk.maxPositionQty: 0.00005 is less than one lot of ETH/USDT'],
    ['a replay speed above 1000', { data: { speed: 1001 } }, 'data.speed: expected <= 1000, received 1001'],
    ['a replay speed under 0.01', { data: { speed: 1e-300 } }, 'data.speed: expected 0 or 0.01..1000, received 1e-300'],
  ])('refuses %s', (_what, raw, problem) => {
    const r = validateConfig(raw);

    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.problems).toContainEqual(expect.stringContaining(problem));
  });

  it.each([
    ['a fee rate of 10 %', { execution: { fees: { maker: '0.1', taker: '0.1' } } }],
    ['an hour of heatmap', { cob: { heatmap: { seconds: 3600 } } }],
    ['one lot', { risk: { maxOrderQty: '0.0001' } }],
    ['a live cap under the configured lot (the venue\'s lot decides at start)', { mode: 'live', risk: { maxOrderQty: '0.00001' } }],
    ['speeds 0, 0.01 and 1000', { data: { speed: 0 } }],
    ['speed 0.01', { data: { speed: 0.01 } }],
    ['speed 1000', { data: { speed: 1000 } }],
  ])('accepts %s', (_what, raw) => {
    expect(validateConfig(raw)).toMatchObject({ ok: true });
  });

  it('makes config check exit 2 like run and backtest', () => {
    const err: string[] = [];
    expect(checkConfigFile(write('fee.yaml', "execution:\n  fees: { taker: '5' }\n"), {}, () => {}, (l) => err.push(l))).toBe(2);
  });

  it('reports an invalid COBALT_LOG_LEVEL, unless told to ignore the environment', () => {
    const file = write('plain.yaml', 'mode: paper\n');
    const err: string[] = [];

    const withEnv = checkConfigFile(file, { COBALT_LOG_LEVEL: 'verbose' }, () => {}, (l) => err.push(l));
    const noEnv = checkConfigFile(file, {}, () => {}, () => {});

    expect([withEnv, noEnv]).toEqual([2, 0]);
    expect(err.join('\n')).toContain("COBALT_LOG_LEVEL 'verbose' is not a log level");
  });
});

describe('cobalt run --speed (finding 8)', () => {
  it.each(['0x10', '1e-300', '1e3', ' 2', '+2', 'Infinity', '0.001', '1001'])('refuses %s', (flag) => {
    expect(() => parseRunSpeed(flag, 1, 'replay')).toThrow(`not '${flag}': a plain decimal from 0.01 to 1000`);
  });

  it.each([['0.01', 0.01], ['2.5', 2.5], ['1000', 1000]])('takes %s', (flag, speed) => {
    expect(parseRunSpeed(flag, 1, 'replay')).toBe(speed);
  });
});
