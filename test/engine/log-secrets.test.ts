// Secrets must never reach a log line, however they are logged (review_dash finding 2). These go through the real
// pino logger of engine/log.ts and read what it writes, because pino's redaction copies logged objects and the
// copy, not the original, is what gets serialised.
import { describe, expect, it } from 'vitest';
import { readSecrets } from '../../engine/config/index.ts';
import { createLogger } from '../../engine/log.ts';

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
  return { logger, text: () => lines.join('') };
}

// Under 8 characters, so the logger does not search lines for these values: what hides them here is the secrets
// object's own serialisation and the redacted key names.
const SHORT = { COBALT_API_KEY: 'K1-bnb', COBALT_API_SECRET: 'S1-bnb', COBALT_MEXC_API_KEY: 'K2-mxc', COBALT_MEXC_API_SECRET: 'S2-mxc', COBALT_DASHBOARD_TOKEN: 'T1-dsh' };
const SHORT_VALUES = /K1-bnb|S1-bnb|K2-mxc|S2-mxc|T1-dsh/;

describe('logger: secrets', () => {
  it.each([
    ['the secrets object at the top level', (s: object) => s],
    ['the secrets object under a key', (s: object) => ({ secrets: s })],
    ['the secrets object inside a loaded config', (s: object) => ({ loaded: { config: { mode: 'live' }, secrets: s } })],
    ['a spread copy of the secrets object', (s: object) => ({ secrets: { ...s } })],
  ])('does not print %s', (_name, wrap) => {
    const { logger, text } = capture();
    logger.info(wrap(readSecrets(SHORT)), 'start');
    expect(text()).toContain('"msg":"start"');
    expect(text()).not.toMatch(SHORT_VALUES);
  });

  it('redacts the venue key headers and every credential spelling two levels deep', () => {
    const { logger, text } = capture();
    logger.error({
      err: { request: { headers: { 'X-MEXC-APIKEY': 'K2-mxc', 'x-mexc-apikey': 'K2-mxc', 'X-MBX-APIKEY': 'K1-bnb' } } },
      opts: { APIKEY: 'K1-bnb', api_key: 'K1-bnb', apiSecretKey: 'S1-bnb', secretKey: 'S1-bnb', passphrase: 'S1-bnb', accessToken: 'T1-dsh', dashboardToken: 'T1-dsh' },
      symbol: 'ETH/USDT',
    }, 'venue call failed');
    expect(text()).not.toMatch(SHORT_VALUES);
    expect(text()).toContain('"symbol":"ETH/USDT"');
  });

  it('blanks a secret value logged under an unrelated name, deep down or inside the message', () => {
    const key = 'AKIAlongvenuekey0123456789';
    const token = 'dash"token\\with-quotes';
    readSecrets({ COBALT_API_KEY: key, COBALT_DASHBOARD_TOKEN: token });
    const { logger, text } = capture();
    logger.info({ a: { b: { c: { d: { e: { credential: key } } } } }, header: `Bearer ${token}` }, `using ${key}`);
    expect(text()).not.toContain(key);
    expect(text()).not.toContain(JSON.stringify(token).slice(1, -1));
    expect(JSON.parse(text())).toMatchObject({ msg: 'using [redacted]', header: 'Bearer [redacted]' });
  });
});
