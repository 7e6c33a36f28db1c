// The venues' public REST origins, the ones a client without `baseUrl` talks to. Kept apart from the REST clients (which
// load ccxt, ~2 s of CPU) so that the CLI can name them without loading one.

/** Binance spot's REST origin. */
export const BINANCE_REST_URL = 'https://api.binance.com';

/** MEXC spot's REST origin. */
export const MEXC_REST_URL = 'https://api.mexc.com';
