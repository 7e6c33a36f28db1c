// The engine's configuration, as zod schemas. Every object is strict: an unknown key is an error, so a typo
// (`maxDrawdonPct`) fails loudly instead of silently running with a default. Every section has defaults, so an
// empty file is a valid paper config. Sections are wrapped in `.prefault({})` (not `.default({})`): zod 4 returns a
// `.default()` value without parsing it, which would skip the inner defaults. Decimal keys take `.prefault()` too:
// the JSON Schema of the input side (`cobalt config schema`) leaves out a `.default()` given after a transform.
// Values the engine would round or refuse at start (whole basis points, whole ticks, 1e-9 money units, the model
// input's COB layout) are refused here rather than changed or refused after `config check` said ok.
import { z } from 'zod';
import { BDI_COB_RANGE } from '../market/base-data-input.ts';
import { FIXED_SCALE, parseDecimal } from '../types/decimal.ts';
import { BINANCE_SPOT_DEFAULTS, type InstrumentSpec } from '../types/instrument.ts';
import { RUN_SPEED_MAX, RUN_SPEED_MIN } from '../types/run-speed.ts';

// A double holds any decimal literal of at most 15 significant digits exactly enough that its shortest string
// form is the literal itself, so such YAML numbers can be taken as the decimal the user wrote.
const EXACT_DIGITS = 15;

/**
 * A decimal value kept as its exact string (money, fees, bucket sizes); numbers are accepted only when exact. At most
 * 9 significant fraction digits: the engine counts money in 1e-9 units (parseFixed), and refuses more at start.
 */
export const decimalString = (what = 'decimal') =>
  z.union([z.string(), z.number()], { error: `expected a ${what} string such as '0.001'` }).transform((v, ctx) => {
    const s = typeof v === 'number' ? String(v) : v.trim();
    const digits = s.replace(/^-/, '').replace('.', '').replace(/^0+/, '');
    if (typeof v === 'number' && (!Number.isFinite(v) || /e/i.test(s) || digits.length > EXACT_DIGITS)) {
      ctx.addIssue({ code: 'custom', message: `expected a ${what} string such as '0.001', received number ${s} (quote it to keep it exact)` });
      return z.NEVER;
    }
    try {
      parseDecimal(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected a ${what} string such as '0.001', received '${s}'` });
      return z.NEVER;
    }
    if ((s.split('.')[1] ?? '').replace(/0+$/, '').length > FIXED_SCALE) {
      ctx.addIssue({ code: 'custom', message: `expected at most ${FIXED_SCALE} decimal places (the engine counts in 1e-${FIXED_SCALE} units), received '${s}'` });
      return z.NEVER;
    }
    return s;
  });

/** Returns -1, 0 or 1 as decimal string `a` is below, equal to or above `b`, exactly. */
export function compareDecimals(a: string, b: string): number {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const l = x.mantissa * 10n ** BigInt(y.scale);
  const r = y.mantissa * 10n ** BigInt(x.scale);
  return l < r ? -1 : l > r ? 1 : 0;
}

/** A non-negative decimal string. */
const nonNegDecimal = (what?: string) =>
  decimalString(what).refine((s) => !s.startsWith('-'), { message: 'expected a non-negative decimal' });
/** A strictly positive decimal string. */
const posDecimal = (what?: string) =>
  decimalString(what).refine((s) => parseDecimal(s).mantissa > 0n, { message: 'expected a positive decimal' });

const symbol = z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, { error: "expected a symbol such as 'ETH/USDT'" });
// REST and stream endpoints apart: swapped (a wss:// REST URL, an https:// stream) they failed only at the first call.
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s):// URL (a REST endpoint)' });
const wsUrl = z.url({ protocol: /^wss?$/, error: 'expected a ws(s):// URL (a stream endpoint)' });
const posInt = z.int().positive();
const nonNegInt = z.int().nonnegative();
const unit = z.number().min(0).max(1);
// True when `v` is a whole number of `step`s (within float noise): values the engine turns into integers by rounding.
const wholeSteps = (v: number, step: number): boolean => Math.abs(v / step - Math.round(v / step)) < 1e-6;
/** A percentage, 0.01..100, in whole basis points: app/risk-limits.ts rounds it to bps (0.004 % would become 0). */
const pct = z.number().min(0.01, { abort: true }).max(100)
  .refine((v) => wholeSteps(v, 0.01), { error: (iss) => `expected whole basis points (a multiple of 0.01), received ${String(iss.input)}` });

/** Returns true when decimal string `a` is a whole multiple of decimal string `b` (> 0), exactly. */
export function isMultipleOf(a: string, b: string): boolean {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  return (x.mantissa * 10n ** BigInt(y.scale)) % (y.mantissa * 10n ** BigInt(x.scale)) === 0n;
}

/** Run mode: live data + paper fills, real orders, recorded data on a simulated clock, or recorded data replayed. */
export const modeSchema = z.enum(['paper', 'live', 'backtest', 'replay']);

/**
 * Traded and reference symbols (two different ones with increments: bundled or under `instruments`), and the COB price
 * bucket size per symbol (quote units, a whole number of the symbol's price ticks; checked with `instruments` in
 * configSchema).
 */
export const symbolsSchema = z
  .strictObject({
    primary: symbol.default('ETH/USDT'),
    reference: symbol.default('BTC/USDT'),
    cobBucketSize: z.record(symbol, posDecimal('bucket size')).prefault({ 'ETH/USDT': '1', 'BTC/USDT': '10' }),
  })
  .superRefine((s, ctx) => {
    if (s.primary === s.reference) {
      ctx.addIssue({ code: 'custom', path: ['reference'], message: `expected another symbol than symbols.primary, received ${s.reference}` });
    }
    for (const sym of [s.primary, s.reference]) {
      if (!(sym in s.cobBucketSize)) {
        ctx.addIssue({ code: 'custom', path: ['cobBucketSize', sym], message: `missing bucket size for ${sym}` });
      }
    }
  });

/**
 * One symbol's increments as the venue prints them (decimal strings): price step, quantity step, minimum order value in
 * the quote currency. The market data of the symbol is parsed on this grid.
 */
export const instrumentSchema = z.strictObject({
  tickSize: posDecimal('tick size'),
  lotSize: posDecimal('lot size'),
  minNotional: posDecimal('notional'),
});

/**
 * Increments by unified symbol (`SOL/USDT`), laid over the bundled ones (BINANCE_SPOT_DEFAULTS: BTC/USDT, ETH/USDT);
 * an entry for a bundled symbol replaces its increments.
 */
export const instrumentsSchema = z.record(symbol, instrumentSchema)
  .describe('instrument increments by symbol (BASE/QUOTE: { tickSize, lotSize, minNotional } as decimal strings), laid over the bundled BTC/USDT and ETH/USDT ones; the market data is parsed on this grid, and a live start refuses when the venue prices the traded symbol in another tick');

/** Returns the increments a run of `config` uses by unified symbol: the bundled ones with config `instruments` laid over them. */
export function instrumentSpecsOf(config: { readonly instruments?: Readonly<Record<string, { tickSize: string; lotSize: string; minNotional: string }>> }): Readonly<Record<string, InstrumentSpec>> {
  const out: Record<string, InstrumentSpec> = { ...BINANCE_SPOT_DEFAULTS };
  for (const [symbol, i] of Object.entries(config.instruments ?? {})) {
    out[symbol] = { symbol, venue: 'binance', tickSize: i.tickSize, lotSize: i.lotSize, minNotional: i.minNotional };
  }
  return out;
}

/** Circuit breaker that moves market data from the primary venue to the fallback (one probe call after the cool-down). */
export const fallbackSchema = z.strictObject({
  failureThreshold: posInt.default(5),
  /** How long market data stays on the fallback before Binance is probed again; at most an hour. */
  cooldownMs: posInt.max(3_600_000).default(30_000),
});

/** Exchange endpoints: Binance first, MEXC as market-data fallback (and as the order venue with `execution.venue: mexc`). */
export const venuesSchema = z.strictObject({
  binance: z
    .strictObject({
      restUrl: httpUrl.default('https://api.binance.com'),
      wsUrl: wsUrl.default('wss://stream.binance.com:9443'),
      recvWindowMs: posInt.max(60_000).default(5_000),
    })
    .prefault({}),
  // MEXC market data is REST only (no WebSocket URL).
  mexc: z
    .strictObject({
      enabled: z.boolean().default(true),
      restUrl: httpUrl.default('https://api.mexc.com'),
      recvWindowMs: posInt.max(60_000).default(5_000),
    })
    .prefault({}),
  fallback: fallbackSchema.prefault({}),
});

// The bounds of a daemon's replay speed live with isRunSpeed (engine/types/run-speed.ts says why).
export { RUN_SPEED_MAX, RUN_SPEED_MIN };

/** Recorded inputs. Relative paths are resolved against the working directory. */
export const dataSchema = z.strictObject({
  /** Recording files (`<receive_ts_ns> <json>` lines, gzipped or not); empty means live market data. */
  replayFiles: z.array(z.string().min(1)).default([]),
  /** Directories holding kline CSVs used to warm up candle series. */
  klinesDirs: z.array(z.string().min(1)).default([]),
  /**
   * Replay speed relative to recorded time (1 = real time). 0 (as fast as possible) is refused by `cobalt run`: the
   * models' deadlines run on the replay's clock, which would pass them before any answer. Not used by backtests.
   */
  speed: z.number().nonnegative().max(RUN_SPEED_MAX)
    // Only the gap the bounds leave (0 < v < RUN_SPEED_MIN): judging every value, it refused -1 or 2000 a second time.
    .refine((v) => !(v > 0 && v < RUN_SPEED_MIN), { error: (iss) => `expected 0 or ${RUN_SPEED_MIN}..${RUN_SPEED_MAX}, received ${String(iss.input)}` })
    .default(1)
    .describe(`replay speed relative to recorded time (1 = real time, ${RUN_SPEED_MIN}..${RUN_SPEED_MAX}); cobalt run refuses 0 on recorded or simulator data (no model could answer in time); live data always runs in real time; backtests always run as fast as possible`),
  /** Restart the replay from the first file when the last one ends. Not used by backtests. */
  loop: z.boolean().default(false)
    .describe('restart the replay from the first file when the last one ends; backtests never loop'),
  /**
   * Where backtests keep the recordings decoded to binary (replay catalogs, built on first use; a changed file or
   * instrument gets a new one). Safe to delete.
   */
  catalogDir: z.string().min(1).default('var/catalog'),
});

// The imbalance moving averages the model input (BaseDataInput) carries, in the order of its slots ma1s, ma5s, ma15s
// and ma60s: packCob takes the COB's averages by position, so these must be the first four windows.
const BDI_IMBALANCE_WINDOWS_MS = [1_000, 5_000, 15_000, 60_000];
const HEATMAP_SECONDS_MAX = 3_600;

/**
 * Consolidated order book publication. It feeds the model input, whose layout is fixed (±20 buckets, the four
 * averages above): a narrower range or other windows would change what the trained models receive.
 */
export const cobSchema = z
  .strictObject({
    /** cob.snapshot per second and symbol; the imbalance averages restart after max(5 s, 2 publish periods) without one. */
    publishHz: z.number().positive().max(1000).default(10),
    /** Buckets on each side of mid; at least the model input's 20. */
    buckets: z.int().min(BDI_COB_RANGE).max(1000).default(BDI_COB_RANGE),
    /**
     * Width of the near imbalance and its moving averages, in buckets: it sums the quantities within
     * (imbalanceBuckets + ½) bucket widths of the mid itself (2 × imbalanceBuckets + 1 buckets wide, equal on each side
     * wherever the mid sits in its bucket), not whole grid buckets around the mid's bucket; at most cob.buckets.
     */
    imbalanceBuckets: posInt.default(5),
    /** Moving-average windows of the imbalance; the first four are the model input's (1, 5, 15, 60 s), more may follow. */
    imbalanceWindowsMs: z.array(posInt).min(1).default(BDI_IMBALANCE_WINDOWS_MS),
    /**
     * Heatmap columns (s, at most an hour) and rows per side of mid (at most cob.buckets). Each symbol keeps
     * seconds × (2 × buckets + 1) cells per side in memory: 10^9 seconds asked for 2.1·10^10 and crashed the COB actor.
     */
    heatmap: z.strictObject({ seconds: posInt.max(HEATMAP_SECONDS_MAX).default(300), buckets: posInt.default(10) }).prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.imbalanceBuckets > c.buckets) {
      ctx.addIssue({ code: 'custom', path: ['imbalanceBuckets'], message: `expected at most cob.buckets (${c.buckets}), received ${c.imbalanceBuckets}` });
    }
    if (c.heatmap.buckets > c.buckets) {
      ctx.addIssue({ code: 'custom', path: ['heatmap', 'buckets'], message: `expected at most cob.buckets (${c.buckets}), received ${c.heatmap.buckets}` });
    }
    if (BDI_IMBALANCE_WINDOWS_MS.some((w, i) => c.imbalanceWindowsMs[i] !== w)) {
      ctx.addIssue({ code: 'custom', path: ['imbalanceWindowsMs'],
        message: `expected to start with the model input's windows [${BDI_IMBALANCE_WINDOWS_MS.join(', ')}] in this order, received [${c.imbalanceWindowsMs.join(', ')}]` });
    }
  });

const modelSwitch = z.strictObject({ enabled: z.boolean().default(true) });

/** A triple-barrier labelling rule on 1m bars (config.models.online.labels, or a checkpoint's train-report.json). */
export const onlineLabelsSchema = z.strictObject({
  volWindow: z.int().min(2).default(60),
  horizon: posInt.default(30),
  ptMult: z.number().positive().default(2),
  slMult: z.number().positive().default(2),
});

/**
 * Online learning of the DQN in the daemon (app/online-dqn.ts), under models.online (which switches both learners on):
 * every `retrainEveryMs` (checked at each of models.online.pollMs), its own decisions of the last `lookbackMs` (one per
 * decision time, kept up to `maxDecisions`) fine-tune a copy of the live Q-network, promoted only when its greedy
 * after-fee return on the newest held-out decisions beats the live version's by more than `minReturnGain` and is not
 * below flat.
 */
export const onlineDqnSchema = z
  .strictObject({
    /** Off: only the CNN learns online (when it can). */
    enabled: z.boolean().default(true),
    /** Engine time between training runs (at most a week). */
    retrainEveryMs: posInt.max(604_800_000).default(3_600_000),
    /** How far back a start reads the DQN's decisions: the decision prices come from the 1m series, which holds 25 hours. */
    lookbackMs: posInt.default(86_400_000),
    /** Decisions kept for training, newest. */
    maxDecisions: posInt.max(20_000).default(2_000),
    /** Share of the newest decisions held out to judge the candidate against the live version. */
    heldOutFraction: z.number().gt(0).lt(1).default(0.3),
    /** Decisions needed to train (in runs of ≥ 2 consecutive ones) and held out before a run. */
    minTrain: posInt.min(2).default(100),
    minHeldOut: posInt.min(2).default(36),
    /** Fine-tune budget: episodes and environment steps, whichever ends first, and decisions per episode. */
    episodes: posInt.default(200),
    maxSteps: posInt.max(1_000_000).default(10_000),
    episodeLength: posInt.default(48),
    /** Adam learning rate of the fine-tune (default: a tenth of the live network's). */
    learningRate: z.number().positive().optional(),
    /** Exploration rate the fine-tune starts at (the live weights already trade; annealed towards 0.02). */
    epsilonStart: unit.default(0.1),
    /** The candidate's held-out after-fee return must beat the live version's by more than this (0.001 = 0.1 %). */
    minReturnGain: z.number().min(0).default(0.001),
    /** Promotion gate (models/online/dqn-pipeline.ts DQN_GATE_DEFAULTS): trades and share of held-out steps long. */
    minTrades: z.int().min(0).default(2),
    minExposure: unit.default(0.05),
    /** Confidence of the paired block bootstrap's lower bound on the gain (and on the candidate's own return). */
    confidence: z.number().gt(0).lt(1).default(0.95),
    bootstrapSamples: z.int().min(100).max(100_000).default(2000),
    bootstrapBlock: posInt.default(12),
    /** New decisions after a judged run before the next (default: that run's held-out count). */
    minNewDecisions: posInt.optional(),
  })
  .superRefine((o, ctx) => {
    // The fine-tune learns from min(checkpoint learningStarts, max(batch, maxSteps/4)) steps on; at or below a quarter of
    // maxSteps a checkpoint with a large learningStarts never trains (the learner checks the exact bound at start).
    if (Math.min(o.maxSteps, o.episodes * o.episodeLength) <= Math.floor(o.maxSteps / 4)) {
      ctx.addIssue({ code: 'custom', path: ['episodes'],
        message: `expected episodes × episodeLength (${o.episodes} × ${o.episodeLength}) above maxSteps / 4 (${Math.floor(o.maxSteps / 4)}): the fine-tune would take no gradient step` });
    }
    if (o.maxDecisions * (1 - o.heldOutFraction) < o.minTrain || o.maxDecisions * o.heldOutFraction < o.minHeldOut) {
      const need = Math.max(Math.ceil(o.minTrain / (1 - o.heldOutFraction)), Math.ceil(o.minHeldOut / o.heldOutFraction));
      ctx.addIssue({ code: 'custom', path: ['maxDecisions'],
        message: `expected at least ${need} (minTrain ${o.minTrain} and minHeldOut ${o.minHeldOut} at heldOutFraction ${o.heldOutFraction}), received ${o.maxDecisions}` });
    }
  });

/**
 * Online learning of the CNN in the daemon (app/online-learning.ts): its stored predictions are labelled once their
 * horizon has passed, and a candidate fine-tuned on them replaces the live version only if it beats it on the newest
 * held-out pairs. Off by default; never in a backtest. `enabled` also switches on the DQN's learner (`dqn`).
 */
export const onlineSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** How often stored predictions are labelled (engine time; at most a day). */
    pollMs: posInt.max(86_400_000).default(60_000),
    /** Engine time between training runs (one runs only once enough pairs are labelled; at most a week). */
    retrainEveryMs: posInt.max(604_800_000).default(3_600_000),
    /** Labelled pairs kept for training, newest (one per decision bar). */
    maxPairs: posInt.max(20_000).default(1_000),
    /** How far back a start reads the inference history for predictions to label. */
    lookbackMs: posInt.default(21_600_000),
    /** Share of the newest pairs held out to judge the candidate against the live version. */
    heldOutFraction: z.number().gt(0).lt(1).default(0.3),
    /** Training pairs needed (after the purge) before a run. */
    minTrain: posInt.default(100),
    /** Held-out pairs needed before a verdict. */
    minHeldOut: posInt.default(50),
    steps: posInt.default(50),
    batch: posInt.default(32),
    /** Adam learning rate of the fine-tune (default: the live checkpoint's). */
    learningRate: z.number().positive().optional(),
    /** The candidate's held-out log loss must be lower by more than this (nats). */
    minLogLossGain: z.number().min(0).default(0.001),
    /** New labelled pairs after a judged run before the next (default: that run's held-out count; 0: no wait). */
    minNewPairs: nonNegInt.optional(),
    /** Labels when the live checkpoint's train-report.json does not give its own (triple barrier on 1m bars). */
    labels: onlineLabelsSchema.prefault({}),
    /** The DQN's online learning (onlineDqnSchema); the settings above are the CNN's, but pollMs is shared. */
    dqn: onlineDqnSchema.prefault({}),
  })
  .superRefine((o, ctx) => {
    if (o.retrainEveryMs < o.pollMs) ctx.addIssue({ code: 'custom', path: ['retrainEveryMs'], message: `expected at least pollMs (${o.pollMs}), received ${o.retrainEveryMs}` });
    // A run needs minTrain pairs outside the held-out share after the purge, which drops up to `horizon` of them (one
    // pair per 1m bar, horizon in bars), and minHeldOut inside it (app/online-learning.ts, poll); with fewer kept pairs
    // than that, none would ever train. The horizon here is the configured one; the learner labels by the live
    // checkpoint's own rule when it records one and checks again with that horizon.
    if (o.maxPairs * (1 - o.heldOutFraction) < o.minTrain + o.labels.horizon || o.maxPairs * o.heldOutFraction < o.minHeldOut) {
      const need = Math.max(Math.ceil((o.minTrain + o.labels.horizon) / (1 - o.heldOutFraction)), Math.ceil(o.minHeldOut / o.heldOutFraction));
      ctx.addIssue({ code: 'custom', path: ['maxPairs'],
        message: `expected at least ${need} (minTrain ${o.minTrain} plus labels.horizon ${o.labels.horizon} and minHeldOut ${o.minHeldOut} at heldOutFraction ${o.heldOutFraction}), received ${o.maxPairs}` });
    }
  });

/** Models and the inference pool. */
export const modelsSchema = z.strictObject({
  cnn: modelSwitch.prefault({}),
  dqn: modelSwitch.prefault({}),
  checkpointDir: z.string().min(1).default('var/checkpoints'),
  poolThreads: posInt.max(256).default(2),
  /**
   * One model run's deadline (paper and live). At most 60 s: a run that slow decides nothing in time, and the pool's
   * stuck guard (engine/infer/pool.ts) is ten of them; 300000000 (a unit mistake) put that past Node's timer limit.
   */
  timeoutMs: posInt.max(60_000).default(1_000),
  online: onlineSchema.prefault({}),
});

/** Mixture-of-experts decision thresholds (probabilities, 0..1). */
export const orchestratorSchema = z.strictObject({
  // Above 0: at 0 every blend passes, so every tick would decide BUY (or SELL) whatever the models say.
  buyThreshold: z.number().gt(0).max(1).default(0.6),
  sellThreshold: z.number().gt(0).max(1).default(0.6),
  minConfidence: unit.default(0.5),
  /**
   * Model health (actors/orchestrator/model-health.ts): judged outcomes sampled one per outcome horizon (consecutive
   * ones share their price move); over each model's last `window` of them a one-sided McNemar test at `confidence`
   * against always predicting the most frequent move of the `window` outcomes before says when the model is worse than
   * that baseline (MODEL_DEGRADED; MODEL_RECOVERED after `recoverAfter`, default window / 2, outcomes in a row without
   * it), and mean confidence above accuracy by more than `maxConfidenceGap` says it is overconfident. Nothing before
   * `minJudged` (default min(100, window)) in the window and before it; two changes of a kind at least `minGapMs` apart.
   */
  health: z
    .strictObject({
      enabled: z.boolean().default(true),
      window: z.int().min(10).max(100_000).default(200),
      minJudged: posInt.optional(),
      confidence: z.number().gt(0.5).lt(1).default(0.95),
      maxConfidenceGap: unit.default(0.25),
      recoverAfter: posInt.optional(),
      minGapMs: nonNegInt.default(1_800_000),
    })
    .superRefine((h, ctx) => {
      if (h.minJudged !== undefined && h.minJudged > h.window) {
        ctx.addIssue({ code: 'custom', path: ['minJudged'], message: `expected at most orchestrator.health.window (${h.window}), received ${h.minJudged}` });
      }
    })
    .prefault({}),
});

/** Risk limits. Notional limits are quote-currency decimals, quantity limits base-asset decimals; percentages are 0..100. */
export const riskSchema = z
  .strictObject({
    maxOrderNotional: posDecimal('notional').prefault('1000'),
    maxPositionNotional: posDecimal('notional').prefault('5000'),
    maxDrawdownPct: pct.default(10),
    stopLossPct: pct.default(2),
    takeProfitPct: pct.default(4),
    sizing: z.enum(['fixed-fraction', 'volatility']).default('fixed-fraction'),
    /** Fraction of equity per position (fixed-fraction) or risked per position (volatility), in whole basis points. */
    fraction: z.number().min(0.0001, { abort: true }).max(1)
      .refine((v) => wholeSteps(v, 0.0001), { error: (iss) => `expected whole basis points (a multiple of 0.0001), received ${String(iss.input)}` })
      .default(0.02),
    /** Orders approved per second (the RiskManager counts whole approvals). */
    maxSubmitPerSec: z.int().min(1).default(5),
    /**
     * Caps on one order and on the position of the traded symbol (symbols.primary), in its base asset ('0.5' ETH).
     * Turned into whole lots of the order venue's lot size at start, rounded down. Absent: no quantity cap.
     */
    maxOrderQty: posDecimal('quantity').optional(),
    maxPositionQty: posDecimal('quantity').optional(),
    var: z
      .strictObject({
        /** The VaR figures kept: 95 % or 99 %. */
        confidence: z.literal([0.95, 0.99]).default(0.99),
        /** Horizon of the VaR figures: one-minute returns of the holdings scaled by sqrt(horizonMs / 60 s), so at least 60 s. */
        horizonMs: z.int().min(60_000).default(86_400_000),
        /** One-horizon VaR as % of the starting equity: above `warnPct` an alert, above `haltPct` reduce-only. */
        warnPct: pct.default(3),
        haltPct: pct.default(6),
      })
      .superRefine((v, ctx) => {
        if (v.warnPct > v.haltPct) {
          ctx.addIssue({ code: 'custom', path: ['warnPct'], message: `expected at most risk.var.haltPct (${v.haltPct}), received ${v.warnPct}` });
        }
      })
      .prefault({}),
    /**
     * Market circuit breaker on the traded symbol's trade price (the RiskManager's marks): a move of more than
     * `maxMovePct` within `moveWindowMs` (a move spread over up to twice the window may count too) denies new entries
     * until `cooldownMs` passed without one; no mark for `staleMs` (a feed that stopped) denies them until the next
     * mark. Exits (stops, flatten, strategy sells) are never denied. `false` switches a guard off. The defaults only
     * catch crashes: in the bundled month of ETH/USDT 1m klines (2024-07-26 → 08-25) the five-minute moves have a
     * standard deviation of 0.27 %, and 5 % within 5–10 minutes happened on one day only (the 2024-08-05 crash, three
     * times). Marks come with each price change and at least once a second of trading (app/system.ts publishMarks):
     * 60 s without one is a silent feed, not a quiet price. A best bid/ask spread over `maxSpreadBps` of the bid for
     * `spreadMs` or longer (a thin book, exchange trouble) denies entries until it is back within the limit: in the
     * bundled recording ETH/USDT's spread is one tick (0.04 bps) at the median, 10.5 bps at its widest, and never over
     * 0.5 bps for more than 40 ms (BTC/USDT: 10 bps, 61 ms), so 50 bps held for 2 s is a broken book, not a busy one.
     */
    breaker: z
      .strictObject({
        maxMovePct: z.union([pct, z.literal(false)]).default(5),
        // At most a day (the windows) or an hour (silence, a wide spread): past that, a unit mistake, not a guard.
        moveWindowMs: z.int().min(1_000).max(86_400_000).default(300_000),
        cooldownMs: posInt.max(86_400_000).default(300_000),
        staleMs: z.union([z.int().min(2_000).max(3_600_000), z.literal(false)]).default(60_000),
        maxSpreadBps: z.union([z.int().min(1).max(10_000), z.literal(false)]).default(50),
        spreadMs: z.int().min(0).max(3_600_000).default(2_000),
      })
      .prefault({}),
  })
  .superRefine((r, ctx) => {
    if (compareDecimals(r.maxOrderNotional, r.maxPositionNotional) > 0) {
      ctx.addIssue({ code: 'custom', path: ['maxOrderNotional'],
        message: `expected at most risk.maxPositionNotional (${r.maxPositionNotional}), received ${r.maxOrderNotional}` });
    }
    if (r.maxOrderQty !== undefined && r.maxPositionQty !== undefined && compareDecimals(r.maxOrderQty, r.maxPositionQty) > 0) {
      ctx.addIssue({ code: 'custom', path: ['maxOrderQty'],
        message: `expected at most risk.maxPositionQty (${r.maxPositionQty}), received ${r.maxOrderQty}` });
    }
  });

/**
 * The highest fee rate a config may set: 10 %. No spot venue charges near it (Binance 0.1 %, MEXC 0.05 %), so a rate
 * above it is a percentage or basis points written as a fraction ('5' for 5 bps); from 1 (100 %) the risk manager's
 * fee reserve (the rate in whole bps, at most 10000) refuses to start.
 */
export const FEE_RATE_MAX = '0.1';
const feeRate = () => nonNegDecimal('fee rate')
  .refine((s) => compareDecimals(s, FEE_RATE_MAX) <= 0, { error: (iss) => `expected a fraction of at most ${FEE_RATE_MAX} (10 %; '0.001' is 0.1 %), received '${String(iss.input)}'` });

/** Order execution: fees (rates as fractions, '0.001' = 0.1%), simulated latency, retries. */
export const executionSchema = z.strictObject({
  /** Where live orders go (market data stays Binance's; `venues.mexc.enabled` is the market-data fallback only). */
  venue: z.enum(['binance', 'mexc']).default('binance'),
  fees: z
    .strictObject({ maker: feeRate().prefault('0.001'), taker: feeRate().prefault('0.001') })
    .prefault({}),
  /** Simulated order latency: at most a minute (300000000, a unit mistake, passed and held every paper order days). */
  latencyMs: nonNegInt.max(60_000).default(50),
  retry: z
    .strictObject({
      maxAttempts: posInt.max(20).default(3),
      /** The first retry's delay (at most a minute), doubling up to maxDelayMs (at most five minutes). */
      baseDelayMs: posInt.max(60_000).default(200),
      maxDelayMs: posInt.max(300_000).default(5_000),
    })
    .prefault({}),
  /** Starting balance of the paper venue, in the quote currency. */
  paper: z.strictObject({ initialQuote: posDecimal('balance').prefault('10000') }).prefault({}),
  /**
   * A stop-loss-limit sell resting at the venue while a position is open, so that it stays protected when the engine
   * is down (actors/trading-executor/protective-stop.ts). Live mode on Binance only (MEXC spot has no stop orders).
   */
  protectiveStop: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Basis points beyond the risk stop-loss (risk.stopLossPct) the venue stop triggers at: the engine's acts first. */
      extraBps: nonNegInt.max(5_000).default(50),
      /** Basis points below the trigger price the stop's limit price sits (how far it may sell through). */
      limitBps: nonNegInt.max(5_000).default(100),
    })
    .prefault({}),
});

/**
 * The most records one retention pass may archive (store.retention.maxPerPass): ~10-20 s of archiving, and the
 * selected keys, up to 100 times as many with unarchived deletes, are held in memory for the pass.
 */
export const RETENTION_MAX_PER_PASS = 20_000;

/** LMDB store location and inference-history retention (paper and live; a backtest keeps a temporary store). */
export const storeSchema = z.strictObject({
  path: z.string().min(1).default('var/store').describe('LMDB store directory of paper and live runs; backtests use a temporary one'),
  retention: z.strictObject({
    maxRecords: posInt.default(100_000),
    maxAgeDays: z.number().positive().default(30),
    /** Engine minutes between retention passes of a running daemon (paper and live); at most a week (10,080). */
    everyMinutes: z.number().positive().max(10_080).default(10),
    /** Write the records retention removes to gzipped JSONL files in archiveDir first (~17 KB a record). */
    archive: z.boolean().default(true),
    /** Total size of the archive files; each retention pass deletes the oldest beyond it (~4 GB a day at one tick a second). */
    archiveMaxMB: z.number().positive().default(4_096),
    /**
     * Records one pass archives and removes at most; a pass that stops there is followed by the next a second later.
     * ~1-2 s of archiving per 2,000 (yielding between records); the keys it selects stay in memory for the pass.
     */
    maxPerPass: posInt.max(RETENTION_MAX_PER_PASS).default(2_000),
    /**
     * While passes do not gain on the backlog: records a pass also deletes unarchived at most, beyond maxPerPass.
     * Absent: 100 times maxPerPass.
     */
    maxDropPerPass: posInt.max(100 * RETENTION_MAX_PER_PASS).optional(),
    /** Delete beyond the limits without archiving while passes do not gain on the backlog (else the store grows). */
    dropWhenBehind: z.boolean().default(true),
    /** RETENTION_BEHIND is warned when the records left beyond the limits after a pass exceed this many times those kept. */
    behindFactor: z.number().positive().max(1_000).default(1),
    /** Wall-clock minutes between two RETENTION_BEHIND warnings at least; at most a day (1,440). */
    warnEveryMinutes: z.number().positive().max(1_440).default(5),
  }).prefault({}),
  archiveDir: z.string().min(1).default('var/archive').describe('where retention archives removed records (paper and live); not used by backtests'),
});

/** Web dashboard; binds to loopback unless told otherwise. */
export const dashboardSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: z.string().min(1).default('127.0.0.1'),
  port: nonNegInt.max(65_535).default(8080),
});

/**
 * What the alerts webhook (app/alerts-webhook.ts, which gives each a severity) pushes, by stable code: the
 * RiskManager's risk.alert codes, trading-state changes (TRADING_*), the engine's halt and failed actors, the
 * executor's venue status (VENUE_*), the daemon's start and stop, `cobalt alerts test`'s TEST, and the orchestrator's
 * model health (MODEL_*).
 */
export const ALERT_CODES = [
  'VAR_95', 'VAR_99', 'VAR_WARN_95', 'VAR_WARN_99', 'DRAWDOWN', 'STOP_LOSS', 'TAKE_PROFIT', 'KILL_SWITCH', 'RESUME_REFUSED',
  'LIMITS_INVALID', 'FLATTEN_INCOMPLETE', 'FLATTENED', 'FLATTEN_ENDED', 'MARKET_MOVE', 'MARKET_STALE', 'MARKET_SPREAD',
  'MARKET_CLEARED', 'TRADING_ACTIVE', 'TRADING_REDUCING', 'TRADING_HALTED', 'SYSTEM_HALTED', 'ACTOR_FAILED',
  'VENUE_CIRCUIT_OPEN', 'VENUE_RATE_LIMITED', 'VENUE_BANNED', 'VENUE_UP', 'ENGINE_STARTED', 'ENGINE_STOPPING', 'TEST',
  'MODEL_DEGRADED', 'MODEL_RECOVERED', 'MODEL_OVERCONFIDENT', 'MODEL_CALIBRATED', 'MODEL_RESET',
  'RECONCILE_MISMATCH', 'ORDER_REJECTED', 'EXIT_REJECTED',
  'FEED_DOWN', 'FEED_UP', 'FEED_FALLBACK', 'FEED_PRIMARY',
] as const;

/** Severities of pushed alerts, lowest first. */
export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;

/**
 * Alerts pushed out of the process (paper and live daemons; never a backtest). The webhook's URL embeds a token
 * (Slack, Discord, Telegram), so it is read from COBALT_ALERTS_WEBHOOK_URL only: a config file or override that sets
 * it is refused without echoing it.
 */
export const alertsSchema = z.strictObject({
  webhook: z.strictObject({
    enabled: z.boolean().default(false),
    url: z.unknown()
      .refine((v) => v === undefined, { error: 'the webhook URL holds a token: it is read from COBALT_ALERTS_WEBHOOK_URL only, never from a config file or override' })
      .optional()
      .describe('not allowed here: set COBALT_ALERTS_WEBHOOK_URL in the environment'),
    /** Events below this severity are not pushed. */
    minSeverity: z.enum(ALERT_SEVERITIES).default('info'),
    /** Absent: every code at or above minSeverity; given: only these (and still at or above minSeverity). */
    codes: z.array(z.enum(ALERT_CODES)).min(1).optional(),
    /** One POST's deadline, answer included. */
    timeoutMs: posInt.max(60_000).default(5_000),
    /** Further attempts after a network error, a timeout, a 5xx or a 429 (other 4xx are never retried). */
    retries: nonNegInt.max(10).default(3),
    /** Alerts posted one by one per minute; those beyond are folded into one summary line at the minute's end. */
    maxPerMinute: posInt.max(600).default(20),
    /** Alerts waiting to be posted; beyond it the oldest is dropped (counted). */
    queueSize: posInt.max(10_000).default(100),
  }).prefault({}),
});

/** Logging. */
export const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** The whole engine configuration. */
export const configSchema = z
  .strictObject({
    mode: modeSchema.default('paper'),
    /** Seed for every random choice (backtests are deterministic given data + config + seed). */
    seed: nonNegInt.default(1),
    symbols: symbolsSchema.prefault({}),
    instruments: instrumentsSchema.default({}),
    venues: venuesSchema.prefault({}),
    data: dataSchema.prefault({}),
    cob: cobSchema.prefault({}),
    models: modelsSchema.prefault({}),
    orchestrator: orchestratorSchema.prefault({}),
    risk: riskSchema.prefault({}),
    execution: executionSchema.prefault({}),
    store: storeSchema.prefault({}),
    dashboard: dashboardSchema.prefault({}),
    log: logSchema.prefault({}),
    alerts: alertsSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    symbolsHaveIncrements(c, ctx);
    quantityCapsHoldALot(c, ctx);
    const replays = c.data.replayFiles.length > 0;
    if ((c.mode === 'backtest' || c.mode === 'replay') && !replays) {
      ctx.addIssue({ code: 'custom', path: ['data', 'replayFiles'], message: `mode ${c.mode} needs at least one recording file` });
    }
    if (c.mode === 'live' && replays) {
      ctx.addIssue({ code: 'custom', path: ['data', 'replayFiles'], message: 'mode live trades on live market data: remove the recording files' });
    }
    protectiveStopVenue(c, ctx);
  });

// Protective stops rest at a live venue that has stop orders: refused where they would be faked or silently absent.
function protectiveStopVenue(c: { mode: string; execution: z.output<typeof executionSchema> }, ctx: z.RefinementCtx): void {
  const ps = c.execution?.protectiveStop;
  if (!ps?.enabled) return;
  const path = ['execution', 'protectiveStop', 'enabled'];
  if (c.execution.venue === 'mexc') {
    ctx.addIssue({ code: 'custom', path, message: 'MEXC spot has no stop orders: execution.protectiveStop cannot be enabled with execution.venue mexc' });
  } else if (c.mode !== 'live') {
    ctx.addIssue({ code: 'custom', path, message: `protective stops rest at a live venue: mode ${c.mode} has none (the paper venue does not model stop orders); enable them in live mode only` });
  }
}

// The traded and reference symbols must have increments (bundled or configured), and each COB bucket must be a whole
// number of its symbol's ticks. Runs after the sections parsed, with or without problems of their own: a value that
// failed there is skipped here (it is already reported).
function symbolsHaveIncrements(c: { symbols: z.output<typeof symbolsSchema>; instruments: z.output<typeof instrumentsSchema> }, ctx: z.RefinementCtx): void {
  const configured = typeof c.instruments === 'object' && c.instruments !== null && !Array.isArray(c.instruments) ? c.instruments : {};
  const specs = instrumentSpecsOf({ instruments: configured });
  const known = Object.keys(specs);
  for (const key of ['primary', 'reference'] as const) {
    const sym = c.symbols?.[key];
    if (symbol.safeParse(sym).success && !Object.hasOwn(specs, sym)) {
      ctx.addIssue({ code: 'custom', path: ['symbols', key],
        message: `no instrument increments for ${sym}: add them under instruments (${sym}: { tickSize, lotSize, minNotional }); known: ${known.join(', ')}` });
    }
  }
  for (const [sym, size] of Object.entries(c.symbols?.cobBucketSize ?? {})) {
    const tick = Object.hasOwn(specs, sym) ? specs[sym]!.tickSize : undefined;
    if (typeof tick === 'string' && typeof size === 'string' && validDecimal(tick) && validDecimal(size) && !isMultipleOf(size, tick)) {
      ctx.addIssue({ code: 'custom', path: ['symbols', 'cobBucketSize', sym], message: `expected a whole number of ${sym} price ticks (${tick}), received '${size}'` });
    }
  }
}

// risk.maxOrderQty and maxPositionQty below one lot of the traded symbol round to 0 lots, which the start refuses
// (app/risk-limits.ts). Paper, backtest and replay trade on the configured lot size, so it is known here; a live
// start takes the venue's lot size and checks there.
function quantityCapsHoldALot(c: { mode: Mode; symbols: z.output<typeof symbolsSchema>; instruments: z.output<typeof instrumentsSchema>; risk: z.output<typeof riskSchema> }, ctx: z.RefinementCtx): void {
  if (c.mode === 'live' || c.risk === undefined) return;
  const spec = instrumentSpecsOf({ instruments: c.instruments ?? {} })[c.symbols?.primary ?? ''];
  if (spec === undefined || !validDecimal(spec.lotSize)) return;
  for (const key of ['maxOrderQty', 'maxPositionQty'] as const) {
    const qty = c.risk[key];
    if (typeof qty === 'string' && validDecimal(qty) && compareDecimals(qty, spec.lotSize) < 0) {
      ctx.addIssue({ code: 'custom', path: ['risk', key],
        message: `${qty} is less than one lot of ${spec.symbol} (lot size ${spec.lotSize}): it would round to 0 lots, which the start refuses` });
    }
  }
}

// True when `s` parses as a positive decimal (a value that failed its own check may still reach a refinement).
function validDecimal(s: string): boolean {
  try {
    return parseDecimal(s).mantissa > 0n;
  } catch {
    return false;
  }
}

/** The validated engine configuration. */
export type Config = z.output<typeof configSchema>;
/** What a config file may contain (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** Run mode. */
export type Mode = z.output<typeof modeSchema>;
