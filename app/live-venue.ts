// The venue live orders go to: Binance or MEXC spot through ccxt (`execution.venue`), at the configured REST URL (the
// exchange simulator on loopback in tests; its MEXC dialect lives under /mexc). Market data stays Binance's.
// The increments orders are sized and priced in are read from the venue's exchangeInfo at start (Binance's filters,
// MEXC's precisions: what the venue checks and ccxt rounds to; venues change them, a bundled copy goes stale). The
// price step must be the one the market data is parsed with (config `instruments`, else the bundled increments),
// since the engine prices orders from that data: a mismatch refuses to start rather than send orders priced on the
// wrong grid.
// Orders pass the 429/418 gate of the REST URL's origin (engine/venues/rest-gate.ts), which the feed's snapshots and
// the DataProvider's klines and prices at that origin share: a 429 or 418 any of them meets holds back orders too.
import { instrumentSpecsOf, type Config } from '../engine/config/schema.ts';
import type { Secrets } from '../engine/config/env.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import { formatDecimal, parseDecimal } from '../engine/types/decimal.ts';
import { ConfigError } from '../engine/types/errors.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument, type InstrumentSpec, type VenueId } from '../engine/types/instrument.ts';
import { BINANCE_REST_URL, binanceExchange } from '../engine/venues/binance/rest.ts';
import { CcxtExecVenue, type CcxtOrderApi } from '../engine/venues/ccxt-exec.ts';
import { MEXC_REST_URL, mexcSpotExchange } from '../engine/venues/mexc/rest.ts';
import { restGateFor } from '../engine/venues/rest-gate.ts';

const DEFAULT_REST: Record<'binance' | 'mexc', string> = { binance: BINANCE_REST_URL, mexc: MEXC_REST_URL };

/**
 * Returns the increments of `symbol` on `venue` from `specs`: a configured run's are `instrumentSpecsOf(config)` (config
 * `instruments` over the bundled ones), the default the bundled ones alone. Throws ConfigError for a symbol without them.
 */
export function instrumentOf(symbol: string, venue: VenueId, specs: Readonly<Record<string, InstrumentSpec>> = BINANCE_SPOT_DEFAULTS): Instrument {
  const spec = specs[symbol];
  if (!spec) throw new ConfigError(`no instrument increments for ${symbol}: add them under the config's instruments (known: ${Object.keys(specs).join(', ')})`);
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
  const data = instrumentOf(symbol, 'binance', instrumentSpecsOf(config));
  const grid = Object.hasOwn(config.instruments, symbol) ? 'config instruments' : 'bundled Binance increments';
  const baseUrl = restUrl !== DEFAULT_REST[venue] ? { baseUrl: restUrl } : {};
  if (venue === 'binance') {
    if (!secrets.binanceApiKey || !secrets.binanceApiSecret) throw new ConfigError('live mode on Binance needs COBALT_API_KEY and COBALT_API_SECRET in the environment');
    const recvWindowMs = config.venues.binance.recvWindowMs;
    const exchange = binanceExchange({ ...baseUrl, apiKey: secrets.binanceApiKey, secret: secrets.binanceApiSecret, recvWindowMs });
    const inst = onDataGrid('Binance', await binanceInstrument(exchange as unknown as MarketsApi, symbol), data, grid);
    return new CcxtExecVenue({ exchange: exchange as unknown as CcxtOrderApi, venue: 'binance', instruments: [inst], clock, recvWindowMs, gate: restGateFor(restUrl) });
  }
  if (!secrets.mexcApiKey || !secrets.mexcApiSecret) throw new ConfigError('live mode on MEXC needs COBALT_MEXC_API_KEY and COBALT_MEXC_API_SECRET in the environment');
  const exchange = mexcSpotExchange({ ...baseUrl, apiKey: secrets.mexcApiKey, secret: secrets.mexcApiSecret, recvWindowMs: config.venues.mexc.recvWindowMs });
  const inst = onDataGrid('MEXC', await mexcInstrument(exchange as unknown as MarketsApi, symbol), data, grid);
  return new CcxtExecVenue({ exchange: exchange as unknown as CcxtOrderApi, venue: 'mexc', instruments: [inst], clock, recvWindowMs: config.venues.mexc.recvWindowMs, gate: restGateFor(restUrl) });
}

// Returns `inst` when its price step is the market data's (`grid` says where that came from); throws ConfigError otherwise.
function onDataGrid(venue: string, inst: Instrument, data: Instrument, grid: string): Instrument {
  if (inst.tickSize.mantissa !== data.tickSize.mantissa || inst.tickSize.scale !== data.tickSize.scale) {
    throw new ConfigError(`${venue} prices ${inst.symbol} in steps of ${formatDecimal(inst.tickSize)} but the market data (${grid}) in steps of ${formatDecimal(data.tickSize)}: the engine prices orders on the data's grid, so it refuses to trade ${inst.symbol} on ${venue}`);
  }
  return inst;
}

// Loads the venue's markets and returns `symbol`'s, open for trading; throws ConfigError otherwise.
async function openMarket(exchange: MarketsApi, venue: string, symbol: string): Promise<Record<string, unknown>> {
  let markets: Awaited<ReturnType<MarketsApi['loadMarkets']>>;
  try {
    markets = await exchange.loadMarkets();
  } catch (err) {
    throw new ConfigError(`${venue} markets could not be loaded: ${(err as Error).message}`, { cause: err });
  }
  const m = markets[symbol];
  if (!m) throw new ConfigError(`${venue} lists no spot market ${symbol}`);
  if (m.active === false) throw new ConfigError(`${venue}'s ${symbol} market is not open for spot trading`);
  const info = (m.info ?? {}) as Record<string, unknown>;
  // ccxt's Binance market is active on status TRADING alone; every spot order is rejected while this flag is off.
  if (info['isSpotTradingAllowed'] === false) throw new ConfigError(`${venue}'s ${symbol} market is not open for spot trading (isSpotTradingAllowed is false)`);
  return info;
}

// A non-negative decimal of at most 9 places (what an instrument's increments and Money hold).
const DECIMAL9 = /^\d+(\.\d{1,9})?$/;

/**
 * Returns Binance's increments of `symbol` from its exchangeInfo filters as ccxt loads them: PRICE_FILTER tickSize,
 * LOT_SIZE stepSize and the NOTIONAL (or older MIN_NOTIONAL) minimum. Throws ConfigError when the symbol is unknown,
 * not trading (status, or isSpotTradingAllowed false), or a filter is missing or not a positive decimal.
 */
export async function binanceInstrument(exchange: MarketsApi, symbol: string): Promise<Instrument> {
  const info = await openMarket(exchange, 'Binance', symbol);
  const filters = Array.isArray(info['filters']) ? (info['filters'] as Record<string, unknown>[]) : [];
  const field = (types: readonly string[], key: string, positive: boolean): string => {
    const f = filters.find((x) => types.includes(String(x['filterType'])));
    // exchangeInfo pads to 8 places ('0.01000000'): formatDecimal drops the zeros, so the step compares with the data's.
    const raw = String(f?.[key] ?? '');
    const v = /^\d+(\.\d+)?$/.test(raw) ? formatDecimal(parseDecimal(raw)) : raw;
    if (!DECIMAL9.test(v) || (positive && !/[1-9]/.test(v))) {
      throw new ConfigError(`Binance exchangeInfo for ${symbol}: ${types.join(' or ')} ${key} '${String(f?.[key])}' is not a${positive ? ' positive' : ''} decimal of at most 9 places`);
    }
    return v;
  };
  return makeInstrument({
    symbol, venue: 'binance', tickSize: field(['PRICE_FILTER'], 'tickSize', true), lotSize: field(['LOT_SIZE'], 'stepSize', true),
    minNotional: field(['NOTIONAL', 'MIN_NOTIONAL'], 'minNotional', false),
  });
}

interface MarketsApi { loadMarkets(): Promise<Record<string, { info?: unknown; active?: boolean } | undefined>> }

/**
 * Returns MEXC's increments of `symbol` from its exchangeInfo as ccxt loads it: the price step is
 * 10^-quoteAssetPrecision and the quantity step 10^-baseAssetPrecision (what ccxt rounds orders to), the minimum
 * order value quoteAmountPrecision. Throws ConfigError when the symbol is unknown, offline or lacks those fields.
 */
export async function mexcInstrument(exchange: MarketsApi, symbol: string): Promise<Instrument> {
  const info = await openMarket(exchange, 'MEXC', symbol);
  const places = (k: string): number => {
    const n = Number(info[k]);
    if (!Number.isInteger(n) || n < 0 || n > 9) throw new ConfigError(`MEXC exchangeInfo for ${symbol}: ${k} ${String(info[k])} is not a number of decimal places 0-9`);
    return n;
  };
  const minNotional = String(info['quoteAmountPrecision'] ?? '');
  if (!DECIMAL9.test(minNotional)) throw new ConfigError(`MEXC exchangeInfo for ${symbol}: quoteAmountPrecision '${minNotional}' is not a decimal amount`);
  return makeInstrument({ symbol, venue: 'mexc', tickSize: formatDecimal({ mantissa: 1n, scale: places('quoteAssetPrecision') }), lotSize: formatDecimal({ mantissa: 1n, scale: places('baseAssetPrecision') }), minNotional });
}
