// A live REST depth snapshot goes through the stream's grid rule: real books hold quantities off today's lot grid
// (the bundled BTC recording's snapshots have 191.389006 BTC at 100,000 and 177.351592 at 90,000, placed under an
// older step size), and a strict conversion failed every snapshot while such a level was among the 1000 returned.
import { describe, expect, it } from 'vitest';
import { BinanceRest } from '../../../../engine/venues/binance/rest.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);

// A client whose depth endpoint answers `body` (no request leaves the process).
function restAnswering(body: unknown): BinanceRest {
  const rest = new BinanceRest();
  (rest.exchange as unknown as { publicGetDepth: () => Promise<unknown> }).publicGetDepth = async () => body;
  return rest;
}

describe('BinanceRest.depthSnapshot', () => {
  it('rounds off-grid quantities to the lot, as the stream does, instead of failing the snapshot', async () => {
    const rest = restAnswering({
      lastUpdateId: 51_234_567_890,
      bids: [['61855.36', '0.50000000'], ['90000.00', '0'], ['74000.00', '93.75658700']],
      asks: [['61855.37', '1.20000000'], ['100000.00', '191.38900600']],
    });
    const s = await rest.depthSnapshot(BTC, 1000, { now: () => 1_723_161_254_000 } as never);
    expect(s.lastUpdateId).toBe(51_234_567_890);
    // BTC/USDT: tick 0.01, lot 0.00001.
    expect(s.bids).toEqual([[6_185_536, 50_000], [9_000_000, 0], [7_400_000, 9_375_659]]);
    expect(s.asks).toEqual([[6_185_537, 120_000], [10_000_000, 19_138_901]]);
  });

  it('still refuses a malformed level, naming the symbol and the value', async () => {
    const rest = restAnswering({ lastUpdateId: 1, bids: [['61855.36', 'abc']], asks: [] });
    await expect(rest.depthSnapshot(BTC, 1000)).rejects.toThrow(/binance depth snapshot of BTCUSDT: quantity 'abc'/);
  });
});
