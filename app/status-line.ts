// One rewritten line on a TTY while the daemon runs: trading state, time, prices, position, PnL, orders.
import type { EngineMsg } from '../engine/messages/index.ts';
import type { Bus, Unsubscribe } from '../engine/runtime/bus.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import { ticksToFloat, type Instrument } from '../engine/types/instrument.ts';
import { lotsToFloat } from '../engine/types/instrument.ts';
import { moneyToFloat, type Money } from '../engine/types/money.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';
import type { RiskState } from '../actors/risk-manager/logic.ts';
import { unrealised } from '../actors/risk-manager/positions.ts';
import type { System } from './system.ts';

/** What the line shows, each part whole (the log's status record). */
export interface StatusFields {
  readonly time: string;
  readonly prices: string;
  readonly position: string;
  readonly pnl: string;
  readonly orders: string;
  readonly state: string;
}

type Part = Exclude<keyof StatusFields, 'state'>;

/** A part of the line in each form it may take, longest first (one form: it has no shorter one). */
export type PartForms = readonly [string, ...string[]];

/** The line's parts as built once: the trading state, and every other part in its forms. */
export type StatusParts = { readonly state: string } & { readonly [K in Part]: PartForms };

/** The figures the line is made of, gathered from the bus and the system. */
export interface StatusFigures {
  readonly nowMs: number;
  /** `<base> <last trade price>` of each data instrument ('-' before its first trade), the traded one first. */
  readonly prices: readonly string[];
  readonly position: string;
  /**
   * The RiskManager's books as the dashboard shows them, with what the figure is made of: realised + unrealised at its
   * last mark − fees, each position measured from its cost (`booksPnl`). Not equity − starting cash: a live start's
   * cash is the venue's quote balance at that start, and a position carried over from before is not in it. Undefined
   * while the RiskManager is not running.
   */
  readonly pnl: { readonly books: BooksPnl; readonly quote: string } | undefined;
  readonly orders: { readonly sent: number; readonly filled: number; readonly open: number; readonly denied: number };
  readonly state: string;
}

// The parts after the state, in the order shown, with the label each is shown under.
const PARTS: readonly (readonly [Part, string])[] = [['time', ''], ['prices', ''], ['position', 'pos '], ['pnl', 'pnl '], ['orders', 'orders ']];

const DROP = -1;

/**
 * How the line gives way on a narrow terminal, least needed first: each step shows one part in its form of that index
 * (its shortest when it has fewer forms) or drops it (DROP). The state is never in here: a halted engine must show on
 * any width.
 */
const SHORTER: readonly (readonly [Part, number])[] = [
  ['pnl', 1], ['time', 1], ['orders', 1], ['prices', 1], ['pnl', 2],
  ['orders', DROP], ['time', DROP], ['prices', DROP], ['pnl', DROP], ['position', DROP],
];

/** Returns the parts of the line for `f`, each in every form the line may show it in. */
export function statusParts(f: StatusFigures): StatusParts {
  const time = new Date(f.nowMs).toISOString().replace('T', ' ').slice(0, 19);
  const { sent, filled, open, denied } = f.orders;
  return {
    state: f.state,
    time: [time, time.slice(11)],
    // The traded instrument's price is the one kept.
    prices: f.prices.length > 1 ? [f.prices.join(' '), f.prices[0]!] : [f.prices.join(' ')],
    position: [f.position],
    pnl: f.pnl === undefined ? ['-'] : pnlForms(f.pnl.books, f.pnl.quote),
    orders: [`${sent} sent/${filled} filled/${open} open/${denied} denied`, `${sent}s/${filled}f/${open}o/${denied}d`],
  };
}

// Each part of `p` whole.
function wholeFields(p: StatusParts): StatusFields {
  return { time: p.time[0], prices: p.prices[0], position: p.position[0], pnl: p.pnl[0], orders: p.orders[0], state: p.state };
}

/**
 * Returns the line text for `p` within `width` characters: the trading state first, then the other parts, shortened
 * (SHORTER) and dropped whole rather than cut, so the state always shows; only a state longer than `width` is cut.
 */
export function formatStatus(p: StatusParts, width = 160): string {
  const shown: Record<Part, string> = { time: p.time[0], prices: p.prices[0], position: p.position[0], pnl: p.pnl[0], orders: p.orders[0] };
  const render = (): string => [p.state, ...PARTS.filter(([k]) => shown[k] !== '').map(([k, label]) => label + shown[k])].join(' | ');
  for (const [k, form] of SHORTER) {
    if (render().length <= width) break;
    shown[k] = form === DROP ? '' : p[k][Math.min(form, p[k].length - 1)]!;
  }
  const s = render();
  return s.length > width ? s.slice(0, Math.max(0, width - 1)) + '…' : s;
}

/**
 * Returns the status line's trading state: the word, and when not active why, shortened to what tells the cases apart
 * on a terminal (the full reason is in the alert, the log and the dashboard).
 */
export function formatState(risk: Pick<RiskState, 'tradingState' | 'stateReason' | 'killSwitch'> | undefined, halted: { readonly actor: string } | undefined): string {
  if (halted) return `HALTED ${halted.actor} failed`;
  if (!risk) return 'starting';
  if (risk.tradingState === 'active') return 'active';
  const why = risk.killSwitch && risk.tradingState === 'halted' ? 'kill switch' : shortReason(risk.stateReason);
  return `${risk.tradingState.toUpperCase()} ${why}`;
}

// The RiskManager's transition reasons (logic.ts), cut to their subject: 'drawdown 512 bps', 'VaR 99%', 'kill switch'.
function shortReason(reason: string): string {
  const m = /^(drawdown \d+ bps|VaR \d+%|kill switch)/.exec(reason);
  if (m) return m[1];
  // Any other reason (a restored state's, an operator's): its first clause, at most about three words.
  const head = reason.split(/[:(;,]/)[0].trim();
  return head.length <= 24 ? head : head.split(' ').slice(0, 3).join(' ');
}

/** The PnL of the RiskManager's positions in quote Money, as the dashboard's portfolio panel adds it up. */
export interface BooksPnl {
  readonly realised: Money;
  /** At the RiskManager's last mark of each position (0 before its first, as equity counts the holding at cost). */
  readonly unrealised: Money;
  readonly fees: Money;
  /** realised + unrealised − fees. */
  readonly total: Money;
}

/** Returns the PnL of the RiskManager's books over every position it has an instrument for (the dashboard's figure). */
export function booksPnl(s: Pick<RiskState, 'portfolio' | 'instruments' | 'marks'>): BooksPnl {
  let realised = 0n;
  let unreal = 0n;
  let fees = 0n;
  for (const [symbol, p] of Object.entries(s.portfolio.positions)) {
    const inst = s.instruments[symbol];
    if (!inst) continue;
    const mark = s.marks[symbol];
    realised += p.realised;
    if (mark !== undefined) unreal += unrealised(inst, p, mark);
    fees += p.fees;
  }
  return { realised: realised as Money, unrealised: unreal as Money, fees: fees as Money, total: (realised + unreal - fees) as Money };
}

// Two decimals of quote, without a '-0.00'.
function quote2(m: Money): string {
  const s = moneyToFloat(m).toFixed(2);
  return s === '-0.00' ? '0.00' : s;
}

// The PnL of `b` in `quote`: the total, what it is measured from and its parts; without the parts; the total alone.
function pnlForms(b: BooksPnl, quote: string): PartForms {
  const total = `${quote2(b.total)} ${quote}`;
  return [`${total} vs cost (realised ${quote2(b.realised)} + unrealised ${quote2(b.unrealised)} - fees ${quote2(b.fees)})`, `${total} vs cost`, total];
}

/** Keeps the figures of the status line up to date from the bus; `line()` renders them. */
export class StatusLine {
  private readonly last = new Map<string, Ticks>();
  private submitted = 0;
  private filled = 0;
  private denied = 0;
  private readonly insts: Map<string, Instrument>;
  private readonly subs: Unsubscribe[];

  constructor(private readonly sys: Pick<System, 'bus' | 'clock' | 'handles' | 'traded' | 'dataInstruments' | 'supervisor'>, bus: Bus<EngineMsg> = sys.bus) {
    this.insts = new Map(sys.dataInstruments.map((i) => [i.symbol, i]));
    this.subs = [
      bus.subscribe('md.trade', (m) => void this.last.set(m.symbol, m.price)),
      bus.subscribe('exec.orderSubmitted', () => void this.submitted++),
      bus.subscribe('exec.orderFilled', () => void this.filled++),
      bus.subscribe('risk.orderDenied', () => void this.denied++),
    ];
  }

  /** Stops counting from the bus (the daemon's stop); the figures stay as they were. */
  close(): void {
    for (const u of this.subs.splice(0)) u();
  }

  /** Returns the current figures. */
  figures(clock: Clock = this.sys.clock): StatusFigures {
    // The traded instrument's price first: on a narrow terminal it is the one kept.
    const insts = [...this.insts.values()].sort((a, b) => Number(b.symbol === this.sys.traded.symbol) - Number(a.symbol === this.sys.traded.symbol));
    const prices = insts.map((i) => {
      const p = this.last.get(i.symbol);
      return `${i.base} ${p === undefined ? '-' : ticksToFloat(i, p).toFixed(2)}`;
    });
    const risk = this.sys.handles.risk();
    const t = this.sys.traded;
    const pos = risk?.portfolio.positions[t.symbol];
    return {
      nowMs: clock.now(),
      prices,
      position: `${lotsToFloat(t, (pos?.lots ?? 0) as Lots)} ${t.base}`,
      pnl: risk ? { books: booksPnl(risk), quote: risk.portfolio.quote } : undefined,
      orders: { sent: this.submitted, filled: this.filled, open: this.sys.handles.executor()?.openOrders().length ?? 0, denied: this.denied },
      state: formatState(risk, this.sys.supervisor.halted),
    };
  }

  /** Returns each part of the line whole. */
  fields(clock: Clock = this.sys.clock): StatusFields {
    return wholeFields(statusParts(this.figures(clock)));
  }

  /** Returns the rendered line. */
  line(width?: number): string {
    return formatStatus(statusParts(this.figures()), width);
  }
}
