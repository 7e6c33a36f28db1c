// The venue live orders go to: Binance or MEXC spot through ccxt (`execution.venue`), at the configured REST URL (the
// exchange simulator on loopback in tests; its MEXC dialect lives under /mexc). Market data stays Binance's.
// Binance trades with the bundled increments (they are the recording's); MEXC's are read from MEXC's exchangeInfo at
// start, the way ccxt will round our orders, and must put prices on the same tick grid as the Binance data the engine
// prices orders from: a mismatch refuses to start rather than send orders priced on the wrong grid.
import ccxt from 'ccxt';
import type { Config } from '../engine/config/schema.ts';
import type { Secrets } from '../engine/config/env.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import { formatDecimal } from '../engine/types/decimal.ts';
import { ConfigError } from '../engine/types/errors.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument, type VenueId } from '../engine/types/instrument.ts';
import { binanceCcxtOptions } from '../engine/venues/binance/rest.ts';
import { CcxtExecVenue, type CcxtOrderApi } from '../engine/venues/ccxt-exec.ts';
import { mexcCcxtOptions } from '../engine/venues/mexc/rest.ts';

const DEFAULT_REST: Record<'binance' | 'mexc', string> = { binance: 'https://api.binance.com', mexc: 'https://api.mexc.com' };

/** Returns the bundled increments of `symbol` on `venue`; throws ConfigError for a symbol without them. */
export function instrumentOf(symbol: string, venue: VenueId): Instrument {
  const spec = BINANCE_SPOT_DEFAULTS[symbol];
  if (!spec) throw new ConfigError(`no instrument increments bundled for ${symbol} (have ${Object.keys(BINANCE_SPOT_DEFAULTS).join(', ')})`);
  return makeInstrument({ ...spec, venue });
}

/** Where live orders go: the venue's name and REST URL (printed before the first order). */
export function liveVenueTarget(config: Config): { venue: 'binance' | 'mexc'; restUrl: string } {
  const venue = config.execution.venue;
  return { venue, restUrl: config.venues[venue].restUrl };
}

/** Returns the live execution venue of `config` (see the header); throws ConfigError without its keys. */
export async function liveVenue(config: Config, secrets: Secrets, clock: Clock): Promise<CcxtExecVenue> {
  const { venue, restUrl } = liveVenueTarget(config);
  const symbol = config.symbols.primary;
  const baseUrl = restUrl !== DEFAULT_REST[venue] ? { baseUrl: restUrl } : {};
  if (venue === 'binance') {
    if (!secrets.binanceApiKey || !secrets.binanceApiSecret) throw new ConfigError('live mode on Binance needs COBALT_API_KEY and COBALT_API_SECRET in the environment');
    const exchange = new ccxt.binance(binanceCcxtOptions({ ...baseUrl, apiKey: secrets.binanceApiKey, secret: secrets.binanceApiSecret }) as never);
    return new CcxtExecVenue({ exchange: exchange as never, venue: 'binance', instruments: [instrumentOf(symbol, 'binance')], clock, recvWindowMs: config.venues.binance.recvWindowMs });
  }
  if (!secrets.mexcApiKey || !secrets.mexcApiSecret) throw new ConfigError('live mode on MEXC needs COBALT_MEXC_API_KEY and COBALT_MEXC_API_SECRET in the environment');
  const exchange = new ccxt.mexc(mexcCcxtOptions({ ...baseUrl, apiKey: secrets.mexcApiKey, secret: secrets.mexcApiSecret, recvWindowMs: config.venues.mexc.recvWindowMs }) as never);
  const inst = await mexcInstrument(exchange as unknown as MarketsApi, symbol);
  const data = instrumentOf(symbol, 'binance');
  if (inst.tickSize.mantissa !== data.tickSize.mantissa || inst.tickSize.scale !== data.tickSize.scale) {
    throw new ConfigError(`MEXC prices ${symbol} in steps of ${formatDecimal(inst.tickSize)} but the market data (Binance) in steps of ${formatDecimal(data.tickSize)}: the engine prices orders on the data's grid, so it refuses to trade ${symbol} on MEXC`);
  }
  return new CcxtExecVenue({ exchange: exchange as unknown as CcxtOrderApi, venue: 'mexc', instruments: [inst], clock, recvWindowMs: config.venues.mexc.recvWindowMs });
}

interface MarketsApi { loadMarkets(): Promise<Record<string, { info?: unknown; active?: boolean } | undefined>> }

/**
 * Returns MEXC's increments of `symbol` from its exchangeInfo as ccxt loads it: the price step is
 * 10^-quoteAssetPrecision and the quantity step 10^-baseAssetPrecision (what ccxt rounds orders to), the minimum
 * order value quoteAmountPrecision. Throws ConfigError when the symbol is unknown, offline or lacks those fields.
 */
export async function mexcInstrument(exchange: MarketsApi, symbol: string): Promise<Instrument> {
  let markets: Awaited<ReturnType<MarketsApi['loadMarkets']>>;
  try {
    markets = await exchange.loadMarkets();
  } catch (err) {
    throw new ConfigError(`MEXC markets could not be loaded: ${(err as Error).message}`, { cause: err });
  }
  const m = markets[symbol];
  if (!m) throw new ConfigError(`MEXC lists no spot market ${symbol}`);
  if (m.active === false) throw new ConfigError(`MEXC's ${symbol} market is not open for spot trading`);
  const info = (m.info ?? {}) as Record<string, unknown>;
  const places = (k: string): number => {
    const n = Number(info[k]);
    if (!Number.isInteger(n) || n < 0 || n > 9) throw new ConfigError(`MEXC exchangeInfo for ${symbol}: ${k} ${String(info[k])} is not a number of decimal places 0-9`);
    return n;
  };
  const minNotional = String(info['quoteAmountPrecision'] ?? '');
  if (!/^\d+(\.\d{1,9})?$/.test(minNotional)) throw new ConfigError(`MEXC exchangeInfo for ${symbol}: quoteAmountPrecision '${minNotional}' is not a decimal amount`);
  return makeInstrument({ symbol, venue: 'mexc', tickSize: formatDecimal({ mantissa: 1n, scale: places('quoteAssetPrecision') }), lotSize: formatDecimal({ mantissa: 1n, scale: places('baseAssetPrecision') }), minNotional });
}
