// ccxt error messages carry the signed request URL; the HMAC signature must not get past classifyCcxtError into
// rejections, venue status, logs or the dashboard (review_dash finding 3). Messages are shaped like ccxt's
// Exchange.fetch/handleHttpStatusCode ones: "<id> <METHOD> <url> <status> <reason> <body>".
import ccxt from 'ccxt';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../engine/log.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { CcxtExecVenue, classifyCcxtError, scrubVenueMessage, type CcxtOrderApi } from '../../../engine/venues/ccxt-exec.ts';

const SIG = 'c4d3c7f61e2a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5c395';
const BINANCE_URL = `https://api.binance.com/api/v3/openOrders?timestamp=1723161000000&symbol=ETHUSDT&recvWindow=5000&signature=${SIG}`;
const MEXC_URL = `https://api.mexc.com/api/v3/account?recvWindow=5000&timestamp=1723161000000&signature=${SIG}`;

describe('venue error messages', () => {
  it.each([
    ['a 503 from Binance', () => new ccxt.ExchangeNotAvailable(`binance GET ${BINANCE_URL} 503 Service Unavailable <html>down</html>`), 'EXCHANGE_UNAVAILABLE'],
    ['a timeout on MEXC', () => new ccxt.RequestTimeout(`mexc GET ${MEXC_URL} request timed out (10000 ms)`), 'REQUEST_TIMEOUT'],
    ['a refused connection', () => new ccxt.NetworkError(`binance DELETE ${BINANCE_URL} fetch failed: connect ECONNREFUSED`), 'NETWORK'],
    ['a 418 ban', () => new ccxt.DDoSProtection(`binance GET ${BINANCE_URL} 418 I'm a teapot {"code":-1003,"msg":"Way too many requests; IP banned until 1723161600000."}`), 'VENUE_IP_BANNED'],
  ])('drops the signature of %s and keeps the rest', (_name, make, code) => {
    const e = classifyCcxtError(make(), 1_723_161_000_000 as TsMs);
    expect(e.code).toBe(code);
    expect(e.message).not.toContain(SIG);
    expect(e.message).toContain('signature=[redacted]');
    expect(e.message).toMatch(/timestamp=1723161000000/);
    expect(String((e.cause as Error).message) + String((e.cause as Error).stack)).not.toContain(SIG);
  });

  it('keeps the ban end readable after scrubbing', () => {
    const e = classifyCcxtError(new ccxt.DDoSProtection(`binance GET ${BINANCE_URL} 418 {"msg":"IP banned until 1723161600000."}`), 1_723_161_000_000 as TsMs);
    expect(e.retryAfterMs).toBe(600_000);
  });

  it.each([
    [`GET /x?apiKey=AK123&api_key=AK456&sign=${SIG}`, 'GET /x?apiKey=[redacted]&api_key=[redacted]&sign=[redacted]'],
    [`{"signature":"${SIG}","symbol":"ETHUSDT"}`, '{"signature":"[redacted]","symbol":"ETHUSDT"}'],
    ['binance GET /api/v3/time 503', 'binance GET /api/v3/time 503'],
  ])('scrubs %s', (text, want) => {
    expect(scrubVenueMessage(text)).toBe(want);
  });

  it('logs a failed balance fetch through pino without the signature', async () => {
    const fail = (): Promise<never> => Promise.reject(new ccxt.ExchangeNotAvailable(`binance GET ${BINANCE_URL} 503 Service Unavailable down`));
    const exchange: CcxtOrderApi = {
      createOrder: fail, cancelOrder: fail, fetchOrder: fail, fetchOpenOrders: fail, fetchBalance: fail, fetchMyTrades: fail,
    };
    const venue = new CcxtExecVenue({ exchange, venue: 'binance', instruments: [], clock: new SimulatedClock(1_723_161_000_000) });
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
    const err = await venue.fetchBalances().catch((e: unknown) => e as Error);
    logger.error({ err }, 'balance fetch failed');
    expect(err).toBeInstanceOf(Error);
    expect(lines.join('')).toContain('EXCHANGE_UNAVAILABLE');
    expect(lines.join('')).not.toContain(SIG);
  });
});
