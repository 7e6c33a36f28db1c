// A changed execution.paper.initialQuote on an existing paper store (review finding 3): the paper venue went on from
// the stored balance while the risk manager started over from the new value (10000 then 50000: venue USDT 10000, risk
// cash 50000). The paper state keeps the balances it started with; a start with others refuses, naming the key, both
// values and the way out, with exit code 2 like the other config refusals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { instrumentOf } from '../../app/live-venue.ts';
import { PersistentPaperVenue, type PaperState } from '../../app/paper-state.ts';
import { runCommand } from '../../app/run.ts';
import { createLogger } from '../../engine/log.ts';
import { OrderBook } from '../../engine/market/order-book.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { clientOrderId } from '../../engine/types/ids.ts';
import { money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { RECORDINGS } from '../e2e/helpers.ts';
import { captureOutput } from '../capture-output.ts';

const ETH = instrumentOf('ETH/USDT', 'paper');
const silent = createLogger({ level: 'silent' });
const root = mkdtempSync(path.join(tmpdir(), 'cobalt-initial-quote-'));
let n = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
});

function venue(store: LmdbStore, usdt: string): PersistentPaperVenue {
  const book = new OrderBook('ETHUSDT');
  book.replace([[268_000 as Ticks, 20_000 as Lots]], [[268_001 as Ticks, 20_000 as Lots]]);
  return new PersistentPaperVenue({
    clock: new SimulatedClock(1_723_161_253_937), instruments: [ETH], books: { 'ETH/USDT': book }, makerFeeRate9: 0n, takerFeeRate9: 0n,
    latencyMs: 0, initialBalances: { USDT: money(usdt) }, initialBalancesKey: 'execution.paper.initialQuote', store, logger: silent,
  });
}

// A paper account that started with `usdt` and rests one order (so its state is written), in store `dir`.
async function account(dir: string, usdt: string): Promise<void> {
  const store = LmdbStore.open({ path: dir, noSync: true });
  const a = venue(store, usdt);
  await a.submit({ clientOrderId: clientOrderId('rest1'), symbol: 'ETH/USDT', side: 'buy', orderType: 'limit', lots: 100 as Lots, price: 260_000 as Ticks, timeInForce: 'GTC' });
  await a.flush();
  await store.close();
}

describe('the paper account\'s starting balance', () => {
  it('refuses a start with another starting balance than the stored account\'s, naming the key, both values and the way out', async () => {
    const dir = path.join(root, `s${n++}`);
    await account(dir, '10000');
    const store = LmdbStore.open({ path: dir, noSync: true });
    let refused: unknown;
    try {
      venue(store, '50000');
    } catch (err) {
      refused = err;
    }
    const same = venue(store, '10000');
    const balances = await same.fetchBalances();
    await store.close();

    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(
      `execution.paper.initialQuote gives 50000 USDT but the paper account stored in ${dir} started with 10000 USDT `
      + '(refusing to start: the paper venue would go on from the stored account and the risk manager from the new balance). '
      + `Set execution.paper.initialQuote back to 10000 USDT, or delete ${dir} to start a new paper account (its orders, fills and history go with it).`,
    );
    expect(balances.find((b) => b.asset === 'USDT')).toEqual({ asset: 'USDT', free: money('9974'), locked: money('26') });
  });

  it('takes the given starting balance as the start of a state written before it was kept, and checks it from then on', async () => {
    const dir = path.join(root, `s${n++}`);
    await account(dir, '10000');
    let store = LmdbStore.open({ path: dir, noSync: true });
    const db = store.db<string, PaperState>('paper.state');
    const { initial: _kept, ...older } = db.get('state')!;
    await db.put('state', older);
    const a = venue(store, '10000');
    await a.flush();
    const recorded = db.get('state')!.initial;
    await store.close();
    store = LmdbStore.open({ path: dir, noSync: true });
    let refused: unknown;
    try {
      venue(store, '20000');
    } catch (err) {
      refused = err;
    }
    await store.close();

    expect(recorded).toEqual({ USDT: money('10000') });
    expect(refused).toBeInstanceOf(ConfigError);
  });

  it('makes cobalt run refuse with one line and exit code 2', async () => {
    const dir = path.join(root, `s${n++}`);
    const storeDir = path.join(dir, 'store');
    await account(storeDir, '10000');
    const config = path.join(dir, 'paper.yaml');
    writeFileSync(config, [
      'mode: paper', `data:\n  replayFiles: [${RECORDINGS.map((f) => path.resolve(f)).join(', ')}]\n  klinesDirs: [${path.resolve('data/klines')}]`,
      `store:\n  path: ${storeDir}\n  archiveDir: ${path.join(dir, 'archive')}`, `models:\n  cnn: { enabled: false }\n  dqn: { enabled: false }\n  checkpointDir: ${path.join(dir, 'ckpt')}`,
      'execution:\n  paper: { initialQuote: \'50000\' }', 'dashboard:\n  enabled: false', '',
    ].join('\n'));
    vi.stubEnv('COBALT_LOG_LEVEL', 'silent');
    const { result: code, err: stderrText } = await captureOutput(() => runCommand({ config }));
    const text = stderrText;

    expect(code).toBe(2);
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(text).toMatch(/^cobalt run: execution\.paper\.initialQuote gives 50000 USDT but the paper account stored in .* started with 10000 USDT /);
  }, 30_000);
});
