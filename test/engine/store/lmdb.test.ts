import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LmdbStore, prefixRange } from '../../../engine/store/lmdb.ts';
import { money } from '../../../engine/types/money.ts';
import { StoreError } from '../../../engine/types/errors.ts';

const dirs: string[] = [];
function tempPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'cobalt-lmdb-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// One value of every shape the engine stores.
const sample = {
  balance: money('12345.678901234'), // Money: bigint in 1e-9 units
  smallMoney: money('0.000000001'), // 1n: would read back as number 1 unless int64 decodes as bigint
  hugeMoney: 10n ** 30n, // beyond 64 bits
  negMoney: -money('99.5'),
  zeroMoney: 0n,
  features: new Float32Array([1.5, -2.25, 3.4028234663852886e38, Math.fround(0.1)]),
  stats: new Float64Array([0.1, Number.MAX_VALUE]),
  bytes: new Uint8Array([0, 255, 7]),
  priceTicks: 6_123_456, // Ticks: a plain integer
  qtyLots: 2 ** 53 - 1, // Lots at the safe-integer edge
  ratio: 0.1 + 0.2,
  text: 'ETH/USDT · ünïcode',
  list: [1, 'two', 3n, null, true],
  nested: { a: { b: { c: [new Float32Array([9.5]), { m: money('1') }] } }, empty: {} },
};

describe('LmdbStore', () => {
  it('round-trips every stored type with its exact JS type', async () => {
    const store = LmdbStore.open({ path: tempPath(), noSync: true });
    const db = store.db<string[], typeof sample>('values');
    await db.put(['k'], sample);
    const got = db.get(['k'])!;
    expect(got).toEqual(sample);
    expect(typeof got.smallMoney).toBe('bigint');
    expect(typeof got.zeroMoney).toBe('bigint');
    expect(got.hugeMoney).toBe(10n ** 30n);
    expect(got.features).toBeInstanceOf(Float32Array);
    expect(got.stats).toBeInstanceOf(Float64Array);
    expect(got.bytes).toBeInstanceOf(Uint8Array);
    expect(typeof got.priceTicks).toBe('number');
    expect(typeof got.qtyLots).toBe('number');
    expect((got.nested.a.b.c[0] as Float32Array)).toBeInstanceOf(Float32Array);
    expect(typeof (got.nested.a.b.c[1] as { m: bigint }).m).toBe('bigint');
    await store.close();
  });

  it('reads the same data after closing and reopening the environment', async () => {
    const path = tempPath();
    const a = LmdbStore.open({ path });
    const db = a.db<[string, string, number], typeof sample>('history', { compression: true });
    for (let i = 0; i < 50; i++) void db.put(['cnn', 'ETH/USDT', 1_723_161_253_000 + i], { ...sample, priceTicks: i });
    await a.close(); // flushes the 50 un-awaited puts first
    const b = LmdbStore.open({ path });
    const db2 = b.db<[string, string, number], typeof sample>('history', { compression: true });
    expect(db2.count()).toBe(50);
    expect(db2.get(['cnn', 'ETH/USDT', 1_723_161_253_007])).toEqual({ ...sample, priceTicks: 7 });
    await b.close();
  });

  it('flush() resolves only after every pending put is visible', async () => {
    const store = LmdbStore.open({ path: tempPath(), noSync: true });
    const db = store.db<number, { v: bigint }>('n');
    for (let i = 0; i < 200; i++) void db.put(i, { v: BigInt(i) * 10n ** 20n });
    await store.flush();
    expect(db.count()).toBe(200);
    expect(db.get(199)).toEqual({ v: 199n * 10n ** 20n });
    await store.close();
  });

  it('orders array keys element by element and answers prefix and time ranges', async () => {
    const store = LmdbStore.open({ path: tempPath(), noSync: true });
    const db = store.db<[string, string, number], number>('ordered');
    const rows: [string, string, number][] = [
      ['dqn', 'ETH/USDT', 5], ['cnn', 'ETH/USDT', 1000.5], ['cnn', 'BTC/USDT', 3], ['cnn', 'ETH/USDT', -1],
      ['cnn', 'ETH/USDT', 20], ['cnn', 'ETH/USDTX', 1], ['cnn', 'ETH/USDT', 1e12],
    ];
    await Promise.all(rows.map((k, i) => db.put(k, i)));
    expect([...db.keys(prefixRange(['cnn', 'ETH/USDT']))]).toEqual([
      ['cnn', 'ETH/USDT', -1], ['cnn', 'ETH/USDT', 20], ['cnn', 'ETH/USDT', 1000.5], ['cnn', 'ETH/USDT', 1e12],
    ]);
    expect([...db.keys(prefixRange(['cnn']))]).toHaveLength(6);
    expect([...db.entries({ start: ['cnn', 'ETH/USDT', 0], end: ['cnn', 'ETH/USDT', 1001] })].map((e) => e.value)).toEqual([4, 1]);
    expect([...db.keys({ ...prefixRange(['cnn', 'ETH/USDT']), reverse: true, limit: 1 })]).toEqual([['cnn', 'ETH/USDT', 1e12]]);
    // Same bounds in reverse: start inclusive, end exclusive.
    expect([...db.keys({ start: ['cnn', 'ETH/USDT', 20], end: ['cnn', 'ETH/USDT', 1e12], reverse: true })]).toEqual([
      ['cnn', 'ETH/USDT', 1000.5], ['cnn', 'ETH/USDT', 20],
    ]);
    expect(db.count({ start: ['cnn', 'ETH/USDT', 20], end: ['cnn', 'ETH/USDT', 1e12] })).toBe(2);
    await store.close();
  });

  it('commits a transaction\'s writes together', async () => {
    const store = LmdbStore.open({ path: tempPath(), noSync: true });
    const db = store.db<string, number>('tx');
    await db.transaction(() => {
      void db.put('a', 1);
      void db.put('b', 2);
    });
    expect([db.get('a'), db.get('b')]).toEqual([1, 2]);
    await store.close();
    await store.close(); // idempotent
    expect(() => store.db('tx')).toThrow(/closed/);
  });
});

describe('LmdbStore after close', () => {
  it('refuses writes synchronously instead of failing later outside the caller', async () => {
    const store = LmdbStore.open({ path: tempPath(), noSync: true });
    const db = store.db<string, number>('w');
    await db.put('a', 1);
    await store.close();
    expect(() => db.put('b', 2)).toThrow(/closed: cannot write to w/);
    expect(() => db.remove('a')).toThrow(StoreError);
  });

  // Review of the persistence code, finding 3: lmdb runs an asynchronous transaction's callback when its batch is
  // written, after close() had already marked the store closed, so its puts threw and the whole commit was lost.
  it('commits a transaction issued just before close() and refuses writes issued after it', async () => {
    const dir = tempPath();
    const store = LmdbStore.open({ path: dir, noSync: true });
    const orders = store.db<string, string>('orders');
    const fills = store.db<string, number>('fills');
    const tx = orders.transaction(() => {
      void orders.put('c1', 'filled');
      void fills.put('c1:1', 30);
      return 'done';
    });
    const closing = store.close();
    let late: unknown;
    try {
      void orders.put('c2', 'late');
    } catch (err) {
      late = err;
    }
    const committed = await tx.then((v) => v, (err: Error) => err.message);
    await closing;
    const again = LmdbStore.open({ path: dir, noSync: true });
    const stored = [again.db<string, string>('orders').get('c1'), again.db<string, number>('fills').get('c1:1'), again.db<string, string>('orders').get('c2')];
    await again.close();

    expect(committed).toBe('done');
    expect(late).toBeInstanceOf(StoreError);
    expect(stored).toEqual(['filled', 30, undefined]);
  });

  it('makes a second close() wait for the first one to finish', async () => {
    const store = LmdbStore.open({ path: tempPath(), noSync: true });
    const db = store.db<string, number>('w');
    void db.transaction(() => void db.put('a', 1));
    let firstDone = false;
    const first = store.close().then(() => {
      firstDone = true;
    });
    await store.close();
    const doneWhenSecondResolved = firstDone;
    await first;

    expect(doneWhenSecondResolved).toBe(true);
  });
});

describe('LmdbStore with syncCommits', () => {
  it('has every put, remove and transaction committed when the call returns, and reports a failed write as a rejection', async () => {
    const path = tempPath();
    const store = LmdbStore.open({ path, noSync: true, syncCommits: true });
    const db = store.db<string, typeof sample>('values');
    const other = store.db<string, number>('other');
    const put = db.put('a', sample);
    expect(db.get('a')).toEqual(sample); // readable before the promise is awaited
    await expect(put).resolves.toBe(true);
    const tx = db.transaction(() => {
      void db.put('b', sample);
      void other.put('n', 7);
      return 'done';
    });
    expect([db.get('b'), other.get('n')]).toEqual([sample, 7]);
    await expect(tx).resolves.toBe('done');
    const removed = db.remove('a');
    expect(db.get('a')).toBeUndefined();
    await expect(removed).resolves.toBe(true);
    await expect(db.remove('never-there')).resolves.toBe(false);
    // A throwing transaction commits nothing and rejects.
    await expect(db.transaction(() => {
      void other.put('n', 8);
      throw new Error('abort');
    })).rejects.toThrow('abort');
    expect(other.get('n')).toBe(7);
    await store.close();
    // What committed is on disk for the next open (the default, asynchronous mode).
    const again = LmdbStore.open({ path, noSync: true });
    expect([again.db<string, typeof sample>('values').get('b'), again.db<string, number>('other').get('n')]).toEqual([sample, 7]);
    await again.close();
  });
});
