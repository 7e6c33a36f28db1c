// Shared builders for the RiskManager tests. Prices are real Binance spot trades from data/recordings
// (spot_{eth,btc}usdt_20240808.jsonl.gz); the trade ids are cited where a price is used.
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../engine/types/instrument.ts';
import { clientOrderId, intentId, venueOrderId } from '../../../engine/types/ids.ts';
import { money, type Money } from '../../../engine/types/money.ts';
import type { Lots, Ticks } from '../../../engine/types/price.ts';
import type { Fill, OrderIntent, Side } from '../../../engine/messages/orders.ts';
import type { RiskLimits } from '../../../engine/messages/risk.ts';
import { DEFAULT_LIMITS } from '../../../actors/risk-manager/limits.ts';

export const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']);
export const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']);

/** Recorded ETH/USDT trade prices in ticks of 0.01 (trade id in the comment). */
export const ETH_PX = {
  t1520538925: 268380 as Ticks, // 2683.80, the first trade of the recording
  t1520543125: 268017 as Ticks, // 2680.17
  t1520543725: 268496 as Ticks, // 2684.96
  t1520547382: 267360 as Ticks, // 2673.60, the recording's low
  t1520544172: 268537 as Ticks, // 2685.37, the recording's high
  t1520552725: 268122 as Ticks, // 2681.22
};
/** Recorded BTC/USDT trade 3735683259: 61837.63. */
export const BTC_PX = 6183763 as Ticks;

export const lots = (n: number): Lots => n as Lots;

/** Limits with every optional check switched off unless a test turns it on. */
export function limits(over: Partial<RiskLimits> = {}): RiskLimits {
  return {
    ...DEFAULT_LIMITS,
    maxOrderNotional: money('1000'),
    maxPositionNotional: money('2000'),
    maxExposure: money('2500'),
    maxSubmitsPerSecond: 3,
    maxDrawdownBps: 1_000,
    reduceAtDrawdownBps: undefined,
    stopLossBps: undefined,
    takeProfitBps: undefined,
    maxVar95: undefined,
    maxVar99: undefined,
    symbols: { 'ETH/USDT': { maxOrderLots: lots(3000), maxPositionLots: lots(6000) } },
    ...over,
  };
}

let seq = 0;
/** Returns an intent; a limit buy of 1000 lots (0.1 ETH) at 2680.17 unless overridden. */
export function intent(over: Partial<OrderIntent> = {}): OrderIntent {
  return {
    id: intentId(`t-${++seq}`),
    symbol: 'ETH/USDT',
    side: 'buy',
    orderType: 'limit',
    lots: lots(1000),
    price: ETH_PX.t1520543125,
    timeInForce: 'GTC',
    reduceOnly: false,
    reason: 'test',
    ts: 0,
    ...over,
  };
}

/** Returns a fill with the fee in USDT unless told otherwise. */
export function fill(side: Side, price: Ticks, n: number, fee: Money, over: Partial<Fill> = {}): Fill {
  const id = ++seq;
  return {
    clientOrderId: clientOrderId(`c-${id}`),
    venueOrderId: venueOrderId(`v-${id}`),
    tradeId: `tr-${id}`,
    venue: 'paper',
    symbol: 'ETH/USDT',
    side,
    price,
    lots: lots(n),
    fee,
    feeAsset: 'USDT',
    liquidity: 'taker',
    ts: 0,
    ...over,
  };
}
