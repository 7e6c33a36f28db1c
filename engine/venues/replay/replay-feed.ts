// Replays recordings (several symbols, several consecutive files each) as a market-data feed, publishing exactly the
// messages the live Binance feed publishes. States (md.feedStatus): idle -> live -> ended | stopped | failed.
//
// Time: a line's receive timestamp (the recorder's local clock, ns) is its `tsLocal`, and it is what drives time,
// because that is when a live engine would have seen the frame. The venue's event time `E` stays `tsExchange`
// (SOURCES.md: the recorder's clock ran ~1.27 s behind Binance's, so tsExchange − tsLocal ≈ +1.27 s here).
// - SimulatedClock: before each line the clock is set to its tsLocal (firing due timers first), as fast as possible;
//   with a `paceClock` (the daemon replaying a recording), lines are also paced to `speed` times the recorded pace on
//   that wall clock, so engine time always equals data time and a starved CPU slows the replay instead of letting
//   the engine's clock run ahead of its data.
// - Other clocks with `speed` X > 0: lines are paced to X times the recorded pace; speed 0 is as fast as possible.
// Symbols are merged by receive time (BTC and ETH interleave as recorded).
//
// Loop: at the end the recording starts over with every timestamp (tsLocal, tsExchange, trade and candle times)
// shifted by the lap length (whole minutes, so candle times stay on their grid, and enough of them that the next lap
// starts in a later minute than the one the last lap ended in: see lapLengthMs), so time keeps increasing. Update
// ids cannot continue: each new lap first publishes `md.feedReset` for every symbol, books drop their state and
// re-sync from the lap's recorded snapshot (the DataProvider leaves the bars of the junction incomplete). Raw depth frames carry
// their recorded text (update ids and `E` as recorded): the message's tsLocal moves, and its `shiftMs` says by how much,
// so that a reader of the event time puts it on the lap's time line (the paper venue's queues compare it with trade times).
//
// Resume: a daemon restarted on the same store must not replay times it has already used (the inference history, fills
// and VaR samples are keyed or ordered by time). `resumeAfter(ms)` shifts the whole replay by the whole minutes that
// start it in a later minute than `ms` (resumeShiftMs); `reserveWith(fn)` has the feed wait, before it publishes anything
// later than the last bound `fn` returned, for `fn` to store a new bound (app/run.ts keeps it in LMDB), so a restart
// after a crash still starts after every time the last run published.
//
// Snapshots: a recording has no REST endpoint. Every recorded snapshot line is published as `md.snapshot`;
// `requestSnapshot` only counts the request (the next recorded snapshot answers it, if there is one).
//
// Holes: a recording has no marker where the recorder's stream broke (a stop, a reconnect); two things show one
// (./trade-ids.ts), and each publishes `md.feedReset` scoped to trades for the symbol, so the DataProvider leaves the
// bars of the hole incomplete instead of closing them whole:
// - Silence. The feed reads ahead (`RecordingLookahead`): when a symbol's next line is more than its bound later
//   (SILENCE_MS = 3 s, or TRADES_ONLY_SILENCE_MS = 10 s for a recording of trades alone), the reset goes out right
//   after its last line before the hole, at that line's time, before the clock moves on: the 1 s close timer makes
//   no flat bar inside the hole (it did, one per second, when the first line after a stop was a depth or bookTicker
//   frame, and the minutes inside the hole rolled up whole). Counted in `silences`.
// - Trade ids. Binance numbers each symbol's trades one by one (trade `t`, aggTrade `a`). A trade line whose id does
//   not follow the symbol's previous one publishes the reset first, at the previous line's time (before the clock
//   moves to the trade); after a silence that already cut the symbol this second reset changes nothing. It still
//   finds holes shorter than the silence bound, once the clock has crossed them. Counted in `tradeIdGaps`.
// Books re-sync from the next recorded snapshot, as over a reconnect (the depth chain broke there too). A recorded
// snapshot in the middle of a file is no such marker: the recorder takes it after the reconnect's first depth frame,
// after the hole's trades.
import type { Logger } from '../../log.ts';
import { log as rootLog } from '../../log.ts';
import type { EngineMsg } from '../../messages/index.ts';
import type { FeedState } from '../../messages/feed.ts';
import type { Bus } from '../../runtime/bus.ts';
import { SimulatedClock, type Clock } from '../../runtime/clock.ts';
import type { Instrument, VenueId } from '../../types/instrument.ts';
import type { TsMs } from '../../types/time.ts';
import { ConfigError } from '../../types/errors.ts';
import { BinanceFramePublisher } from '../binance/binance-feed.ts';
import type { FrameKind } from '../binance/frames.ts';
import { emptyFeedCounters, type DepthDelivery, type FeedCounters, type MarketFeed } from '../feed.ts';
import { RecordingMerge, type SymbolLine } from '../sim/replay.ts';
import { replayInstrument } from './book-replay.ts';
import { RecordingHoles, RecordingLookahead, recordedTradeId } from './trade-ids.ts';

/** Options of a replay feed. */
export interface ReplayFeedOptions {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  /** Recording files; files of one symbol are chained in time order, symbols merged by receive time. */
  readonly files: readonly string[];
  /** Instruments to publish; default every recorded symbol with the bundled increments. Others are skipped. */
  readonly instruments?: readonly Instrument[];
  /** Venue the messages name (default 'binance': the recordings are Binance's). */
  readonly venue?: VenueId;
  /** Pace relative to recorded time when the clock is not simulated; 0 (default) = as fast as possible. */
  readonly speed?: number;
  /** With a SimulatedClock: the wall clock to pace lines against at `speed` (without it, as fast as possible). */
  readonly paceClock?: Clock;
  readonly loop?: boolean;
  /** Stop after this many laps (loop mode; default unlimited). */
  readonly maxLaps?: number;
  readonly depth?: DepthDelivery;
  /** Frame kinds to publish (default all: depth, snapshot, trade, bookTicker, kline); the rest is skipped undecoded. */
  readonly kinds?: readonly FrameKind[];
  /** Narrower kinds for some symbols (see FramePublisherOptions.kindsBySymbol). */
  readonly kindsBySymbol?: Readonly<Record<string, readonly FrameKind[]>>;
  /** Lines between yields to the event loop (default 1000), so timers and stop() get a turn. */
  readonly yieldEvery?: number;
  /** `start` throws when one of `instruments` has no file in the recording (default: it is silently never published). */
  readonly requireInstruments?: boolean;
  readonly logger?: Logger;
}

/**
 * How far a line's exchange times (which bucket trades into bars) may stray from its receive time: the recorder's
 * clock skew plus latency (about +1.27 s in the bundled recordings).
 */
export const LAP_SKEW_MS = 10_000;

/**
 * Returns the lap length for a recording whose first and last lines were received at `firstMs` and `lastMs`: a
 * whole number of minutes (bar times stay on the 1s and 1m grids) such that the next lap's first minute comes after
 * the minute of this lap's last line, exchange times allowing for `LAP_SKEW_MS`. No 1m bar holds trades of two laps.
 * Coarser bars do (a 1h bar of a recording shorter than an hour is always several laps); shifting by whole hours
 * would leave most of each hour without data.
 */
export function lapLengthMs(firstMs: TsMs, lastMs: TsMs): number {
  return (Math.floor((lastMs + LAP_SKEW_MS) / 60_000) + 1) * 60_000 - lapOriginMs(firstMs);
}

/** Returns the minute a lap of a recording whose first line was received at `firstMs` starts in (see `lapLengthMs`). */
export function lapOriginMs(firstMs: TsMs): number {
  return Math.floor((firstMs - LAP_SKEW_MS) / 60_000) * 60_000;
}

/**
 * Returns the shift (whole minutes, ≥ 0) that starts a recording whose first line was received at `firstMs` after
 * `afterMs`: 0 when it already starts later, else the fewest minutes that start it in a later minute than `afterMs`,
 * exchange times allowing for `LAP_SKEW_MS` (as `lapLengthMs` starts each lap after the one before).
 */
export function resumeShiftMs(firstMs: TsMs, afterMs: TsMs): number {
  if (!Number.isFinite(firstMs) || !Number.isFinite(afterMs)) throw new RangeError(`resume shift: times must be finite, got first line ${firstMs} and resume after ${afterMs}`);
  return afterMs < firstMs ? 0 : lapLengthMs(firstMs, afterMs);
}

/**
 * Stores a bound on the time the replay may reach and resolves with it: called with the time of the next message
 * to publish, which the bound must cover.
 */
export type ReserveTime = (ts: TsMs) => Promise<TsMs>;

/** The counters of a replay feed: a feed's, and what was wrong in the recording. */
export interface ReplayFeedCounters extends FeedCounters {
  /** Lines that were not `<ts_ns> <json>`, skipped (counted again on every lap, as `frames` counts lines). */
  badLines: number;
  /** Trade lines whose id did not follow their symbol's previous trade; each published an `md.feedReset`. */
  tradeIdGaps: number;
  /** Silences of a symbol whose trades are published, longer than its bound (see ./trade-ids.ts); each published an `md.feedReset`. */
  silences: number;
}

export { recordedTradeId } from './trade-ids.ts';

/** A recording replayed onto the bus as a market-data feed. */
export class ReplayFeed implements MarketFeed {
  readonly venue: VenueId;
  readonly counters: ReplayFeedCounters = { ...emptyFeedCounters(), badLines: 0, tradeIdGaps: 0, silences: 0 };
  /** Resolves when the replay ends or is stopped; rejects when a file cannot be read. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (e: unknown) => void;
  private insts: readonly Instrument[] = [];
  private publisher: BinanceFramePublisher | undefined;
  private merge: RecordingMerge | undefined;
  private st: FeedState = 'idle';
  private stopped = false;
  private lap = 0;
  private lapMs = 0;
  /** Shift of the first lap (resumeAfter), under every lap's own. */
  private baseShift = 0;
  private resumeAfterMs: TsMs | undefined;
  private reserve: ReserveTime | undefined;
  /** The last bound `reserve` stored: lines up to it are published without asking again. */
  private reservedMs = -Infinity;
  private firstMs = NaN;
  private lastMs = NaN;
  /** Trade-id breaks and silences of the symbols whose trades are published (set at start). */
  private holes: RecordingHoles | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: ReplayFeedOptions) {
    if (opts.files.length === 0) throw new TypeError('a replay feed needs at least one recording file');
    const speed = opts.speed ?? 0;
    if (!(speed >= 0) || !Number.isFinite(speed)) throw new TypeError(`replay speed ${speed} must be a finite number >= 0`);
    this.venue = opts.venue ?? 'binance';
    this.log = opts.logger ?? rootLog().child({ component: 'replay-feed' });
    this.done = new Promise<void>((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    this.done.catch(() => {}); // a caller that never awaits `done` must not see an unhandled rejection
  }

  /** Where the feed stands. */
  get status(): FeedState {
    return this.st;
  }

  /** The instruments published (known after `start`). */
  get instruments(): readonly Instrument[] {
    return this.insts;
  }

  /** The receive time (ms) of the first line, known after `start`; NaN before. */
  get startTs(): TsMs {
    return this.firstMs;
  }

  /** Completed and current laps: 1 during the first pass. */
  get laps(): number {
    return this.lap + 1;
  }

  /** The lap length (ms) once the first pass ended; 0 before. */
  get lapLengthMs(): number {
    return this.lapMs;
  }

  /** The shift (ms) of the first lap: 0, or what `resumeAfter` asked for (known after `start`). */
  get startShiftMs(): number {
    return this.baseShift;
  }

  /**
   * Before `start`: replays every lap shifted by `resumeShiftMs(first line, afterMs)`, so the replay begins in a later
   * minute than `afterMs` (where a run on the same store got to). A clock the feed sets must start there too.
   */
  resumeAfter(afterMs: TsMs): void {
    if (this.st !== 'idle') throw new Error(`replay feed: resumeAfter must come before start (the feed is ${this.st})`);
    if (!Number.isFinite(afterMs)) throw new RangeError(`replay feed: resumeAfter needs a finite time, got ${afterMs}`);
    this.resumeAfterMs = afterMs;
  }

  /**
   * Before `start`: before it publishes a message later than the last bound `fn` returned, the feed waits for `fn`
   * (given that message's time) to store a new bound; a rejection fails the replay.
   */
  reserveWith(fn: ReserveTime): void {
    if (this.st !== 'idle') throw new Error(`replay feed: reserveWith must come before start (the feed is ${this.st})`);
    this.reserve = fn;
  }

  /** Opens the files and starts replaying in the background (see `done`). */
  async start(): Promise<void> {
    if (this.st !== 'idle') return;
    const merge = (this.merge = await RecordingMerge.open(this.opts.files));
    const missing = this.opts.requireInstruments ? (this.opts.instruments ?? []).filter((i) => !merge.symbols.includes(i.venueSymbol)) : [];
    if (missing.length > 0) {
      const found = merge.symbols.join(', ');
      await merge.close();
      throw new ConfigError(`symbol ${missing.map((i) => i.venueSymbol).join(', ')} not in recording (found ${found})`);
    }
    this.firstMs = merge.peekMs() ?? NaN;
    if (this.resumeAfterMs !== undefined && !Number.isNaN(this.firstMs)) this.baseShift = resumeShiftMs(this.firstMs, this.resumeAfterMs);
    this.insts = this.opts.instruments ?? merge.symbols.map((s) => replayInstrument(s));
    this.publisher = new BinanceFramePublisher({ bus: this.opts.bus, venue: this.venue, instruments: this.insts, depth: this.opts.depth ?? 'raw', counters: this.counters,
      ...(this.opts.kinds ? { kinds: this.opts.kinds } : {}),
      ...(this.opts.kindsBySymbol ? { kindsBySymbol: this.opts.kindsBySymbol } : {}),
    });
    const c = this.counters;
    this.holes = new RecordingHoles({
      bus: this.opts.bus, venue: this.venue, logger: this.log, publisher: this.publisher,
      onCut: (found) => {
        if (found === 'tradeId') c.tradeIdGaps++;
        else c.silences++;
        c.resets++;
        c.published++;
      },
    });
    this.setStatus('live');
    void this.pump().then(
      () => {
        this.setStatus(this.stopped ? 'stopped' : 'ended', `${this.counters.frames} lines, ${this.laps} laps`);
        this.resolveDone();
      },
      (err: unknown) => {
        this.log.error({ err }, 'replay failed');
        this.setStatus('failed', (err as Error).message);
        this.rejectDone(err);
      },
    );
  }

  /** Stops after the current line; `done` resolves once the files are closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.st === 'idle') {
      this.st = 'stopped';
      this.resolveDone();
      return;
    }
    await this.done.catch(() => {});
  }

  /** Counts the request: the recording's next snapshot line, if any, answers it. */
  requestSnapshot(venue: VenueId, symbol: string, reason: string): void {
    if (venue !== this.venue) return;
    this.counters.snapshotRequests++;
    this.log.debug({ symbol, reason }, 'snapshot requested: waiting for the next recorded snapshot');
  }

  // Waits for `reserve` to cover `ts` when the last bound does not.
  private async reserveUpTo(ts: TsMs): Promise<void> {
    if (this.reserve === undefined || ts <= this.reservedMs) return;
    const bound = await this.reserve(ts);
    if (!(bound >= ts)) throw new RangeError(`replay feed: the stored bound ${bound} does not cover the next message's time ${ts}`);
    this.reservedMs = bound;
  }

  private setStatus(s: FeedState, detail?: string): void {
    if (s === this.st) return;
    this.st = s;
    this.publisher?.status('replay', s, this.opts.clock.now(), detail);
  }

  private async pump(): Promise<void> {
    const clock = this.opts.clock;
    const sim = clock instanceof SimulatedClock ? clock : undefined;
    const speed = this.opts.speed ?? 0;
    const pacer = sim ? this.opts.paceClock : clock;
    const yieldEvery = Math.max(1, this.opts.yieldEvery ?? 1000);
    const pub = this.publisher!;
    const holes = this.holes!;
    const c = this.counters;
    let n = 0;
    // Pacing anchors: the wall time at which the first line is published and that line's timestamp.
    let wall0 = NaN;
    let data0 = NaN;
    for (;;) {
      const merge = this.merge!;
      const shift = this.baseShift + this.lap * this.lapMs;
      const badBefore = c.badLines;
      // A lap's first trades follow the lap's reset, not the previous lap's last trades.
      holes.clear();
      let prevTs = this.firstMs + shift;
      const ahead = new RecordingLookahead<SymbolLine>();
      try {
        if (this.lap > 0) {
          await this.reserveUpTo(prevTs);
          if (this.stopped) return;
          pub.reset(`replay lap ${this.lap + 1}`, prevTs, true);
        }
        for (;;) {
          if (this.stopped) return;
          while (ahead.needsMore) {
            const l = merge.nextSync() ?? (await merge.next());
            if (l === undefined) ahead.end();
            else ahead.push(l, l.tsMs, l.symbol, recordedTradeId(l.text));
          }
          if (!ahead.take()) break;
          const line = ahead.item!;
          c.badLines = badBefore + merge.stats.badLines;
          const raw = line.tsMs;
          if (this.lap === 0) this.lastMs = raw;
          const ts = raw + shift;
          if (this.reserve !== undefined && ts > this.reservedMs) {
            await this.reserveUpTo(ts);
            if (this.stopped) return;
          }
          const tradeId = ahead.tradeId;
          const lane = holes.lane(line.symbol);
          holes.before(lane, tradeId, prevTs);
          prevTs = ts;
          if (pacer && speed > 0) {
            if (Number.isNaN(wall0)) {
              wall0 = pacer.now();
              data0 = ts;
            }
            // Sleep in short steps so stop() is never held up by a long recorded pause.
            for (let wait = wall0 + (ts - data0) / speed - pacer.now(); wait >= 1; wait = wall0 + (ts - data0) / speed - pacer.now()) {
              await new Promise<void>((r) => pacer.setTimeout(r, Math.min(wait, 250)));
              if (this.stopped) return;
            }
          }
          if (sim) sim.set(ts);
          const malformed = c.malformed;
          pub.publish(line.text, raw, line.symbol, shift);
          holes.after(lane, tradeId, c.malformed === malformed, ahead.silence, ts, shift);
          if (++n % yieldEvery === 0) await new Promise<void>((r) => setImmediate(r));
        }
      } finally {
        c.badLines = badBefore + merge.stats.badLines;
        await merge.close();
      }
      const maxLaps = this.opts.maxLaps ?? Infinity;
      if (!this.opts.loop || this.stopped || this.lap + 1 >= maxLaps || Number.isNaN(this.lastMs)) return;
      if (this.lap === 0) this.lapMs = lapLengthMs(this.firstMs, this.lastMs);
      this.lap++;
      this.merge = await RecordingMerge.open(this.opts.files);
    }
  }
}
