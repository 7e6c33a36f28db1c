// Data subscriptions of the orchestrator: the multi-rate streams (`cob.snapshot` at ~10 Hz, `md.candle` closes per
// timeframe, `md.trade` ticks) and when they make an input tick "ready". A closed candle of the trigger timeframe
// (default 1s) for the primary symbol makes a tick pending; it becomes ready once every required input is fresh
// at the time of asking (a COB snapshot no older than `cobMaxAgeMs`, a close of each required timeframe recent
// enough (see below), a trade within `tradeMaxAgeMs` if set). A newer trigger replaces a pending one (coalesced); a
// pending tick not ready within `maxWaitMs` is dropped (expired). Each trigger close makes at most one tick: a close
// at or before one already taken (the venue's kline and the DataProvider's own bar of the same second, a late older
// bar) is ignored. Pure and clock-driven: time comes in as `now`.
//
// A close is recent when, on the exchange's time, it is at most two bar lengths plus `closeDelayMs` old. The
// DataProvider closes bars on the local clock and on purpose late: a quiet 1s bar once it is its close grace (1 s) old,
// checked by a 1 s timer, and later still by how far the local clock runs ahead of the exchange's (it allows up to
// 30 s). Judged on the local clock alone against two bars, every tick was "stale" with the clock 2 s ahead (no
// decision ever, nothing said) and some quiet seconds' bars were too. The clock lead is measured here as the provider
// measures it: the smallest receive-minus-trade time of the symbol's trades over the last 10-20 s. That cannot tell a
// clock running ahead from a trade stream running behind (Binance's under load, or this process): at most
// MAX_LEAD_ALLOWED_MS is allowed for, so bars up to 30 s old (the provider's cap) are never decided on; beyond it the
// ticks are dropped and ORCH_TICK_DROPPED says why (the provider warns of the clock too).
import { ReceiveLag } from '../../engine/market/receive-lag.ts';
import type { CobSnapshotMsg } from '../../engine/messages/cob.ts';
import type { CandleMsg, Trade } from '../../engine/messages/market.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import { timeframeMs, type Timeframe, type TsMs } from '../../engine/types/time.ts';

/** What makes an input tick ready. */
export interface SubscriptionConfig {
  /** The symbol whose streams are tracked (the primary). */
  readonly symbol: string;
  /** A closed candle of this timeframe triggers an input tick. */
  readonly triggerTimeframe: Timeframe;
  /** Timeframes whose last close must be within two bar lengths (the trigger timeframe always is). */
  readonly requiredTimeframes: readonly Timeframe[];
  readonly requireCob: boolean;
  readonly cobMaxAgeMs: number;
  /** When set, a trade of the symbol must have arrived within this long. */
  readonly tradeMaxAgeMs?: number;
  /** How long a pending tick waits for fresh inputs before it is dropped. */
  readonly maxWaitMs: number;
  /**
   * How late after its end a fresh bar may be closed by design, besides the clock lead: the DataProvider's close grace
   * (1 s) plus its idle timer's period (1 s). Rolled-up bars close with their last 1s bar.
   */
  readonly closeDelayMs: number;
}

/** Defaults: ETH/USDT, trigger on 1s closes, COB within 1 s, wait at most 1 s, bars closed up to 2 s late. */
export const DEFAULT_SUBSCRIPTIONS: SubscriptionConfig = {
  symbol: 'ETH/USDT', triggerTimeframe: '1s', requiredTimeframes: [], requireCob: true, cobMaxAgeMs: 1_000, maxWaitMs: 1_000, closeDelayMs: 2_000,
};

/** The most clock lead allowed for: a larger receive lag is as likely a stream running behind (see the header). */
export const MAX_LEAD_ALLOWED_MS = 3_000;

/** An input tick ready for inference. */
export interface ReadyTick {
  readonly symbol: string;
  /** Time of readiness: the time the input is assembled for. */
  readonly ts: TsMs;
  readonly timeframe: Timeframe;
  /** Close time of the candle that triggered it. */
  readonly candleClose: TsMs;
}

/** One stream's counters. */
export interface StreamStatus { readonly count: number; readonly lastTs?: TsMs; readonly ageMs?: number }

/** A pending tick dropped without running: it waited past `maxWaitMs`, or a newer trigger replaced it while blocked. */
export interface DroppedTick {
  readonly candleClose: TsMs;
  readonly reason: 'expired' | 'replaced';
  /** What kept it from being ready when it was dropped. */
  readonly blockers: readonly string[];
}

/** What the subscriptions know at `now`. */
export interface SubscriptionStatus {
  readonly cob: StreamStatus;
  readonly trades: StreamStatus;
  readonly candles: Readonly<Partial<Record<Timeframe, StreamStatus>>>;
  readonly pending?: { readonly candleClose: TsMs; readonly waitingMs: number; readonly blockers: readonly string[] };
  readonly ticks: number;
  readonly coalesced: number;
  readonly expired: number;
  /** Trigger closes at or before one already taken (a second source of the same bar, an older bar): no tick. */
  readonly repeats: number;
  /** How far (ms) the local clock runs ahead of the trades' exchange times, as allowed for (see the header). */
  readonly clockAheadMs: number;
  /** Messages of other symbols, and candles still forming (ignored). */
  readonly ignored: number;
}

interface Stream { count: number; lastTs?: TsMs }

/** Tracks the streams and decides when an input tick is ready; see the header. */
export class SubscriptionManager {
  readonly config: SubscriptionConfig;
  private readonly cob: Stream = { count: 0 };
  private readonly trades: Stream = { count: 0 };
  private readonly candles = new Map<Timeframe, Stream>();
  private pending: { candleClose: TsMs; since: TsMs } | undefined;
  /** The newest trigger close that made a tick pending: closes at or before it make none. */
  private lastTrigger = -Infinity;
  private ticks = 0;
  private coalesced = 0;
  private expired = 0;
  private repeats = 0;
  private ignored = 0;
  private readonly lag = new ReceiveLag();

  /** `onDrop` hears of each pending tick dropped without running (the orchestrator logs them). */
  constructor(config: Partial<SubscriptionConfig> = {}, private readonly onDrop?: (d: DroppedTick) => void) {
    this.config = { ...DEFAULT_SUBSCRIPTIONS, ...config };
    const c = this.config;
    if (!c.symbol) throw new ConfigError('subscriptions: symbol must not be empty');
    if (!(c.cobMaxAgeMs > 0)) throw new ConfigError(`subscriptions: cobMaxAgeMs must be > 0, got ${c.cobMaxAgeMs}`);
    if (!(c.maxWaitMs >= 0)) throw new ConfigError(`subscriptions: maxWaitMs must be >= 0, got ${c.maxWaitMs}`);
    if (c.tradeMaxAgeMs !== undefined && !(c.tradeMaxAgeMs > 0)) throw new ConfigError(`subscriptions: tradeMaxAgeMs must be > 0, got ${c.tradeMaxAgeMs}`);
    if (!(c.closeDelayMs >= 0)) throw new ConfigError(`subscriptions: closeDelayMs must be >= 0, got ${c.closeDelayMs}`);
  }

  /** Records a COB snapshot (time: its `ts`). */
  onCob(m: CobSnapshotMsg): void {
    if (m.symbol !== this.config.symbol) return void this.ignored++;
    bump(this.cob, m.ts);
  }

  /** Records a trade (time: its local receive time) and its receive-minus-trade time (see clockAheadMs). */
  onTrade(m: Trade): void {
    if (m.symbol !== this.config.symbol) return void this.ignored++;
    bump(this.trades, m.tsLocal);
    this.lag.note(m.tsLocal - m.tsExchange, m.tsLocal);
  }

  /** How far (ms) the local clock may run ahead of the exchange's: the trades' least receive lag, up to MAX_LEAD_ALLOWED_MS. */
  clockAheadMs(): number {
    return Math.min(this.receiveLagMs(), MAX_LEAD_ALLOWED_MS);
  }

  /** The least receive-minus-trade time of the symbol's trades over the last 10-20 s (0 when none or negative). */
  receiveLagMs(): number {
    return this.lag.least();
  }

  /** Records a candle; a closed one of the trigger timeframe makes a tick pending at `now`. */
  onCandle(m: CandleMsg, now: TsMs): void {
    if (m.symbol !== this.config.symbol || !m.candle.closed) return void this.ignored++;
    const close = m.candle.openTime + timeframeMs(m.timeframe);
    let s = this.candles.get(m.timeframe);
    if (!s) this.candles.set(m.timeframe, (s = { count: 0 }));
    bump(s, close);
    if (m.timeframe !== this.config.triggerTimeframe) return;
    if (close <= this.lastTrigger) return void this.repeats++;
    this.lastTrigger = close;
    if (this.pending) {
      this.coalesced++;
      this.onDrop?.({ candleClose: this.pending.candleClose, reason: 'replaced', blockers: this.blockers(now) });
    }
    this.pending = { candleClose: close, since: now };
  }

  /** Returns the pending tick if it is ready at `now` (and clears it); drops it once it waited past `maxWaitMs`. */
  poll(now: TsMs): ReadyTick | undefined {
    const p = this.pending;
    if (!p) return undefined;
    if (this.blockers(now).length === 0) {
      this.pending = undefined;
      this.ticks++;
      return { symbol: this.config.symbol, ts: now, timeframe: this.config.triggerTimeframe, candleClose: p.candleClose };
    }
    if (now - p.since > this.config.maxWaitMs) {
      this.pending = undefined;
      this.expired++;
      this.onDrop?.({ candleClose: p.candleClose, reason: 'expired', blockers: this.blockers(now) });
    }
    return undefined;
  }

  /** Returns what keeps a tick from being ready at `now` (empty when nothing does). */
  blockers(now: TsMs): string[] {
    const c = this.config;
    const out: string[] = [];
    if (c.requireCob) {
      if (this.cob.lastTs === undefined) out.push('no COB snapshot yet');
      else if (now - this.cob.lastTs > c.cobMaxAgeMs) out.push(`COB snapshot ${now - this.cob.lastTs} ms old (max ${c.cobMaxAgeMs})`);
    }
    const ahead = this.clockAheadMs();
    const lag = this.receiveLagMs();
    const why = lag > ahead
      ? ` (trades arrive ${Math.round(lag)} ms after their exchange time: a clock that far ahead, or a stream running behind; ${MAX_LEAD_ALLOWED_MS} ms allowed for)`
      : ahead > 0 ? ` (the local clock runs ${Math.round(ahead)} ms ahead)` : '';
    for (const tf of new Set([c.triggerTimeframe, ...c.requiredTimeframes])) {
      const last = this.candles.get(tf)?.lastTs;
      const max = 2 * timeframeMs(tf) + c.closeDelayMs;
      if (last === undefined) out.push(`no ${tf} candle closed yet`);
      else if (now - ahead - last > max) out.push(`last ${tf} close ${now - last} ms ago${why}`);
    }
    if (c.tradeMaxAgeMs !== undefined) {
      if (this.trades.lastTs === undefined) out.push('no trade yet');
      else if (now - this.trades.lastTs > c.tradeMaxAgeMs) out.push(`last trade ${now - this.trades.lastTs} ms ago (max ${c.tradeMaxAgeMs})`);
    }
    return out;
  }

  /** Returns the streams' counters and the pending tick at `now`. */
  status(now: TsMs): SubscriptionStatus {
    const st = (s: Stream): StreamStatus => (s.lastTs === undefined ? { count: s.count } : { count: s.count, lastTs: s.lastTs, ageMs: now - s.lastTs });
    return {
      cob: st(this.cob),
      trades: st(this.trades),
      candles: Object.fromEntries([...this.candles].map(([tf, s]) => [tf, st(s)])),
      ...(this.pending ? { pending: { candleClose: this.pending.candleClose, waitingMs: now - this.pending.since, blockers: this.blockers(now) } } : {}),
      ticks: this.ticks,
      coalesced: this.coalesced,
      expired: this.expired,
      repeats: this.repeats,
      clockAheadMs: this.clockAheadMs(),
      ignored: this.ignored,
    };
  }
}

function bump(s: Stream, ts: TsMs): void {
  s.count++;
  if (s.lastTs === undefined || ts > s.lastTs) s.lastTs = ts;
}
