import type { VenueId } from '../types/instrument.ts';
import type { DepthFrame } from '../venues/binance/parse-depth.ts';
import type { TsMs } from '../types/time.ts';

/**
 * A depth diff exactly as the venue sent it (a Binance combined-stream envelope or bare `depthUpdate`), not yet
 * parsed. The hot path: the COBAggregator parses it once, straight into its book, with a byte-level parser and no
 * per-level allocation. `data` is the frame's text (ASCII; a ws Buffer turned into a latin1 string once) or bytes.
 * Its update ids and event time are inside `data`, as the venue sent them; in a looped replay they are as recorded,
 * and `shiftMs` says how far the lap moved every other time (tsLocal already includes it).
 * A backtest replaying a catalog (engine/venues/replay/catalog.ts) sends the frame already parsed: consumers copy it.
 */
export interface RawDepth {
  readonly type: 'md.depthRaw';
  readonly venue: VenueId;
  /** Unified symbol (`BTC/USDT`). */
  readonly symbol: string;
  readonly tsLocal: TsMs;
  readonly data: string | Uint8Array | DepthFrame;
  /**
   * A looped replay's lap shift (ms): the frame's event time `E` on the lap's time line is `E + shiftMs`, as a
   * trade's `tsExchange` is its recorded `T` plus the shift. Absent: 0 (live data, an unshifted lap).
   */
  readonly shiftMs?: number;
}

/**
 * The feed's stream for a symbol restarted (a reconnect, a new replay lap): whatever a consumer built from the
 * diffs so far cannot be continued. Books are dropped and re-synced from a fresh snapshot.
 */
export interface FeedReset {
  readonly type: 'md.feedReset';
  readonly venue: VenueId;
  readonly symbol: string;
  readonly reason: string;
  readonly ts: TsMs;
  /**
   * 'trades': only the trade stream broke (a replay found a jump in trade ids); candles built from trades are cut,
   * books keep their state (their own update ids say whether the depth broke too). Absent: the whole stream.
   */
  readonly scope?: 'trades';
}

/** Where a market-data feed stands. */
export type FeedState = 'idle' | 'connecting' | 'live' | 'waiting' | 'ended' | 'stopped' | 'failed';

/** A market-data feed changed state. */
export interface FeedStatusMsg {
  readonly type: 'md.feedStatus';
  readonly venue: VenueId;
  /** `replay` or `live`. */
  readonly source: string;
  readonly status: FeedState;
  readonly detail?: string;
  readonly ts: TsMs;
}

/**
 * The DataProvider's REST market data (klines, prices) moved to the fallback venue, the primary's circuit breaker
 * having opened (`fallback`), or back to the primary after a successful probe (`primary`). `venue` answers from now on.
 */
export interface FeedSourceMsg {
  readonly type: 'md.feedSource';
  readonly status: 'fallback' | 'primary';
  readonly venue: VenueId;
  readonly primary: VenueId;
  readonly fallback: VenueId;
  readonly reason: string;
  readonly ts: TsMs;
}

/** Every message a feed adds to the market messages. */
export type FeedMsg = RawDepth | FeedReset | FeedStatusMsg | FeedSourceMsg;
