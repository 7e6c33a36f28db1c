// Live mode on a symbol that is not bundled (SOL/USDT), given by config `instruments`, against the exchange simulator on
// 127.0.0.1 serving the bundled ETH recording rewritten to SOL (test/e2e/other-symbol.ts). Before, the schema refused the
// symbol and the live venue compared the venue's tick with a bundled table that has no SOL. Now the data grid is the
// config's: a venue that prices SOL in the same step trades it (orders placed through ccxt, filled by the simulator,
// booked as the venue's trades on the venue's increments), and one that prices it in another step refuses to start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { liveVenue } from '../../app/live-venue.ts';
import { runRefusal } from '../../app/run.ts';
import { buildSystem, type System } from '../../app/system.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { log, setLogger } from '../../engine/log.ts';
import { seededRng } from '../../engine/runtime/rng.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { formatDecimal } from '../../engine/types/decimal.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import type { Money } from '../../engine/types/money.ts';
import { BinanceFramePublisher } from '../../engine/venues/binance/binance-feed.ts';
import { RecordingMerge } from '../../engine/venues/sim/replay.ts';
import { startExchangeSim, type ExchangeSim } from '../../engine/venues/sim/server.ts';
import {
  captureLog, CountingVenue, drainExecutor, scratchDir, settle, SIM_ENV, SIM_KEY, SIM_SECRET, SIM_USDT, startOnClock, writeLiveConfig,
} from './live-driver.ts';
import { SOL_INCREMENTS, SOL_LOT9, writeSolRecording, type SolRecording } from './other-symbol.ts';

// The bundled ETH run first buys at 00:00:00.3 (test/e2e/paper.test.ts); a few seconds more fill it.
const UNTIL_MS = Date.parse('2024-08-09T00:00:30Z');

let dir: string;
let rec: SolRecording;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cobalt-live-sol-'));
  rec = writeSolRecording(dir, UNTIL_MS);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

// The simulator on the SOL recording, pricing SOL/USDT in steps of `tickSize`, with the test account.
async function solSim(tickSize: string): Promise<ExchangeSim> {
  const sim = await startExchangeSim({
    files: [rec.sol, rec.btc], port: 0, speed: 'manual', klinesDir: rec.klinesDir, accounts: [{ apiKey: SIM_KEY, secret: SIM_SECRET, balances: { USDT: SIM_USDT } }],
    instruments: { SOLUSDT: { symbol: 'SOL/USDT', venue: 'sim', ...SOL_INCREMENTS, tickSize } },
  });
  cleanup.push(() => sim.close());
  return sim;
}

// A `mode: live` config file trading SOL/USDT against `sim`, with SOL's increments under instruments.
function solConfigFile(sim: ExchangeSim, tickSize: string = SOL_INCREMENTS.tickSize): string {
  const d = scratchDir('live-sol');
  cleanup.push(async () => rmSync(d, { recursive: true, force: true }));
  return writeLiveConfig(d, { rest: sim.url, ws: sim.wsUrl }, {
    symbols: { primary: 'SOL/USDT', reference: 'BTC/USDT', cobBucketSize: { 'SOL/USDT': '1', 'BTC/USDT': '10' } },
    instruments: { 'SOL/USDT': { ...SOL_INCREMENTS, tickSize } },
    data: { klinesDirs: [rec.klinesDir] },
  });
}

// Replays the SOL and BTC recording into the engine's bus while the simulator replays the same lines (as
// test/e2e/live-driver.ts driveLockstep does for the bundled one), until the executor has a fill or the data ends.
async function driveUntilFilled(sys: System, sim: ExchangeSim, clock: SimulatedClock, venue: CountingVenue): Promise<void> {
  const merge = await RecordingMerge.open([rec.sol, rec.btc]);
  const pub = new BinanceFramePublisher({ bus: sys.bus, venue: 'binance', instruments: sys.dataInstruments, depth: 'raw' });
  let filled = false;
  sys.bus.subscribe('exec.orderFilled', () => void (filled = true));
  try {
    for (let line = await merge.next(); line && !filled; line = await merge.next()) {
      const t = Number(line.tsLocalNs / 1_000_000n) + merge.offsetMs;
      if (t > sim.clock.now()) await sim.replay.advanceTo(t);
      clock.set(t);
      pub.publish(line.text, t, line.symbol);
      await settle(sys, venue);
    }
  } finally {
    await merge.close();
  }
  clock.advance(2_500);
  await drainExecutor(sys, clock, venue);
}

describe('live mode on a symbol given by config instruments', () => {
  it('trades SOL/USDT on the simulator with the venue\'s increments, the data on the config\'s grid', { timeout: 120_000 }, async () => {
    const sim = await solSim(SOL_INCREMENTS.tickSize);
    const loaded = loadConfig(solConfigFile(sim), SIM_ENV);
    const refusal = runRefusal(loaded, { live: true });
    const { config, secrets } = loaded;
    const clock = new SimulatedClock(sim.clock.now() - 60_000);
    const cap = captureLog('info');
    const prev = log();
    setLogger(cap.logger);
    cleanup.push(async () => setLogger(prev));
    const venue = new CountingVenue(await liveVenue(config, secrets, clock));
    const quote = (await venue.fetchBalances()).find((b) => b.asset === 'USDT');
    const sys = await buildSystem(config, {
      clock, mode: 'live', secrets, venueOverride: () => venue, liveCash: (quote ? quote.free + quote.locked : 0n) as Money, logger: cap.logger,
      rng: seededRng(7), maintenanceMs: 0, noSync: true, dataOverride: () => undefined,
    });
    cleanup.push(async () => void (await sys.stop('test end')));
    await startOnClock(sys, clock, sim.clock.now());
    await driveUntilFilled(sys, sim, clock, venue);

    const acct = sim.venue.accounts.get(SIM_KEY)!;
    const venueTrades = acct.trades.filter((t) => t.symbol === 'SOLUSDT').map((t) => t.fill);
    const fills = sys.execStore.fillsOf(venue.id, 'SOL/USDT');
    const bought = fills.reduce((n, f) => n + BigInt(f.side === 'buy' ? f.lots : -f.lots), 0n) * SOL_LOT9;
    const feesInSol = fills.reduce((n, f) => n + (f.feeAsset === 'SOL' ? (f.fee as bigint) : 0n), 0n);

    expect(refusal).toBeUndefined();
    expect(sys.dataInstruments.map((i) => [i.symbol, formatDecimal(i.tickSize), formatDecimal(i.lotSize)]))
      .toEqual([['SOL/USDT', '0.001', '0.00001'], ['BTC/USDT', '0.01', '0.00001']]);
    expect([sys.traded.symbol, sys.traded.venue, formatDecimal(sys.traded.tickSize), formatDecimal(sys.traded.lotSize)]).toEqual(['SOL/USDT', 'binance', '0.001', '0.00001']);
    expect(venueTrades.length).toBeGreaterThanOrEqual(1);
    expect(fills.map((f) => [f.side, f.lots, f.price]).sort()).toEqual(venueTrades.map((t) => [t.side, t.lots, t.price]).sort());
    expect(acct.freeOf('SOL') + acct.lockedOf('SOL')).toBe(bought - feesInSol);
  });

  it('refuses to start when the venue prices SOL/USDT in another step than the config\'s instruments', async () => {
    const sim = await solSim('0.001');
    const { config, secrets } = loadConfig(solConfigFile(sim, '0.01'), SIM_ENV);

    const err = await liveVenue(config, secrets, new SimulatedClock(sim.clock.now())).then(() => undefined, (e: unknown) => e);

    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe('Binance prices SOL/USDT in steps of 0.001 but the market data (config instruments) in steps of 0.01: the engine prices orders on the data\'s grid, so it refuses to trade SOL/USDT on Binance');
  });
});
