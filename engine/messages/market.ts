import type { Lots, Ticks } from '../types/price.ts';
import type { Timeframe, TsMs } from '../types/time.ts';
import type { VenueId } from '../types/instrument.ts';

/** One price level as integer ticks and lots; `lots === 0` deletes the level in a diff. */
export type Level = readonly [price: Ticks, lots: Lots];

/** Fields every market message carries: exchange event time and local receive time. */
interface MarketBase {
  readonly venue: VenueId;
  readonly symbol: string;
  readonly tsExchange: TsMs;
  readonly tsLocal: TsMs;
}

/** A depth diff (Binance `depthUpdate`): `U` first and `u` last update id; futures also carry `pu`. */
export interface DepthDiff extends MarketBase {
  readonly type: 'md.depth';
  readonly firstUpdateId: number;
  readonly finalUpdateId: number;
  /** USD-M futures: the previous diff's final update id. Absent on spot. */
  readonly prevFinalUpdateId?: number;
  readonly bids: readonly Level[];
  readonly asks: readonly Level[];
}

/** A full REST depth snapshot. */
export interface DepthSnapshot extends MarketBase {
  readonly type: 'md.snapshot';
  readonly lastUpdateId: number;
  readonly bids: readonly Level[];
  readonly asks: readonly Level[];
}

/** One public trade. `buyerMaker` true means the aggressor sold. */
export interface Trade extends MarketBase {
  readonly type: 'md.trade';
  readonly tradeId: number;
  readonly price: Ticks;
  readonly lots: Lots;
  readonly buyerMaker: boolean;
}

/** Best bid/ask as the venue publishes it. */
export interface BookTicker extends MarketBase {
  readonly type: 'md.bookTicker';
  readonly updateId: number;
  readonly bid: Ticks;
  readonly bidLots: Lots;
  readonly ask: Ticks;
  readonly askLots: Lots;
}

/** An OHLCV candle in float units (features and display); `closed` false while the bar is still forming. */
export interface Candle {
  readonly openTime: TsMs;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly trades?: number;
  readonly closed: boolean;
}

/** A candle update for one series. */
export interface CandleMsg extends MarketBase {
  readonly type: 'md.candle';
  readonly timeframe: Timeframe;
  readonly candle: Candle;
}

/** The current price of a symbol and where it came from. */
export interface PriceMsg extends MarketBase {
  readonly type: 'md.price';
  readonly price: number;
  readonly source: string;
}

/** The book of one symbol went out of sync (gap) or came back. */
export interface BookStatus extends MarketBase {
  readonly type: 'md.bookStatus';
  readonly status: 'syncing' | 'live' | 'resyncing' | 'stale';
  readonly reason?: string;
}

/** Every market-data message. */
export type MarketMsg = DepthDiff | DepthSnapshot | Trade | BookTicker | CandleMsg | PriceMsg | BookStatus;
