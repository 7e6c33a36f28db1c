// Config `instruments`: increments of symbols other than the two bundled ones (BTC/USDT, ETH/USDT), laid over the
// bundled table, so that a trader runs SOL/USDT without editing source. Validated like the rest of the schema (positive
// decimals of at most 9 places, unknown keys refused, each problem named by its key path); symbols.primary/reference
// and cobBucketSize are checked against the merged table.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfigFile } from '../../../engine/commands/config.ts';
import { configSchemaJson, instrumentSpecsOf, validateConfig, type Config } from '../../../engine/config/index.ts';

const SOL = { tickSize: '0.01', lotSize: '0.001', minNotional: '5' };
const SOL_SYMBOLS = { primary: 'SOL/USDT', reference: 'BTC/USDT', cobBucketSize: { 'SOL/USDT': '0.5', 'BTC/USDT': '10' } };

function accepted(doc: unknown): Config {
  const r = validateConfig(doc);
  if (!r.ok) throw new Error(`expected the config to be accepted: ${r.problems.join('; ')}`);
  return r.config;
}
const problemsOf = (doc: unknown): string[] => {
  const r = validateConfig(doc);
  return r.ok ? [] : r.problems;
};

describe('config instruments', () => {
  it('lets symbols.primary be a symbol it names, merged over the bundled increments', () => {
    const c = accepted({ symbols: SOL_SYMBOLS, instruments: { 'SOL/USDT': SOL } });
    const specs = instrumentSpecsOf(c);

    expect(c.symbols.primary).toBe('SOL/USDT');
    expect(specs['SOL/USDT']).toEqual({ symbol: 'SOL/USDT', venue: 'binance', ...SOL });
    expect(specs['BTC/USDT']).toEqual({ symbol: 'BTC/USDT', venue: 'binance', tickSize: '0.01', lotSize: '0.00001', minNotional: '5' });
    expect(Object.keys(instrumentSpecsOf(accepted({}))).sort()).toEqual(['BTC/USDT', 'ETH/USDT']);
  });

  it('replaces the increments of a bundled symbol, and checks its COB bucket on the configured tick', () => {
    const eth = { tickSize: '0.1', lotSize: '0.001', minNotional: '10' };
    const c = accepted({ instruments: { 'ETH/USDT': eth }, symbols: { cobBucketSize: { 'ETH/USDT': '1', 'BTC/USDT': '10' } } });

    expect(instrumentSpecsOf(c)['ETH/USDT']).toEqual({ symbol: 'ETH/USDT', venue: 'binance', ...eth });
    expect(problemsOf({ instruments: { 'ETH/USDT': eth }, symbols: { cobBucketSize: { 'ETH/USDT': '0.05', 'BTC/USDT': '10' } } }))
      .toEqual(['symbols.cobBucketSize["ETH/USDT"]: expected a whole number of ETH/USDT price ticks (0.1), received \'0.05\'']);
  });

  it.each([
    ['a traded symbol with no increments',
      { symbols: { ...SOL_SYMBOLS, primary: 'DOGE/USDT', cobBucketSize: { 'DOGE/USDT': '1', 'BTC/USDT': '10' } }, instruments: { 'SOL/USDT': SOL } },
      ['symbols.primary: no instrument increments for DOGE/USDT: add them under instruments (DOGE/USDT: { tickSize, lotSize, minNotional }); known: BTC/USDT, ETH/USDT, SOL/USDT']],
    ['a reference symbol with no increments',
      { symbols: { primary: 'ETH/USDT', reference: 'SOL/USDT', cobBucketSize: { 'ETH/USDT': '1', 'SOL/USDT': '1' } } },
      ['symbols.reference: no instrument increments for SOL/USDT: add them under instruments (SOL/USDT: { tickSize, lotSize, minNotional }); known: BTC/USDT, ETH/USDT']],
    ['a bucket off the configured grid', { symbols: { ...SOL_SYMBOLS, cobBucketSize: { 'SOL/USDT': '0.055', 'BTC/USDT': '10' } }, instruments: { 'SOL/USDT': SOL } },
      ['symbols.cobBucketSize["SOL/USDT"]: expected a whole number of SOL/USDT price ticks (0.01), received \'0.055\'']],
    ['an unknown key', { instruments: { 'SOL/USDT': { ...SOL, stepSize: '0.001' } } }, ['instruments["SOL/USDT"].stepSize: unknown key']],
    ['a symbol key that is not BASE/QUOTE', { instruments: { solusdt: SOL } }, ['instruments.solusdt: not a valid key: expected a symbol such as \'ETH/USDT\'']],
    ['a missing increment', { instruments: { 'SOL/USDT': { tickSize: '0.01', lotSize: '0.001' } } },
      ['instruments["SOL/USDT"].minNotional: missing, expected a notional string such as \'0.001\'']],
    ['a negative tick and a zero lot', { instruments: { 'SOL/USDT': { ...SOL, tickSize: '-0.01', lotSize: '0' } } },
      ['instruments["SOL/USDT"].tickSize: expected a positive decimal', 'instruments["SOL/USDT"].lotSize: expected a positive decimal']],
    ['more than 9 decimal places', { instruments: { 'SOL/USDT': { ...SOL, lotSize: '0.0000000001' } } },
      ['instruments["SOL/USDT"].lotSize: expected at most 9 decimal places (the engine counts in 1e-9 units), received \'0.0000000001\'']],
    ['a number that is not exact', { instruments: { 'SOL/USDT': { ...SOL, tickSize: 1e-8 } } },
      ['instruments["SOL/USDT"].tickSize: expected a tick size string such as \'0.001\', received number 1e-8 (quote it to keep it exact)']],
    ['a decimal that is not one', { instruments: { 'SOL/USDT': { ...SOL, minNotional: 'five' } } },
      ['instruments["SOL/USDT"].minNotional: expected a notional string such as \'0.001\', received \'five\'']],
    ['a list', { instruments: ['SOL/USDT'] }, ['instruments: expected record, received array']],
  ])('refuses %s, naming the key', (_what, doc, problems) => {
    expect(problemsOf(doc)).toEqual(problems);
  });

  it('cobalt config check accepts a SOL/USDT config with its increments and refuses it without them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cobalt-config-instruments-'));
    const withSol = join(dir, 'sol.yaml');
    const symbols = 'symbols:\n  primary: SOL/USDT\n  reference: BTC/USDT\n  cobBucketSize: { SOL/USDT: "0.5", BTC/USDT: "10" }\n';
    writeFileSync(withSol, `${symbols}instruments:\n  SOL/USDT: { tickSize: "0.01", lotSize: "0.001", minNotional: "5" }\n`);
    const without = join(dir, 'no-sol.yaml');
    writeFileSync(without, symbols);
    const out: string[] = [];
    const err: string[] = [];

    const ok = checkConfigFile(withSol, {}, (l) => out.push(l), (l) => err.push(l));
    const refused = checkConfigFile(without, {}, (l) => out.push(l), (l) => err.push(l));

    expect(ok).toBe(0);
    expect(out).toEqual([`ok ${withSol}: mode=paper, symbols=SOL/USDT,BTC/USDT`]);
    expect(refused).toBe(2);
    expect(err).toEqual([`${without}: invalid config\n  symbols.primary: no instrument increments for SOL/USDT: add them under instruments (SOL/USDT: { tickSize, lotSize, minNotional }); known: BTC/USDT, ETH/USDT`]);
  });

  it('cobalt config schema documents it: symbol keys, the three increments required, nothing else', () => {
    type Node = { description?: string; propertyNames?: { pattern?: string }; additionalProperties?: Node | boolean; required?: string[]; properties?: Record<string, Node> };
    const node = (configSchemaJson() as Node).properties!['instruments']!;
    const entry = node.additionalProperties as Node;

    expect(node.description).toMatch(/laid over the bundled BTC\/USDT and ETH\/USDT ones; the market data is parsed on this grid, and a live start refuses/);
    expect(node.propertyNames?.pattern).toBe('^[A-Z0-9]+\\/[A-Z0-9]+$');
    expect(entry.required).toEqual(['tickSize', 'lotSize', 'minNotional']);
    expect(entry.additionalProperties).toBe(false);
  });
});
