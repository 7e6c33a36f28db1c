// The market-data feed port: a source (recording replay or a live venue) that decodes frames and publishes them on
// the bus as `md.*` messages for a set of instruments.
//
// Hot path: depth diffs are published as `md.depthRaw` (the frame's text, undecoded) so the COBAggregator parses
// each frame exactly once, straight into its book, with no Level arrays and no message per level. A feed built with
// `depth: 'decoded'` publishes `md.depth` (DepthDiff with integer Level arrays) instead, for consumers that want
// the typed form; the COBAggregator takes either. Everything else (snapshots, trades, bookTicker, candles) is
// published decoded. When a symbol's stream restarts (reconnect, replay lap) the feed publishes `md.feedReset`
// before the new stream's first frame, and consumers drop what they built from the old one.
import type { FeedState } from '../messages/feed.ts';
import type { Instrument, VenueId } from '../types/instrument.ts';

/** How a feed publishes depth diffs: raw frames (`md.depthRaw`, default) or decoded `md.depth` messages. */
export type DepthDelivery = 'raw' | 'decoded';

/** Asks a feed for a fresh depth snapshot of one symbol; the answer arrives later as `md.snapshot` on the bus. */
export interface SnapshotSource {
  /**
   * Requests a snapshot of `symbol` (unified) on `venue`. Live feeds fetch it over REST once the stream for that
   * symbol is flowing (and retry until it comes); a replay has no REST: the recording's next snapshot line is what
   * answers. Repeated requests while one is pending are merged.
   */
  requestSnapshot(venue: VenueId, symbol: string, reason: string): void;
}

/** Counters of a feed since creation. */
export interface FeedCounters {
  /** Frames or recorded lines read. */
  frames: number;
  /** Messages published on the bus (md.feedReset and md.feedStatus included). */
  published: number;
  depth: number;
  snapshots: number;
  trades: number;
  bookTickers: number;
  candles: number;
  /** Frames that could not be decoded: counted and skipped. */
  malformed: number;
  /** Well-formed frames not turned into messages (replies, other symbols, unkept intervals). */
  ignored: number;
  snapshotRequests: number;
  /** Snapshots fetched over REST (live feeds). */
  snapshotsFetched: number;
  snapshotErrors: number;
  /** `md.feedReset` messages published (one per symbol per restart). */
  resets: number;
}

/** Returns a zeroed counter set. */
export function emptyFeedCounters(): FeedCounters {
  return {
    frames: 0, published: 0, depth: 0, snapshots: 0, trades: 0, bookTickers: 0, candles: 0, malformed: 0, ignored: 0,
    snapshotRequests: 0, snapshotsFetched: 0, snapshotErrors: 0, resets: 0,
  };
}

/** A market-data source publishing `md.*` messages for `instruments` onto the bus. */
export interface MarketFeed extends SnapshotSource {
  readonly venue: VenueId;
  readonly instruments: readonly Instrument[];
  /** Where the feed stands. */
  readonly status: FeedState;
  readonly counters: FeedCounters;
  /** Starts publishing; resolves once the source is open (files opened, connection initiated). */
  start(): Promise<void>;
  /** Stops publishing and releases files or sockets; no message follows. */
  stop(): Promise<void>;
}
