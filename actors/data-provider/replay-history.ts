// Kline history for a replay whose clock is not the recording's own: a looped replay shifts every lap forward by the
// lap length, and a resumed one (replay.ts) shifts the whole replay past where the last run got to. Reading the kline
// archive at engine time then served bars of another market than the one being replayed: the 1m bars that backfill
// each lap's junction, and every 1h/1d bar, came from the real market days or months after the recording (resumed on
// 2024-08-20: ETH history at 2,636 and trades at 2,677-2,684), and once engine time passed the archive's end (the
// bundled 1m files stop on 2024-08-25, the 1h files on 2024-09-24: ~16 and ~46 days of a demo at --speed 1) nothing
// came at all: the junction minutes stayed holes, the 1h series froze, and a daemon resumed past the end started with
// no 1m/1h history, so every inference was refused as incomplete (the 1h series never filled: every hour holds a lap
// junction, so no hour rolled up whole).
//
// `ReplayHistory` reads the archive at the recording's own time instead, shifted like the replay: the bar at engine
// time t is the archive's bar at t − shift, where shift is that of the lap holding t (`ReplayTimeline`; before the
// first lap, the first lap's). The market a replay shows is then one market: the replayed trades, the junction minutes
// of the same recording, and coarser bars that are the sums of those minutes, for as long as the replay runs, since
// every lap maps back into the recording's own hour. 1h and 1d bars are built from the shifted 1m bars where those
// exist (a lap shift is whole minutes, not whole hours); further back than the 1m archive reaches they are the
// archive's bar of the shifted time rounded down to the bar (never later than the recorded time, so the history
// before the first line never holds a bar the replay has not reached yet).
import type { Logger } from '../../engine/log.ts';
import { CandleRollup } from '../../engine/market/candles.ts';
import type { Candle } from '../../engine/messages/market.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../../engine/types/time.ts';
import { lapOriginMs } from '../../engine/venues/replay/replay-feed.ts';
import { isWholeRollup, plainCandle } from './logic.ts';
import { sliceKlines } from './klines-archive.ts';
import type { KlineQuery, KlineSource } from './market-source.ts';

const MINUTE_MS = 60_000;

/**
 * How far before the replay's first lap 1h and 1d bars are still summed from shifted minutes: the bars the input's
 * newest features read (the last day's hours, the day before the first line). Older ones are the archive's bar of the
 * shifted time rounded down to the bar.
 */
const SUMMED_BEFORE_ORIGIN_MS = 2 * 86_400_000;

/** What the timeline needs of the replay feed: the lap length once the first pass ended (0 before, and without loop). */
export interface LapSource {
  readonly lapLengthMs: number;
}

/**
 * How a replay's engine time maps to its recording's time. Lap k is shifted by `baseShiftMs + k × lap length` and
 * covers the engine times from `originMs + k × lap length` on (originMs: the minute of the first line, exchange times
 * allowing for LAP_SKEW_MS, as ReplayFeed's lapLengthMs counts them), so the laps tile engine time without a gap.
 */
export class ReplayTimeline {
  /** Where lap 0 begins in engine time. */
  readonly originMs: TsMs;
  private laps: LapSource = { lapLengthMs: 0 };

  /** `firstMs`: the recording's first line (receive time); `baseShiftMs`: the first lap's shift (whole minutes). */
  constructor(readonly firstMs: TsMs, readonly baseShiftMs: number) {
    if (!Number.isFinite(firstMs)) throw new RangeError(`replay timeline: the first line's time must be finite, got ${firstMs}`);
    if (!(baseShiftMs >= 0) || baseShiftMs % MINUTE_MS !== 0) throw new RangeError(`replay timeline: the first lap's shift must be whole minutes >= 0, got ${baseShiftMs} ms`);
    this.originMs = lapOriginMs(firstMs) + baseShiftMs;
  }

  /** The engine time the replay starts at: the first line, shifted like the first lap. */
  get startMs(): TsMs {
    return this.firstMs + this.baseShiftMs;
  }

  /** Reads the lap length from `laps` (the ReplayFeed) from now on. */
  follow(laps: LapSource): void {
    this.laps = laps;
  }

  /** Returns the shift (ms) of the lap holding engine time `t`: its recorded time is `t − shift`. */
  shiftAt(t: TsMs): number {
    const lap = this.laps.lapLengthMs;
    if (!(lap > 0) || t < this.originMs + lap) return this.baseShiftMs;
    return this.baseShiftMs + Math.floor((t - this.originMs) / lap) * lap;
  }

  /** Returns the first engine time after `t` whose shift differs from `t`'s (Infinity while no lap length is known). */
  nextShiftAfter(t: TsMs): TsMs {
    const lap = this.laps.lapLengthMs;
    if (!(lap > 0)) return Infinity;
    return this.originMs + (Math.max(0, Math.floor((t - this.originMs) / lap)) + 1) * lap;
  }
}

/** A bar `shiftMs` later. */
function moved(c: Candle, shiftMs: number): Candle {
  return shiftMs === 0 ? c : { ...c, openTime: c.openTime + shiftMs };
}

/** A run of consecutive bar slots read from the archive with one shift. */
interface Run {
  readonly from: TsMs;
  to: TsMs;
  readonly shiftMs: number;
}

/**
 * A KlineSource over a kline archive for a replay on `timeline`: bars at the recording's own time, moved to engine
 * time (see the header). The same requests and answers as the archive's (Binance's klines endpoint: open time in
 * [startTime, endTime], the first `limit` from startTime or the last `limit` without it; never a bar not closed at
 * `q.nowMs`). A series the archive cannot serve at all is logged once (a warning naming the recorded times asked
 * for), not at every maintenance pass.
 */
export class ReplayHistory implements KlineSource {
  private readonly warned = new Set<string>();

  constructor(private readonly archive: KlineSource, readonly timeline: ReplayTimeline, private readonly log?: Logger) {}

  async klines(symbol: string, tf: Timeframe, q: KlineQuery): Promise<{ candles: Candle[]; source: string }> {
    const ms = timeframeMs(tf);
    const limit = q.limit ?? 1000;
    if (!(Number.isInteger(limit) && limit > 0)) throw new RangeError(`klines ${symbol} ${tf}: limit must be a positive integer, got ${limit}`);
    const hi = Math.floor(Math.min(q.endTime ?? Infinity, q.nowMs - ms) / ms) * ms;
    const lo = q.startTime !== undefined ? Math.ceil(q.startTime / ms) * ms : hi - (limit - 1) * ms;
    if (!Number.isFinite(hi) || !Number.isFinite(lo) || hi < lo) return { candles: [], source: 'csv' };
    const shift = this.timeline.shiftAt(lo);
    let candles: Candle[];
    if (shift % ms === 0 && this.timeline.shiftAt(hi + ms - 1) === shift) {
      // One shift over the whole window, on the bar grid: the archive's own answer (a fresh replay's start: shift 0).
      const r = await this.archive.klines(symbol, tf, {
        ...(q.startTime !== undefined ? { startTime: q.startTime - shift } : {}), ...(q.endTime !== undefined ? { endTime: q.endTime - shift } : {}),
        limit, nowMs: q.nowMs - shift,
      });
      candles = r.candles.map((c) => moved(c, shift));
    } else {
      const all = ms <= MINUTE_MS ? await this.lapped(symbol, tf, lo, hi) : await this.coarse(symbol, tf, lo, hi);
      candles = sliceKlines(all, tf, q);
    }
    if (candles.length === 0) this.unserved(symbol, tf, lo, hi);
    return { candles, source: 'csv' };
  }

  // Bars of `tf` (a minute or finer: every lap shift is on its grid) with open time in [lo, hi], lap by lap.
  private async lapped(symbol: string, tf: Timeframe, lo: TsMs, hi: TsMs): Promise<Candle[]> {
    const ms = timeframeMs(tf);
    const runs: Run[] = [];
    for (let from = lo; from <= hi;) {
      const to = Math.min(hi, this.timeline.nextShiftAfter(from) - ms);
      runs.push({ from, to, shiftMs: this.timeline.shiftAt(from) });
      from = to + ms;
    }
    return this.read(symbol, tf, runs);
  }

  // 1h and 1d bars with open time in [lo, hi]: the archive's bar where one shift on the bar grid covers the whole bar,
  // else the sum of the bar's shifted minutes when all of them exist, else the archive's bar at the shifted time
  // rounded down to the bar (the latest shift inside the bar).
  private async coarse(symbol: string, tf: Timeframe, lo: TsMs, hi: TsMs): Promise<Candle[]> {
    const ms = timeframeMs(tf);
    const direct = new Map<TsMs, number>();
    const summed: TsMs[] = [];
    // Bars wholly before the replay's first lap by more than SUMMED_BEFORE_ORIGIN_MS are the archive's, rounded down:
    // summing their minutes too read every row of a long 1m archive at a resumed start (1,500 days of 1d history
    // over a 400-day 1m file: 0.6 s with the event loop blocked and ~120 MB of parsed rows kept).
    const oldest = this.timeline.originMs - SUMMED_BEFORE_ORIGIN_MS;
    for (let t = lo; t <= hi; t += ms) {
      const first = this.timeline.shiftAt(t);
      const last = this.timeline.shiftAt(t + ms - 1);
      if (first === last && first % ms === 0) direct.set(t, first);
      else if (t + ms <= oldest) direct.set(t, Math.ceil(last / ms) * ms);
      else summed.push(t);
    }
    const bars = new Map<TsMs, Candle>();
    if (summed.length > 0) {
      const minutes = await this.lapped(symbol, '1m', summed[0]!, summed[summed.length - 1]! + ms - MINUTE_MS);
      const rollup = new CandleRollup(tf);
      const keep = (c: ReturnType<CandleRollup['add']>): void => {
        if (c !== undefined && isWholeRollup(c, tf, '1m')) bars.set(c.openTime, plainCandle(c));
      };
      for (const m of minutes) keep(rollup.add(m));
      keep(rollup.flush());
      // A sum over a slot served whole by the archive (the minutes span it too) is not an answer.
      for (const t of direct.keys()) bars.delete(t);
      for (const t of summed) if (!bars.has(t)) direct.set(t, Math.ceil(this.timeline.shiftAt(t + ms - 1) / ms) * ms);
    }
    const runs: Run[] = [];
    for (const [t, shiftMs] of [...direct].sort((a, b) => a[0] - b[0])) {
      const run = runs[runs.length - 1];
      if (run !== undefined && run.shiftMs === shiftMs && run.to + ms === t) run.to = t;
      else runs.push({ from: t, to: t, shiftMs });
    }
    for (const c of await this.read(symbol, tf, runs)) bars.set(c.openTime, c);
    return [...bars.values()].sort((a, b) => a.openTime - b.openTime);
  }

  // The archive's bars of each run at the run's recorded time, moved to engine time.
  private async read(symbol: string, tf: Timeframe, runs: readonly Run[]): Promise<Candle[]> {
    const ms = timeframeMs(tf);
    const out: Candle[] = [];
    for (const { from, to, shiftMs } of runs) {
      const r = await this.archive.klines(symbol, tf, {
        startTime: from - shiftMs, endTime: to - shiftMs, limit: (to - from) / ms + 1, nowMs: to - shiftMs + ms,
      });
      for (const c of r.candles) out.push(moved(c, shiftMs));
    }
    return out;
  }

  // A window the archive has no bar of: said once per series, with the recorded times it maps to.
  private unserved(symbol: string, tf: Timeframe, lo: TsMs, hi: TsMs): void {
    const key = `${symbol} ${tf}`;
    if (this.warned.has(key)) {
      this.log?.debug({ symbol, tf, from: lo, to: hi }, 'no archived klines for this replay time');
      return;
    }
    this.warned.add(key);
    const iso = (t: number): string => new Date(t).toISOString();
    this.log?.warn({
      code: 'REPLAY_HISTORY_MISSING', symbol, tf, from: iso(lo), to: iso(hi),
      recordedFrom: iso(lo - this.timeline.shiftAt(lo)), recordedTo: iso(hi - this.timeline.shiftAt(hi)),
    }, `the kline archive (data.klinesDirs) has no ${symbol} ${tf} bars for the recorded times this replay maps to: `
      + 'that series gets no history or backfill from it (said once per series)');
  }
}
