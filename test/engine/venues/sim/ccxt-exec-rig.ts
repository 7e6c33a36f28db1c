// The exchange simulator over a recorded BTC/USDT day with one account, and a CcxtExecVenue trading as that account
// through the unmodified ccxt binance client (its REST URLs pointed at the simulator): the setup shared by the stop
// order tests here and the protective-stop tests of the executor (test/actors/trading-executor/protective-stop.test.ts).
import ccxt from 'ccxt';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { CcxtExecVenue, type CcxtOrderApi } from '../../../../engine/venues/ccxt-exec.ts';
import type { SimAccountSpec } from '../../../../engine/venues/sim/accounts.ts';
import { startExchangeSim, type ExchangeSim, type ExchangeSimOptions } from '../../../../engine/venues/sim/server.ts';

/** The recording the simulator serves. */
export const BTC_RECORDING = ['data/recordings/spot_btcusdt_20240808.jsonl.gz'];
/** BTC/USDT with Binance's increments, on the binance venue. */
export const BINANCE_BTC = makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'binance' });

/**
 * Starts the simulator (manual speed, 5 s into the recording, so that the book is there) with `account` (and the
 * simulator's own `instruments`, when given: filters stricter than the engine's); returns it with a CcxtExecVenue for
 * BINANCE_BTC on its own SimulatedClock set to the simulator's time. The caller closes `sim`.
 */
export async function simWithCcxtVenue(
  account: SimAccountSpec, opts: Pick<ExchangeSimOptions, 'instruments'> = {},
): Promise<{ sim: ExchangeSim; venue: CcxtExecVenue }> {
  const sim = await startExchangeSim({ files: BTC_RECORDING, speed: 'manual', accounts: [account], ...opts });
  try {
    await sim.replay.advanceBy(5_000);
    const api = `${sim.url}/api/v3`;
    const exchange = new ccxt.binance({
      apiKey: account.apiKey, secret: account.secret, enableRateLimit: false,
      urls: { api: { public: api, private: api, v1: `${sim.url}/api/v1` } },
      options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
    });
    const clock = new SimulatedClock(sim.clock.now());
    const venue = new CcxtExecVenue({ exchange: exchange as unknown as CcxtOrderApi, venue: 'binance', instruments: [BINANCE_BTC], clock });
    return { sim, venue };
  } catch (e) {
    // The caller never gets the simulator to close.
    await sim.close();
    throw e;
  }
}
