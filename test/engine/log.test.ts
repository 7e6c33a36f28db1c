import { describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/log.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } });
  return { logger, lines };
}

describe('logger redaction', () => {
  it('redacts credentials at the top level and keeps normal fields', () => {
    const { logger, lines } = capture();
    logger.info({ apiKey: 'AK', secret: 'S', token: 'T', signature: 'SIG', symbol: 'ETH/USDT', qty: 3, ok: true }, 'order');
    expect(lines[0]).toMatchObject({ apiKey: '[redacted]', secret: '[redacted]', token: '[redacted]', signature: '[redacted]',
      symbol: 'ETH/USDT', qty: 3, ok: true, msg: 'order' });
  });

  it('redacts credentials nested one and two levels deep', () => {
    const { logger, lines } = capture();
    logger.info({
      venue: { apiKey: 'AK', apiSecret: 'AS', name: 'binance' },
      req: { params: { signature: 'SIG', symbol: 'BTCUSDT' }, headers: { 'x-mbx-apikey': 'AK' } },
      secrets: { dashboard: { token: 'T' } },
    });
    const line = lines[0] as { venue: Record<string, unknown>; req: { params: Record<string, unknown>; headers: Record<string, unknown> }; secrets: { dashboard: Record<string, unknown> } };
    expect(line.venue).toEqual({ apiKey: '[redacted]', apiSecret: '[redacted]', name: 'binance' });
    expect(line.req.params).toEqual({ signature: '[redacted]', symbol: 'BTCUSDT' });
    expect(line.req.headers['x-mbx-apikey']).toBe('[redacted]');
    expect(line.secrets.dashboard.token).toBe('[redacted]');
    expect(JSON.stringify(lines)).not.toMatch(/"AK"|"AS"|"SIG"|"T"/);
  });

  it('redacts a venue key header three levels deep, as in a logged request error', () => {
    const { logger, lines } = capture();
    logger.error({ err: { request: { headers: { 'x-mbx-apikey': 'AK' }, url: '/api/v3/order' } } }, 'order failed');
    const line = lines[0] as { err: { request: { headers: Record<string, unknown>; url: string } } };
    expect(line.err.request.headers['x-mbx-apikey']).toBe('[redacted]');
    expect(line.err.request.url).toBe('/api/v3/order');
  });

  it('does not mutate the logged object', () => {
    const { logger } = capture();
    const obj = { venue: { apiKey: 'AK' } };
    logger.info(obj);
    expect(obj.venue.apiKey).toBe('AK');
  });
});
