// The MEXC execution venue the sim-backed ccxt-exec tests drive: CcxtExecVenue over the engine's own ccxt MEXC client
// (mexcSpotExchange, with its 418 and market-loading overrides) pointed at the exchange simulator's MEXC dialect.
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import { CcxtExecVenue } from '../../../engine/venues/ccxt-exec.ts';
import { mexcSpotExchange } from '../../../engine/venues/mexc/rest.ts';
import type { ExchangeSim } from '../../../engine/venues/sim/server.ts';

/**
 * Returns a fresh venue (as a new process has: no trade read yet) trading BTC/USDT on `sim`'s /mexc routes with the
 * keys of one of its accounts; ccxt's own rate limiter is off and the clock starts at the simulator's time.
 */
export function mexcSimVenue(sim: ExchangeSim, account: { readonly apiKey: string; readonly secret: string }): CcxtExecVenue {
  return new CcxtExecVenue({
    exchange: mexcSpotExchange({ baseUrl: `${sim.url}/mexc`, apiKey: account.apiKey, secret: account.secret, rateLimit: false }) as never,
    venue: 'mexc', instruments: [makeInstrument({ ...BINANCE_SPOT_DEFAULTS['BTC/USDT']!, venue: 'mexc' })], clock: new SimulatedClock(sim.clock.now()),
  });
}
