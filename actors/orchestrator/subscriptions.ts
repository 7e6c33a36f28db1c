// Data subscriptions of the orchestrator: the multi-rate streams (`cob.snapshot` at ~10 Hz, `md.candle` closes per
// timeframe, `md.trade` ticks) and when they make an input tick "ready". A closed candle of the trigger timeframe
// (default 1s) for the primary symbol makes a tick pending; it becomes ready once every required input is fresh
// at the time of asking (a COB snapshot no older than `cobMaxAgeMs`, a close of each required timeframe within
// two bar lengths, a trade within `tradeMaxAgeMs` if set). A newer trigger replaces a pending one (coalesced); a
// pending tick not ready within `maxWaitMs` is dropped (expired). Pure and clock-driven: time comes in as `now`.
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
}

/** Defaults: ETH/USDT, trigger on 1s closes, COB within 1 s, wait at most 1 s. */
export const DEFAULT_SUBSCRIPTIONS: SubscriptionConfig = {
  symbol: 'ETH/USDT', triggerTimeframe: '1s', requiredTimeframes: [], requireCob: true, cobMaxAgeMs: 1_000, maxWaitMs: 1_000,
};

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

/** What the subscriptions know at `now`. */
export interface SubscriptionStatus {
  readonly cob: StreamStatus;
  readonly trades: StreamStatus;
  readonly candles: Readonly<Partial<Record<Timeframe, StreamStatus>>>;
  readonly pending?: { readonly candleClose: TsMs; readonly waitingMs: number; readonly blockers: readonly string[] };
  readonly ticks: number;
  readonly coalesced: number;
  readonly expired: number;
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
  private ticks = 0;
  private coalesced = 0;
  private expired = 0;
  private ignored = 0;

  constructor(config: Partial<SubscriptionConfig> = {}) {
    this.config = { ...DEFAULT_SUBSCRIPTIONS, ...config };
    const c = this.config;
    if (!c.symbol) throw new ConfigError('subscriptions: symbol must not be empty');
    if (!(c.cobMaxAgeMs > 0)) throw new ConfigError(`subscriptions: cobMaxAgeMs must be > 0, got ${c.cobMaxAgeMs}`);
    if (!(c.maxWaitMs >= 0)) throw new ConfigError(`subscriptions: maxWaitMs must be >= 0, got ${c.maxWaitMs}`);
    if (c.tradeMaxAgeMs !== undefined && !(c.tradeMaxAgeMs > 0)) throw new ConfigError(`subscriptions: tradeMaxAgeMs must be > 0, got ${c.tradeMaxAgeMs}`);
  }

  /** Records a COB snapshot (time: its `ts`). */
  onCob(m: CobSnapshotMsg): void {
    if (m.symbol !== this.config.symbol) return void this.ignored++;
    bump(this.cob, m.ts);
  }

  /** Records a trade (time: its local receive time). */
  onTrade(m: Trade): void {
    if (m.symbol !== this.config.symbol) return void this.ignored++;
    bump(this.trades, m.tsLocal);
  }

  /** Records a candle; a closed one of the trigger timeframe makes a tick pending at `now`. */
  onCandle(m: CandleMsg, now: TsMs): void {
    if (m.symbol !== this.config.symbol || !m.candle.closed) return void this.ignored++;
    const close = m.candle.openTime + timeframeMs(m.timeframe);
    let s = this.candles.get(m.timeframe);
    if (!s) this.candles.set(m.timeframe, (s = { count: 0 }));
    bump(s, close);
    if (m.timeframe !== this.config.triggerTimeframe) return;
    if (this.pending && close <= this.pending.candleClose) return;
    if (this.pending) this.coalesced++;
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
    for (const tf of new Set([c.triggerTimeframe, ...c.requiredTimeframes])) {
      const last = this.candles.get(tf)?.lastTs;
      if (last === undefined) out.push(`no ${tf} candle closed yet`);
      else if (now - last > 2 * timeframeMs(tf)) out.push(`last ${tf} close ${now - last} ms ago`);
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
      ignored: this.ignored,
    };
  }
}

function bump(s: Stream, ts: TsMs): void {
  s.count++;
  if (s.lastTs === undefined || ts > s.lastTs) s.lastTs = ts;
}
