// Re-review finding (high): once every plain ccxt ExchangeError was an unknown outcome, the venues' real refusals that
// ccxt's maps leave plain (MEXC 30000 "suspended transaction for the symbol", 26 "operation not allowed", 60005 "your
// account is abnormal", 730100 "Unusual user status"; any Binance code its map lacks) were sent three times with
// queries between, rejected VENUE_UNAVAILABLE, and each attempt counted on the circuit breaker: two such orders opened
// it and the next order (a RiskManager exit) was refused VENUE_CIRCUIT_OPEN without reaching the venue. Now a plain
// ExchangeError is an unknown outcome only with an internal-error code (MEXC 500, 20002, 730000) or no code at all.
import ccxt, { type Exchange } from 'ccxt';
import { describe, expect, it } from 'vitest';
import { TradingExecutor } from '../../../actors/trading-executor/executor.ts';
import { clientOrderIdFor } from '../../../actors/trading-executor/logic.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { binanceExchange } from '../../../engine/venues/binance/rest.ts';
import { CcxtExecVenue, classifyCcxtError } from '../../../engine/venues/ccxt-exec.ts';
import { mexcSpotExchange } from '../../../engine/venues/mexc/rest.ts';
import { BTC, capturingLogger, drive, limitIntent, recordingBus, tempStore } from '../../actors/trading-executor/helpers.ts';
import { StubExchange } from '../../actors/trading-executor/stub-exchange.ts';

const NOW = 1_700_000_000_000;

// What `ex` throws for an answer with HTTP `status` and JSON `body` (handleErrors, then the status check).
function thrownBy(ex: Exchange, status: number, body: string): Error {
  try {
    ex.handleErrors(status, 'x', `https://api.${ex.id}.com/api/v3/order`, 'POST', {}, body, JSON.parse(body) as never, {}, '');
    ex.handleHttpStatusCode(status, 'x', `https://api.${ex.id}.com/api/v3/order`, 'POST', body);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${ex.id} HTTP ${status} ${body} threw nothing`);
}

const mexc = (status: number, body: string) => thrownBy(mexcSpotExchange({ apiKey: 'k', secret: 's' }), status, body);
const binance = (status: number, body: string) => thrownBy(binanceExchange({ apiKey: 'k', secret: 's' }), status, body);

describe('a plain ccxt ExchangeError', () => {
  it('is a rejection carrying the venue\'s code when the body names a refusal ccxt\'s map leaves plain', () => {
    const refusals = [
      mexc(400, '{"code":30000,"msg":"suspended transaction for the symbol"}'),
      mexc(400, '{"code":26,"msg":"operation not allowed"}'),
      mexc(400, '{"code":60005,"msg":"your account is abnormal"}'),
      mexc(400, '{"code":730100,"msg":"Unusual user status"}'),
      mexc(400, '{"code":730003,"msg":"Unsupported operation, please contact the customer service"}'),
      binance(400, '{"code":-1199,"msg":"a code the map lacks"}'),
    ];
    for (const err of refusals) {
      expect(err.constructor).toBe(ccxt.ExchangeError);
      const c = classifyCcxtError(err, NOW, {});
      expect([c.kind, c.code, c.message.includes(err.message)]).toEqual(['rejected', 'VENUE_REJECTED', true]);
    }
  });

  it('is an unknown outcome with an internal-error code or no code at all', () => {
    const internal = [
      mexc(200, '{"code":20002,"msg":"Internal system error please contact support"}'),
      mexc(400, '{"code":730000,"msg":"Request failed, please contact the customer service"}'),
      mexc(400, '{"code":"500","msg":"Internal error"}'),
      binance(400, '{"success":false,"msg":"no code in this answer"}'),
    ];
    for (const err of internal) {
      expect(err.constructor).toBe(ccxt.ExchangeError);
      expect(classifyCcxtError(err, NOW, {})).toMatchObject({ kind: 'unknown', code: 'VENUE_ERROR' });
    }
  });
});

describe('the executor on a venue refusing with a plain ExchangeError', () => {
  it('sends each order once, records it rejected with the venue\'s words, and keeps the breaker closed for the next', async () => {
    const clock = new SimulatedClock(NOW);
    const stub = new StubExchange();
    const venue = new CcxtExecVenue({ exchange: stub, venue: 'binance', instruments: [BTC], clock, recvWindowMs: 10_000 });
    const s = tempStore(undefined, { syncCommits: true });
    const rec = recordingBus();
    const ex = new TradingExecutor({ bus: rec.bus, clock, venue, store: s.store, instruments: [BTC], log: capturingLogger().logger, rng: () => 0.5, pollMs: 1_000 });
    try {
      await ex.start();
      stub.always.createOrder = { err: mexc(400, '{"code":30000,"msg":"suspended transaction for the symbol"}') };
      rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('a1', 5_000_000), ts: clock.now() });
      rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('a2', 5_000_000, { lots: 200 as never }), ts: clock.now() });
      await drive(clock, () => !ex.busy);

      expect(stub.calls.createOrder).toBe(2);
      expect(stub.calls.fetchOrder).toBe(0);
      expect(rec.of('exec.orderRejected').map((m) => m.code)).toEqual(['VENUE_REJECTED', 'VENUE_REJECTED']);
      expect(ex.order(clientOrderIdFor('a1'))?.reason).toMatch(/"code":30000.*suspended transaction/);
      expect(ex.breaker.state).toBe('closed');

      delete stub.always.createOrder;
      rec.bus.publish({ type: 'risk.orderApproved', intent: limitIntent('exit1', 5_000_000, { side: 'sell' }), ts: clock.now() });
      await drive(clock, () => !ex.busy);
      expect(ex.order(clientOrderIdFor('exit1'))?.status).toBe('accepted');
    } finally {
      ex.stop();
      await s.cleanup();
    }
  });
});
