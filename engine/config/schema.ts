// The engine's configuration, as zod schemas. Every object is strict: an unknown key is an error, so a typo
// (`maxDrawdonPct`) fails loudly instead of silently running with a default. Every section has defaults, so an
// empty file is a valid paper config. Sections are wrapped in `.prefault({})` (not `.default({})`): zod 4 returns a
// `.default()` value without parsing it, which would skip the inner defaults.
import { z } from 'zod';
import { parseDecimal } from '../types/decimal.ts';

// A double holds any decimal literal of at most 15 significant digits exactly enough that its shortest string
// form is the literal itself, so such YAML numbers can be taken as the decimal the user wrote.
const EXACT_DIGITS = 15;

/** A decimal value kept as its exact string (money, fees, bucket sizes); numbers are accepted only when exact. */
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
const wsOrHttpUrl = z.url({ protocol: /^(https?|wss?)$/, error: 'expected an http(s):// or ws(s):// URL' });
const posInt = z.int().positive();
const nonNegInt = z.int().nonnegative();
const pct = z.number().positive().max(100);
const unit = z.number().min(0).max(1);

/** Run mode: live data + paper fills, real orders, recorded data on a simulated clock, or recorded data replayed. */
export const modeSchema = z.enum(['paper', 'live', 'backtest', 'replay']);

/** Traded and reference symbols, and the COB price bucket size per symbol (quote units). */
export const symbolsSchema = z
  .strictObject({
    primary: symbol.default('ETH/USDT'),
    reference: symbol.default('BTC/USDT'),
    cobBucketSize: z.record(symbol, posDecimal('bucket size')).default({ 'ETH/USDT': '1', 'BTC/USDT': '10' }),
  })
  .superRefine((s, ctx) => {
    for (const sym of [s.primary, s.reference]) {
      if (!(sym in s.cobBucketSize)) {
        ctx.addIssue({ code: 'custom', path: ['cobBucketSize', sym], message: `missing bucket size for ${sym}` });
      }
    }
  });

/** Circuit breaker that moves market data from the primary venue to the fallback. */
export const fallbackSchema = z.strictObject({
  failureThreshold: posInt.default(5),
  cooldownMs: posInt.default(30_000),
  halfOpenProbes: posInt.default(1),
});

/** Exchange endpoints: Binance first, MEXC as market-data fallback (and as the order venue with `execution.venue: mexc`). */
export const venuesSchema = z.strictObject({
  binance: z
    .strictObject({
      restUrl: wsOrHttpUrl.default('https://api.binance.com'),
      wsUrl: wsOrHttpUrl.default('wss://stream.binance.com:9443'),
      recvWindowMs: posInt.max(60_000).default(5_000),
    })
    .prefault({}),
  mexc: z
    .strictObject({
      enabled: z.boolean().default(true),
      restUrl: wsOrHttpUrl.default('https://api.mexc.com'),
      wsUrl: wsOrHttpUrl.default('wss://wbs.mexc.com/ws'),
      recvWindowMs: posInt.max(60_000).default(5_000),
    })
    .prefault({}),
  fallback: fallbackSchema.prefault({}),
});

/** Recorded inputs. Relative paths are resolved against the working directory. */
export const dataSchema = z.strictObject({
  /** Recording files (`<receive_ts_ns> <json>` lines, gzipped or not); empty means live market data. */
  replayFiles: z.array(z.string().min(1)).default([]),
  /** Directories holding kline CSVs used to warm up candle series. */
  klinesDirs: z.array(z.string().min(1)).default([]),
  /** Replay speed relative to recorded time (1 = real time); 0 = as fast as possible. */
  speed: z.number().nonnegative().default(1),
  /** Restart the replay from the first file when the last one ends. */
  loop: z.boolean().default(false),
  /**
   * Where backtests keep the recordings decoded to binary (replay catalogs, built on first use; a changed file or
   * instrument gets a new one). Safe to delete.
   */
  catalogDir: z.string().min(1).default('var/catalog'),
});

/** Consolidated order book publication. */
export const cobSchema = z
  .strictObject({
    publishHz: z.number().positive().max(1000).default(10),
    /** Buckets on each side of mid. */
    buckets: posInt.max(1000).default(20),
    /** Buckets on each side of mid used for the imbalance and its moving averages. */
    imbalanceBuckets: posInt.default(5),
    imbalanceWindowsMs: z.array(posInt).min(1).default([1_000, 5_000, 15_000, 60_000]),
    heatmap: z.strictObject({ seconds: posInt.default(300), buckets: posInt.default(10) }).prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.imbalanceBuckets > c.buckets) {
      ctx.addIssue({ code: 'custom', path: ['imbalanceBuckets'], message: `expected at most cob.buckets (${c.buckets}), received ${c.imbalanceBuckets}` });
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
 * Online learning of the CNN in the daemon (app/online-learning.ts): its stored predictions are labelled once their
 * horizon has passed, and a candidate fine-tuned on them replaces the live version only if it beats it on the newest
 * held-out pairs. Off by default; never in a backtest.
 */
export const onlineSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** How often stored predictions are labelled (engine time). */
    pollMs: posInt.default(60_000),
    /** Engine time between training runs (one runs only once enough pairs are labelled). */
    retrainEveryMs: posInt.default(3_600_000),
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
    /** Labels when the live checkpoint's train-report.json does not give its own (triple barrier on 1m bars). */
    labels: onlineLabelsSchema.prefault({}),
  })
  .superRefine((o, ctx) => {
    if (o.retrainEveryMs < o.pollMs) ctx.addIssue({ code: 'custom', path: ['retrainEveryMs'], message: `expected at least pollMs (${o.pollMs}), received ${o.retrainEveryMs}` });
  });

/** Models and the inference pool. */
export const modelsSchema = z.strictObject({
  cnn: modelSwitch.prefault({}),
  dqn: modelSwitch.prefault({}),
  checkpointDir: z.string().min(1).default('var/checkpoints'),
  poolThreads: posInt.max(256).default(2),
  timeoutMs: posInt.default(1_000),
  /** No inference below this BaseDataInput completeness. */
  minCompleteness: unit.default(0.8),
  /** No inference while a series has fewer frames. */
  minFrames: posInt.default(100),
  online: onlineSchema.prefault({}),
});

/** Mixture-of-experts decision thresholds (probabilities, 0..1). */
export const orchestratorSchema = z.strictObject({
  buyThreshold: unit.default(0.6),
  sellThreshold: unit.default(0.6),
  minConfidence: unit.default(0.5),
});

/** Risk limits. Notional limits are quote-currency decimals, quantity limits base-asset decimals; percentages are 0..100. */
export const riskSchema = z
  .strictObject({
    maxOrderNotional: posDecimal('notional').default('1000'),
    maxPositionNotional: posDecimal('notional').default('5000'),
    maxDrawdownPct: pct.default(10),
    stopLossPct: pct.default(2),
    takeProfitPct: pct.default(4),
    sizing: z.enum(['fixed-fraction', 'volatility']).default('fixed-fraction'),
    /** Fraction of equity per position (fixed-fraction) or risked per position (volatility). */
    fraction: z.number().positive().max(1).default(0.02),
    maxSubmitPerSec: z.number().positive().default(5),
    /**
     * Caps on one order and on the position of the traded symbol (symbols.primary), in its base asset ('0.5' ETH).
     * Turned into whole lots of the order venue's lot size at start, rounded down. Absent: no quantity cap.
     */
    maxOrderQty: posDecimal('quantity').optional(),
    maxPositionQty: posDecimal('quantity').optional(),
    var: z
      .strictObject({
        confidence: z.number().gt(0.5).lt(1).default(0.99),
        /** Horizon of the VaR figures: one-minute equity returns scaled by sqrt(horizonMs / 60 s). */
        horizonMs: posInt.default(86_400_000),
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

/** Order execution: fees (rates as fractions, '0.001' = 0.1%), simulated latency, retries. */
export const executionSchema = z.strictObject({
  /** Where live orders go (market data stays Binance's; `venues.mexc.enabled` is the market-data fallback only). */
  venue: z.enum(['binance', 'mexc']).default('binance'),
  fees: z
    .strictObject({ maker: nonNegDecimal('fee rate').default('0.001'), taker: nonNegDecimal('fee rate').default('0.001') })
    .prefault({}),
  latencyMs: nonNegInt.default(50),
  retry: z
    .strictObject({
      maxAttempts: posInt.max(20).default(3),
      baseDelayMs: posInt.default(200),
      maxDelayMs: posInt.default(5_000),
    })
    .prefault({}),
  /** Starting balance of the paper venue, in the quote currency. */
  paper: z.strictObject({ initialQuote: posDecimal('balance').default('10000') }).prefault({}),
});

/** LMDB store location and inference-history retention. */
export const storeSchema = z.strictObject({
  path: z.string().min(1).default('var/store'),
  retention: z.strictObject({
    maxRecords: posInt.default(100_000),
    maxAgeDays: z.number().positive().default(30),
    /** Engine minutes between retention passes of a running daemon (paper and live). */
    everyMinutes: z.number().positive().default(10),
    /** Write the records retention removes to gzipped JSONL files in archiveDir first (~17 KB a record). */
    archive: z.boolean().default(true),
    /** Total size of the archive files; each retention pass deletes the oldest beyond it (~4 GB a day at one tick a second). */
    archiveMaxMB: z.number().positive().default(4_096),
  }).prefault({}),
  archiveDir: z.string().min(1).default('var/archive'),
});

/** Web dashboard; binds to loopback unless told otherwise. */
export const dashboardSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: z.string().min(1).default('127.0.0.1'),
  port: nonNegInt.max(65_535).default(8080),
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
  })
  .superRefine((c, ctx) => {
    const replays = c.data.replayFiles.length > 0;
    if ((c.mode === 'backtest' || c.mode === 'replay') && !replays) {
      ctx.addIssue({ code: 'custom', path: ['data', 'replayFiles'], message: `mode ${c.mode} needs at least one recording file` });
    }
    if (c.mode === 'live' && replays) {
      ctx.addIssue({ code: 'custom', path: ['data', 'replayFiles'], message: 'mode live trades on live market data: remove the recording files' });
    }
  });

/** The validated engine configuration. */
export type Config = z.output<typeof configSchema>;
/** What a config file may contain (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** Run mode. */
export type Mode = z.output<typeof modeSchema>;
