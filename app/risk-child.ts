// The RiskManager as a supervised child. The machine (actors/risk-manager) emits its verdicts as xstate emitted
// events; this callback actor runs it, forwards bus commands in and emitted events out, and keeps what must survive a
// restart. State at (re)start is rebuilt, not trusted from a snapshot: cash and positions come from the fills the
// executor committed (exec store, written before the fill was published), so a crash between a fill and a risk
// snapshot cannot lose it (a paper start continues the portfolio the last start computed and reads only the fills
// booked since: FillCheckpoint); the trading state, kill switch, equity peak (as stored: an operator may have reset it)
// and exit-id counter come from `risk.control` in LMDB, and so do limits an operator set at run time
// (`risk.setLimits`), stored with the config limits they were set over: each field the operator set is kept while its
// config value is unchanged (restoreLimits): an edited config value wins for its field, a live balance that moved or a
// schema default added by an upgrade does not. So do the VaR monitor's per-symbol marks
// (one per symbol per VaR interval, written once per interval), when the restart comes within VAR_RESUME_INTERVALS of
// the last one and the interval length is the same: without them VaR and its limits would be blind for the first
// varMinSamples intervals (30 minutes by default) after every restart. The intervals the process was down have no
// marks, so they add no returns (var.ts). A record of the equity-based VaR before it (`var`: equity samples) does not
// fit position-based VaR: a start ignores it and the monitor starts over.
// Standing flattens (a kill's "flatten until flat") are stored too, written when the kill switch, a resume or a
// flatten is forwarded and whenever they change: a kill -9 with a flatten exit in flight comes back still flattening.
// They are driven again once the executor reports its venue up (start-up reconciliation done); the exits of the last
// run are not stored, since risk's exits are IOC: none of them still works after the executor reconciled. A restart of
// this child alone, with the executor live, takes the exits it still works as in flight (`openExits`).
// An engine failure (risk.killSwitch from the engine) refuses resumes for the life of the bus (this process's system),
// a restart of this child included, and is never stored: restarting the process is its remedy.
import { createActor, fromCallback, type EventObject } from 'xstate';
import {
  isProtectiveStopId, type CancelRejected, type Fill, type OrderCancelled, type OrderExpired, type OrderRejected, type OrderSubmitted,
} from '../engine/messages/orders.ts';
import type { EngineMsg } from '../engine/messages/index.ts';
import type { IntentProposed, RiskLimits, TradingState } from '../engine/messages/risk.ts';
import { settingsKey } from '../engine/config/settings-key.ts';
import { limitFieldsAddedSince } from './risk-limits.ts';
import type { Bus, Unsubscribe } from '../engine/runtime/bus.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import type { LmdbStore, TypedDb } from '../engine/store/lmdb.ts';
import type { ClientOrderId } from '../engine/types/ids.ts';
import type { Money } from '../engine/types/money.ts';
import type { Lots } from '../engine/types/price.ts';
import {
  createRiskState, onFills, operatorLimits, riskManager, validateLimits, type FlattenCheck, type FlattenRequest, type RiskInput, type RiskState,
} from '../actors/risk-manager/index.ts';
import { HeldSteps, type HeldStepsApplied } from '../actors/risk-manager/held-steps.ts';
import { log } from '../engine/log.ts';
import { EMPTY_VAR, parseVarSamples, type VarSample } from '../actors/risk-manager/var.ts';
import { openOrderIndex, openOrderOf, submittedIndex, type StartOpenOrder } from '../actors/risk-manager/open-orders.ts';
import type { Portfolio } from '../actors/risk-manager/positions.ts';
import type { OrderRecord } from '../actors/trading-executor/logic.ts';
import type { TsMs } from '../engine/types/time.ts';
import type { Instrument } from '../engine/types/instrument.ts';

/** The RiskManager child's id. */
export const RISK_ID = 'risk';

/** What is persisted between runs. */
export interface RiskControl {
  readonly tradingState: TradingState;
  readonly stateReason: string;
  readonly killSwitch: boolean;
  readonly peakEquity: Money;
  /**
   * The starting point the peak was measured on, when the config sets it (paper: starting cash, equityBase); a start
   * from another one measures the peak afresh. Absent (live, where the venue's balance is the start): the peak applies.
   */
  readonly peakBase?: string;
  /** The exit-id counter (exitSeq), so that exit ids do not repeat after a restart even where the clock does. */
  readonly exitSeq?: number;
  /**
   * Limits set at run time (`set`), the config limits they were set over (`config`: the fields where the two differ are
   * the operator's) and the key of the config values those derive from (`limitsKey`); absent: the config's apply.
   * Records written before `config` was kept hold `base` and `set` only (restoreLimits reads them once).
   */
  readonly limits?: { readonly base: string; readonly set: RiskLimits; readonly config?: RiskLimits };
  /**
   * The VaR monitor's per-symbol marks, the interval of the last one and the interval length they were taken at.
   * Records written before position-based VaR hold `var` (equity samples) instead, which a start ignores.
   */
  readonly varMarks?: StoredVarMarks;
  /** Standing flatten requests per symbol; absent: none. */
  readonly flatten?: Readonly<Record<string, FlattenRequest>>;
}

/** The VaR marks as stored (RiskControl.varMarks). */
export interface StoredVarMarks {
  readonly intervalMs: number;
  readonly bucket: number;
  readonly samples: readonly VarSample[];
}

/** Restarts at most this many VaR intervals after the last sample keep the samples; later ones start over. */
export const VAR_RESUME_INTERVALS = 15;

/** Input of the child. */
export interface RiskChildInput {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  /** Limits, instruments and the cash/positions before any stored fill. */
  readonly initial: RiskInput;
  /** Fills to apply on top of `initial` at every start (the executor's committed fills), oldest first. */
  readonly fills: () => readonly Fill[];
  /**
   * The executor's fill booking log, when `fills` is every fill ever booked (paper): a start then continues the
   * portfolio checkpoint it stored last time and reads only the fills booked since (see FillCheckpoint).
   */
  readonly fillLog?: FillLog;
  readonly store?: LmdbStore;
  /** Called with the running machine's current state getter (dashboards, status line); undefined when stopped. */
  readonly onState?: (get: (() => RiskState) | undefined) => void;
  /**
   * The key of the config values `initial.limits` derive from (risk-limits.ts riskLimitsKey): limits set at run time
   * are kept while it stays the same. Default: the limits themselves, right only where they derive from the config
   * alone (not a live account's balance at start, which moves with every trade).
   */
  readonly limitsKey?: string;
  /**
   * The RiskManager's own exits (intent ids RISK_EXIT_PREFIX) the executor still works, when it is live: a restart of
   * this child alone (the supervisor's, after a failure) finds them in flight, and must not send a second exit beside
   * one. Empty at a process start (the executor is still reconciling; the last run's IOC exits end there).
   */
  readonly openExits?: () => readonly { readonly symbol: string; readonly clientOrderId: ClientOrderId }[];
  /**
   * The orders the executor still works, by client order id (openOrdersAtStart): a start takes them over as open
   * orders (RiskInput.openOrders), which are not stored. Without them an order resting at the venue across a restart
   * (of the process or of this child) would count toward the limits only as it fills.
   */
  readonly openOrders?: () => Readonly<Record<string, StartOpenOrder>>;
}

/**
 * Returns the executor's unfinished orders as a RiskManager start takes them over: what is left of each, by client
 * order id. The executor's protective stops are left out: they are no approvals, and the executor cancels one before
 * any other sell is sent, so counting its lots as sold would hold back every exit and strategy sell.
 */
export function openOrdersAtStart(orders: readonly OrderRecord[]): Record<string, StartOpenOrder> {
  const out: Record<string, StartOpenOrder> = {};
  for (const o of orders) {
    const lots = (o.intent.lots - o.filledLots) as Lots;
    if (isProtectiveStopId(o.clientOrderId) || lots <= 0) continue;
    const { symbol, side, price } = o.intent;
    out[o.clientOrderId] = { symbol, side, lots, ...(price === undefined ? {} : { price }) };
  }
  return out;
}

const CONTROL_KEY = 'control';
const CHECKPOINT_KEY = 'fills';

/** Engine failures per bus (one per system, so per process): a restarted child still refuses resumes after one. */
const engineFailures = new WeakMap<Bus<EngineMsg>, string>();

/** Alerts the log gets too: a flatten that does not complete, or a refused resume, must not live on the page only. */
const LOGGED_ALERTS: Readonly<Record<string, 'error' | 'warn' | 'info'>> = {
  FLATTEN_INCOMPLETE: 'error', RESUME_REFUSED: 'warn', FLATTEN_ENDED: 'warn', FLATTENED: 'info',
};

/** The exec store's fill booking numbers, for one venue and symbol. */
export interface FillLog {
  /** Names the venue and symbol: a checkpoint of another log is not continued. */
  readonly id: string;
  /** The booking number of the newest fill booked (0 when none has one). */
  readonly lastSeq: () => number;
  /** The fills booked after booking number `seq`, in the order a start applies them. */
  readonly after: (seq: number) => readonly Fill[];
}

/**
 * The portfolio a start computed from `initial` and every fill booked up to `seq` (paper: cash and positions are the
 * starting balance plus every fill, and a demo or a long paper run books ~100,000 fills in five months). The next start
 * applies only the fills booked after `seq` to it. `base` is the start point it was computed from (cash, instruments,
 * positions, log): a changed starting balance or instrument means a different account, computed from every fill again.
 * Either way the fills are applied in booking order (storedFills), so both give the same portfolio.
 */
export interface FillCheckpoint {
  readonly base: string;
  readonly seq: number;
  readonly portfolio: Portfolio;
  readonly recentFills: readonly string[];
}

/**
 * Version of the rule a checkpoint's portfolio was computed by (applyFill), part of its key: a checkpoint of an older
 * rule is not continued (a full replay follows). 2: a sell leaves at most the whole lots held (no lots left over by
 * base-asset buy fees).
 */
const FILL_RULE_VERSION = 2;

/** The checkpoint key of a start from `initial` on `log`. */
function checkpointBase(initial: RiskInput, log: FillLog): string {
  return settingsKey({ rule: FILL_RULE_VERSION, log: log.id, cash: initial.cash, instruments: initial.instruments, positions: initial.positions ?? null });
}

/**
 * The fills a start applies, and what they go on top of: the stored checkpoint's portfolio when it was computed from
 * the same start point, else `initial` (every fill). `seq` is read before the fills, so a fill booked in between is at
 * worst read twice (and applied once: recentFills), never skipped by the next start.
 */
function startFills(input: RiskChildInput, cp: FillCheckpoint | undefined): { fills: readonly Fill[]; from?: FillCheckpoint; seq?: number; base?: string } {
  const fl = input.fillLog;
  if (!fl) return { fills: input.fills() };
  const base = checkpointBase(input.initial, fl);
  const seq = fl.lastSeq();
  if (cp !== undefined && cp.base === base && cp.seq <= seq) return { fills: fl.after(cp.seq), from: cp, seq, base };
  return { fills: input.fills(), seq, base };
}

/**
 * The key of the starting equity a paper start is measured from (its starting balance and positions, fixed by the
 * config), or undefined for a live start: there the venue's balance is the start, and it moves with every trade.
 */
export function equityBase(initial: RiskInput, log: FillLog | undefined): string | undefined {
  return log === undefined ? undefined : settingsKey({ cash: initial.cash, positions: initial.positions ?? null });
}

/** What a start makes of the stored run-time limits (restoreLimits). */
export interface RestoredLimits {
  /** The limits to start with; undefined: the config's (nothing stored, nothing of it kept, or dropped). */
  readonly limits?: RiskLimits;
  /** Fields the operator had set whose config value changed since: the config's value applies to each. */
  readonly configWon: readonly string[];
  /** Why the stored limits were dropped whole, if they were. */
  readonly dropped?: string;
  /** The record was of the format without `config`: the next save writes the current one. */
  readonly migrated: boolean;
}

/**
 * Returns the limits a start takes from `control` over `initial.limits` (the config's, derived from the config values
 * `limitsKey`, default the limits themselves): each field the operator set is kept while its config value is the one
 * it was set over, or while `limitsKey` is (only a live balance moved, and the VaR caps with it); a field whose config
 * value changed takes the config's (`configWon`), and every field the operator did not set comes from the config, new
 * fields included. So an upgrade that adds a schema default (a new key in `limitsKey`) keeps the operator's limits.
 */
export function restoreLimits(initial: Pick<RiskInput, 'limits'>, control: RiskControl | undefined, limitsKey = settingsKey(initial.limits)): RestoredLimits {
  const l = control?.limits;
  if (l === undefined) return { configWon: [], migrated: false };
  const record = l.config !== undefined ? { ...l, config: l.config } : legacyRecord(initial.limits, l, limitsKey);
  if ('dropped' in record) return { configWon: [], dropped: record.dropped, migrated: true };
  const config = flatLimits(record.config);
  const set = flatLimits(record.set);
  const now = flatLimits(initial.limits);
  const out = { ...now };
  const configWon: string[] = [];
  let kept = 0;
  for (const k of new Set([...Object.keys(config), ...Object.keys(set)])) {
    if (config[k] === set[k]) continue;
    if (now[k] !== config[k] && record.base !== limitsKey) {
      configWon.push(k);
      continue;
    }
    kept++;
    if (set[k] === undefined) delete out[k];
    else out[k] = set[k];
  }
  const migrated = l.config === undefined;
  if (kept === 0) return { configWon, migrated };
  const limits = unflatLimits(out);
  const bad = validateLimits(limits);
  if (bad.length > 0) return { configWon, dropped: `the limits they give no longer validate: ${bad.join('; ')}`, migrated };
  return { limits, configWon, migrated };
}

/**
 * The stored run-time limits a start applies over `initial` (restoreLimits), or undefined when the config's apply.
 */
export function storedLimits(initial: Pick<RiskInput, 'limits'>, control: RiskControl | undefined, limitsKey = settingsKey(initial.limits)): RiskLimits | undefined {
  return restoreLimits(initial, control, limitsKey).limits;
}

// Fields the dashboard can switch off (null): absent from a record of the old format, such a field may be the
// operator's choice; any other absent field is one that record's version did not fill, so it comes from the config.
const SWITCHABLE_OFF = new Set(['reduceAtDrawdownBps', 'stopLossBps', 'takeProfitBps', 'warnVar95', 'maxVar95', 'warnVar99', 'maxVar99', 'maxMoveBps', 'markStaleMs', 'maxSpreadBps']);

/**
 * Reads a record of the old format (`base` and `set`, no `config`) as one of the current format, or says why it is
 * dropped. Its config limits are taken to be today's when `base` is today's key (or today's limits, as records older
 * still were keyed), or when it differs only by config keys added since (a newer version's schema defaults): the limit
 * fields those feed, and fields the old version left out that the dashboard cannot switch off, come from the config.
 */
function legacyRecord(now: RiskLimits, l: { readonly base: string; readonly set: RiskLimits }, limitsKey: string): { base: string; config: RiskLimits; set: RiskLimits } | { dropped: string } {
  const added = l.base === limitsKey || l.base === settingsKey(now) ? [] : limitFieldsAddedSince(l.base, limitsKey);
  if (added === undefined) return { dropped: 'they were stored (in the format before this version) over other config values' };
  const filled: Record<string, unknown> = { ...l.set };
  for (const [k, v] of Object.entries(now)) {
    if (filled[k] === undefined && v !== undefined && (added.includes(k) || !SWITCHABLE_OFF.has(k))) filled[k] = v;
  }
  return { base: limitsKey, config: now, set: filled as unknown as RiskLimits };
}

// RiskLimits as one level of fields, the lot caps as `symbols.<symbol>.<cap>`; absent fields are left out.
function flatLimits(l: RiskLimits): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(l)) if (k !== 'symbols' && v !== undefined) out[k] = v;
  for (const [sym, caps] of Object.entries(l.symbols ?? {})) {
    for (const [k, v] of Object.entries(caps)) if (v !== undefined) out[`symbols.${sym}.${k}`] = v;
  }
  return out;
}

// The inverse of flatLimits (a symbol left without caps is dropped).
function unflatLimits(flat: Record<string, unknown>): RiskLimits {
  const out: Record<string, unknown> = {};
  const symbols: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(flat)) {
    const m = /^symbols\.(.+)\.([^.]+)$/.exec(k);
    if (m) (symbols[m[1]!] ??= {})[m[2]!] = v;
    else out[k] = v;
  }
  return { ...out, symbols } as unknown as RiskLimits;
}

/**
 * Returns the limits a risk child on `store` starts with when the config gives `limits` (derived from the config values
 * `limitsKey`, as RiskChildInput has them): the run-time limits stored over the same config values, else `limits`;
 * `restored` says which. Read before the child starts (the limits printed before the first order).
 */
export function startLimits(store: LmdbStore | undefined, limits: RiskLimits, limitsKey?: string): { limits: RiskLimits; restored: boolean } {
  const set = storedLimits({ limits }, store?.db<string, RiskControl>('risk.control').get(CONTROL_KEY), limitsKey);
  return set === undefined ? { limits, restored: false } : { limits: set, restored: true };
}

/**
 * Returns each operator-settable limit (operatorLimits, lot caps per symbol) where `restored` differs from `config`, as
 * `{ config, restored }` (null where one has none).
 */
export function limitsChanges(config: RiskLimits, restored: RiskLimits, instruments?: Readonly<Record<string, Instrument>>): Record<string, { config: unknown; restored: unknown }> {
  const flat = (l: RiskLimits): Record<string, unknown> => {
    const { symbols, ...rest } = operatorLimits(l, instruments);
    const out: Record<string, unknown> = { ...rest };
    for (const [sym, caps] of Object.entries(symbols ?? {})) for (const [k, v] of Object.entries(caps)) out[`symbols.${sym}.${k}`] = v;
    return out;
  };
  const a = flat(config);
  const b = flat(restored);
  const out: Record<string, { config: unknown; restored: unknown }> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (a[k] !== b[k]) out[k] = { config: a[k] ?? null, restored: b[k] ?? null };
  }
  return out;
}

/**
 * Returns the start state at `nowMs`: `initial` plus the stored fills, with the stored trading state, kill switch,
 * peak (as stored, unless measured on another starting point than `peakBase`), run-time limits, exit-id counter,
 * standing flattens (of known instruments, their backoff and alert times dropped: a start is a new attempt) and (when
 * recent) the VaR marks.
 */
export function riskStartState(
  initial: RiskInput, fills: readonly Fill[], control: RiskControl | undefined, nowMs: TsMs,
  from?: Pick<FillCheckpoint, 'portfolio' | 'recentFills'>, peakBase?: string, limitsKey?: string,
): RiskState {
  const limits = storedLimits(initial, control, limitsKey);
  let s = createRiskState(limits === undefined ? initial : { ...initial, limits });
  if (from) s = { ...s, portfolio: from.portfolio, recentFills: from.recentFills };
  s = onFills(s, fills);
  if (!control) return s;
  const v = restoredVarSamples(control, s, nowMs);
  // The stored peak as it is: an operator's resume with resetPeak may have lowered it below the starting equity, and
  // a start must not undo that. Only a changed starting point (paper: another starting balance) measures it afresh.
  const samePeakBase = control.peakBase === undefined || control.peakBase === peakBase;
  const flatten: Record<string, FlattenRequest> = {};
  for (const [sym, req] of Object.entries(control.flatten ?? {})) {
    if (s.instruments[sym] === undefined) continue;
    // The alert times and the exit time belong to the last run, whose exits are not stored, and so do the lots its
    // open sells held (open orders are not stored: this run asks their cancels afresh).
    const { alertedAt: _alerted, exitSince: _sent, lateAlertedAt: _late, held: _held, ...rest } = req;
    flatten[sym] = { ...rest, retryAt: 0 as TsMs };
  }
  return {
    ...s, tradingState: control.tradingState, stateReason: control.stateReason, killSwitch: control.killSwitch,
    peakEquity: samePeakBase ? control.peakEquity : s.peakEquity,
    exitSeq: control.exitSeq ?? 0, flatten,
    ...(v ? { var: { ...EMPTY_VAR, bucket: v[v.length - 1].bucket, samples: v } } : {}),
  };
}

/**
 * Returns the stored VaR samples a start at `nowMs` continues: taken at the same interval length, the last one at most
 * VAR_RESUME_INTERVALS before now and not after it (a replay started over on the same store), each within the window;
 * undefined when there are none to continue (none stored, too old, another layout: the monitor starts over).
 */
function restoredVarSamples(control: RiskControl, s: RiskState, nowMs: TsMs): VarSample[] | undefined {
  const v = control.varMarks;
  if (v === undefined || v.intervalMs !== s.limits.varIntervalMs) return undefined;
  const gap = Math.floor(nowMs / s.limits.varIntervalMs) - v.bucket;
  if (!(gap >= 0 && gap <= VAR_RESUME_INTERVALS)) return undefined;
  const samples = parseVarSamples(v.samples, new Set(Object.keys(s.instruments)))?.filter((x) => x.bucket >= v.bucket - s.limits.varWindow);
  return samples !== undefined && samples.length > 0 && samples[samples.length - 1].bucket === v.bucket ? samples : undefined;
}

// Marks the exits the executor still works as in flight (their fills and ends come back as for any exit); a standing
// flatten's late-exit alert counts from now.
function withOpenExits(s: RiskState, exits: readonly { readonly symbol: string; readonly clientOrderId: ClientOrderId }[], nowMs: TsMs): RiskState {
  const mine = exits.filter((e) => s.instruments[e.symbol] !== undefined);
  if (mine.length === 0) return s;
  const exitOrders = { ...s.exitOrders };
  const flatten = { ...s.flatten };
  for (const e of mine) {
    exitOrders[e.symbol] = e.clientOrderId;
    if (flatten[e.symbol]) flatten[e.symbol] = { ...flatten[e.symbol]!, exitSince: nowMs };
  }
  return { ...s, exitOrders, flatten };
}

// Says what a start did with the stored run-time limits: dropped whole, fields whose config value changed (the config's
// apply), and what differs from the config when some are kept.
function logRestoredLimits(r: RestoredLimits, initial: RiskInput, limits: RiskLimits): void {
  if (r.dropped !== undefined) {
    log().warn({ code: 'RISK_LIMITS_RESET' }, `limits set at run time are dropped: ${r.dropped}; the config limits apply`);
  }
  if (r.configWon.length > 0) {
    log().warn({ code: 'RISK_LIMITS_RESET', fields: r.configWon },
      `limits set at run time over config values that changed since give way to the config's: ${r.configWon.join(', ')}`);
  }
  if (limits !== initial.limits) {
    const instruments = Object.fromEntries(initial.instruments.map((i) => [i.symbol, i]));
    log().info({ code: 'RISK_LIMITS_RESTORED', changed: limitsChanges(initial.limits, limits, instruments), ...(r.migrated ? { migrated: true } : {}) },
      `limits set at run time are restored from the store (the config values they were set over are unchanged); they apply instead of the config's${r.migrated ? ' (read from a record of the format before this version, rewritten now)' : ''}`);
  }
}

/** xstate callback logic running the RiskManager machine; see the header. */
export const riskChild = fromCallback<EventObject, RiskChildInput>(({ input, sendBack }) => {
  const { bus, clock } = input;
  const db: TypedDb<string, RiskControl> | undefined = input.store?.db<string, RiskControl>('risk.control');
  const control = db?.get(CONTROL_KEY);
  const cpDb = input.store?.db<string, FillCheckpoint>('risk.control');
  const sf = startFills(input, cpDb?.get(CHECKPOINT_KEY));
  const peakBase = equityBase(input.initial, input.fillLog);
  const openOrders = input.openOrders?.();
  const initial = openOrders === undefined ? input.initial : { ...input.initial, openOrders };
  const stored = riskStartState(initial, sf.fills, control, clock.now(), sf.from, peakBase, input.limitsKey);
  const failure = engineFailures.get(bus);
  const withFailure = failure === undefined ? stored : { ...stored, engineFailure: failure };
  const start = withOpenExits(withFailure, input.openExits?.() ?? [], clock.now());
  if (cpDb && sf.seq !== undefined && sf.base !== undefined && (sf.from === undefined || sf.seq !== sf.from.seq)) {
    const cp: FillCheckpoint = { base: sf.base, seq: sf.seq, portfolio: start.portfolio, recentFills: start.recentFills };
    void cpDb.put(CHECKPOINT_KEY, cp).catch((err: unknown) => log().warn({ err }, 'risk fill checkpoint write failed (the next start applies more fills)'));
  }
  const restored = restoreLimits(input.initial, control, input.limitsKey);
  logRestoredLimits(restored, input.initial, start.limits);
  // Written back at once (as the orchestrator's thresholds are), not at the next fill or state change: a restart before
  // that would warn again, going back to the old config would bring dropped limits back, and an old record is read once.
  const rewrite = restored.dropped !== undefined || restored.configWon.length > 0 || restored.migrated;
  const base = input.limitsKey ?? settingsKey(input.initial.limits);
  const actor = createActor(riskManager, { input: { restore: start }, clock });
  let lastSaved: RiskControl | undefined = control;
  const save = (): void => {
    if (!db || input.store?.isClosed) return;
    const c = actor.getSnapshot().context;
    const limits = c.limits === input.initial.limits ? undefined : c.limits;
    const next: RiskControl = {
      tradingState: c.tradingState, stateReason: c.stateReason, killSwitch: c.killSwitch, peakEquity: c.peakEquity,
      ...(peakBase === undefined ? {} : { peakBase }), exitSeq: c.exitSeq,
      ...(limits === undefined ? {} : { limits: { base, config: input.initial.limits, set: limits } }),
      // Absent before the first sample: a start that did not continue the stored samples (too old) drops them.
      ...(c.var.bucket >= 0 ? { varMarks: { intervalMs: c.limits.varIntervalMs, bucket: c.var.bucket, samples: c.var.samples } } : {}),
      ...(Object.keys(c.flatten).length > 0 ? { flatten: c.flatten } : {}),
    };
    if (lastSaved && lastSaved.tradingState === next.tradingState && lastSaved.killSwitch === next.killSwitch && lastSaved.peakEquity === next.peakEquity
      && lastSaved.peakBase === next.peakBase && lastSaved.exitSeq === next.exitSeq && lastSaved.stateReason === next.stateReason && lastSaved.limits?.set === next.limits?.set && lastSaved.limits?.base === next.limits?.base && lastSaved.limits?.config === next.limits?.config && lastSaved.varMarks?.bucket === next.varMarks?.bucket
      && lastSaved.flatten === next.flatten) return;
    lastSaved = next;
    try {
      void db.put(CONTROL_KEY, next).catch((err: unknown) => log().warn({ err }, 'risk state write failed'));
    } catch {
      // store closed during shutdown
    }
  };
  const subs: Unsubscribe[] = [];
  actor.subscribe({ error: (error) => sendBack({ type: 'sup.fail', id: RISK_ID, error }) });
  // exec.cancelOrder: a stop or flatten freeing the lots of open strategy sells for its exit (logic.ts freeHeldLots).
  for (const t of ['risk.orderApproved', 'risk.orderDenied', 'risk.stateChanged', 'risk.alert', 'risk.limitsChanged', 'exec.cancelOrder'] as const) {
    actor.on(t, (ev) => bus.publish(ev as EngineMsg));
  }
  actor.on('risk.alert', (a) => {
    const level = LOGGED_ALERTS[a.code];
    if (level !== undefined) log()[level]({ code: a.code }, a.message);
  });
  actor.start();
  if (rewrite) save();
  // Marks that emit nothing and move no state, and intents, are applied to a shadow here (see held-steps.ts); anything
  // the machine handles or anyone reads first sees them applied.
  const held = new HeldSteps();
  const sendHeld = (e: HeldStepsApplied): void => actor.send(e);
  const flush = (): void => void held.drain(sendHeld);
  const state = (): RiskState => {
    flush();
    return actor.getSnapshot().context;
  };
  // Held steps and the event after them go to the machine as one event (one xstate step).
  const forward = (m: EngineMsg | FlattenCheck): void => {
    if (!held.drain(sendHeld, m as HeldStepsApplied['then'])) actor.send(m as never);
  };
  // An intent's verdict is decided on the shadow and published here, as the machine would emit it (same clock); while
  // a flatten stands the machine decides it (held-steps.ts).
  const decide = (m: IntentProposed): void => {
    const out = held.holdIntent(actor.getSnapshot().context, m, clock.now());
    if (out === undefined) forward(m);
    else for (const o of out) bus.publish(o);
  };
  // The state with the held intents: an order approved on the shadow is open there before the machine has it.
  const current = (): RiskState => held.state ?? actor.getSnapshot().context;
  const forwardExitEnd = (m: OrderRejected | OrderCancelled | OrderExpired): void => {
    const s = current();
    const exit = Object.values(s.exitOrders).includes(m.clientOrderId);
    if (!exit && openOrderIndex(s.openOrders, m.clientOrderId) < 0) return;
    forward(m);
    if (exit) save();
  };
  // Operator commands change what a restart must come back with (kill switch, flattens, the state): saved at once,
  // not at the next fill or mark (a stalled feed sends none).
  const forwardAndSave = (m: EngineMsg): void => {
    if (m.type === 'risk.killSwitch' && m.on && m.source === 'engine') engineFailures.set(bus, m.reason ?? 'engine failure');
    forward(m);
    save();
  };
  let lastPeakSave = -Infinity;
  subs.push(
    bus.subscribe('risk.intent', decide, RISK_ID),
    bus.subscribe('exec.orderFilled', (m) => {
      forward(m);
      save();
    }, RISK_ID),
    bus.subscribe('exec.orderPartiallyFilled', (m) => {
      forward(m);
      save();
    }, RISK_ID),
    // The end of one of risk's own exits may arm the position's exits again, and the end of an order it approved
    // releases what that order held (logic.ts openOrders); ends of orders it does not know are not its business.
    bus.subscribe('exec.orderRejected', forwardExitEnd, RISK_ID),
    bus.subscribe('exec.orderCancelled', forwardExitEnd, RISK_ID),
    // A cancel risk asked that did not happen (logic.ts onCancelRejected); a halt round's or a protective stop's cancels
    // of orders it never asked about are not its business.
    bus.subscribe('exec.cancelRejected', (m: CancelRejected) => {
      if (openOrderOf(current().openOrders, m.clientOrderId)?.cancelAsked !== undefined) forward(m);
    }, RISK_ID),
    bus.subscribe('exec.orderExpired', forwardExitEnd, RISK_ID),
    // An approved order the executor took up counts as open until it ends, however long it rests.
    bus.subscribe('exec.orderSubmitted', (m: OrderSubmitted) => {
      const orders = current().openOrders;
      const i = submittedIndex(orders, m.clientOrderId, m.intentId);
      const o = i < 0 ? undefined : orders[i];
      if (o !== undefined && !o.seen && !held.holdSeen(actor.getSnapshot().context, m)) forward(m);
    }, RISK_ID),
    bus.subscribe('risk.mark', (m) => {
      if (!held.hold(actor.getSnapshot().context, m)) forward(m);
      // The peak moves with marks; writing it at most once a second (mark time) keeps LMDB off the tick path. Held
      // steps go to the machine for it only when they moved the peak (a flat portfolio's marks never do).
      if (m.ts - lastPeakSave >= 1_000) {
        lastPeakSave = m.ts;
        const s = held.state;
        if (db && s !== undefined && (lastSaved === undefined || s.peakEquity !== lastSaved.peakEquity || s.var.bucket !== lastSaved.varMarks?.bucket)) flush();
        save();
      }
    }, RISK_ID),
    bus.subscribe('risk.killSwitch', forwardAndSave, RISK_ID),
    bus.subscribe('risk.resume', forwardAndSave, RISK_ID),
    bus.subscribe('risk.setLimits', forward, RISK_ID),
    bus.subscribe('risk.flatten', forwardAndSave, RISK_ID),
    // The executor takes orders once its venue is up (after the start-up reconciliation, or when it answers again).
    bus.subscribe('exec.venueStatus', (m) => {
      if (m.status !== 'up' || Object.keys(actor.getSnapshot().context.flatten).length === 0) return;
      forward({ type: 'risk.flattenCheck', venueUp: true, ts: clock.now() });
      save();
    }, RISK_ID),
    bus.subscribe('risk.stateChanged', () => save(), RISK_ID),
    bus.subscribe('risk.limitsChanged', (m) => {
      log().info({ code: 'RISK_LIMITS_SET', ...operatorLimits(m.limits) }, 'risk limits set');
      save();
    }, RISK_ID),
  );
  input.onState?.(state);
  return () => {
    for (const u of subs) u();
    flush();
    save();
    actor.stop();
    input.onState?.(undefined);
  };
});
