// One rewritten line on a TTY while the daemon runs: trading state, time, prices, position, PnL, orders.
import type { EngineMsg } from '../engine/messages/index.ts';
import type { Bus } from '../engine/runtime/bus.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import { ticksToFloat, type Instrument } from '../engine/types/instrument.ts';
import { lotsToFloat } from '../engine/types/instrument.ts';
import { moneyToFloat, type Money } from '../engine/types/money.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';
import type { RiskState } from '../actors/risk-manager/logic.ts';
import { unrealised } from '../actors/risk-manager/positions.ts';
import type { System } from './system.ts';

/** What the line shows, gathered from the bus and the system. */
export interface StatusFields {
  readonly time: string;
  readonly prices: string;
  readonly position: string;
  /**
   * The RiskManager's books as the dashboard shows them, with what the figure is made of: realised + unrealised at its
   * last mark − fees, each position measured from its cost (`booksPnl`). Not equity − starting cash: a live start's
   * cash is the venue's quote balance at that start, and a position carried over from before is not in it.
   */
  readonly pnl: string;
  readonly orders: string;
  readonly state: string;
}

type Part = Exclude<keyof StatusFields, 'state'>;

// The parts after the state, in the order shown, with the label each is shown under.
const PARTS: readonly (readonly [Part, string])[] = [['time', ''], ['prices', ''], ['position', 'pos '], ['pnl', 'pnl '], ['orders', 'orders ']];

/**
 * How the line gives way on a narrow terminal, least needed first: each step replaces one part with a shorter form of
 * it ('' drops it). The state is never in here: a halted engine must show on any width.
 */
const SHORTER: readonly (readonly [Part, (s: string) => string])[] = [
  ['pnl', (s) => s.replace(/ \(.*\)$/, '')],
  ['time', (s) => s.replace(/^\d{4}-\d{2}-\d{2} /, '')],
  ['orders', (s) => s.replace(/^(\d+) sent\/(\d+) filled\/(\d+) open\/(\d+) denied$/, '$1s/$2f/$3o/$4d')],
  ['prices', (s) => s.split(' ').slice(0, 2).join(' ')],
  ['pnl', (s) => s.replace(/ vs cost$/, '')],
  ['orders', () => ''],
  ['time', () => ''],
  ['prices', () => ''],
  ['pnl', () => ''],
  ['position', () => ''],
];

/**
 * Returns the line text for `f` within `width` characters: the trading state first, then the other parts, shortened
 * (SHORTER) and dropped whole rather than cut, so the state always shows; only a state longer than `width` is cut.
 */
export function formatStatus(f: StatusFields, width = 160): string {
  const shown: Record<Part, string> = { time: f.time, prices: f.prices, position: f.position, pnl: f.pnl, orders: f.orders };
  const render = (): string => [f.state, ...PARTS.filter(([k]) => shown[k] !== '').map(([k, label]) => label + shown[k])].join(' | ');
  for (const [k, shorten] of SHORTER) {
    if (render().length <= width) break;
    shown[k] = shorten(shown[k]);
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

/** Returns the status line's PnL text of `b` in `quote`: the total, what it is measured from, and its parts. */
export function formatBooksPnl(b: BooksPnl, quote: string): string {
  return `${quote2(b.total)} ${quote} vs cost (realised ${quote2(b.realised)} + unrealised ${quote2(b.unrealised)} - fees ${quote2(b.fees)})`;
}

/** Keeps the figures of the status line up to date from the bus; `line()` renders them. */
export class StatusLine {
  private readonly last = new Map<string, Ticks>();
  private submitted = 0;
  private filled = 0;
  private denied = 0;
  private readonly insts: Map<string, Instrument>;

  constructor(private readonly sys: Pick<System, 'bus' | 'clock' | 'handles' | 'traded' | 'dataInstruments' | 'supervisor'>, bus: Bus<EngineMsg> = sys.bus) {
    this.insts = new Map(sys.dataInstruments.map((i) => [i.symbol, i]));
    bus.subscribe('md.trade', (m) => void this.last.set(m.symbol, m.price));
    bus.subscribe('exec.orderSubmitted', () => void this.submitted++);
    bus.subscribe('exec.orderFilled', () => void this.filled++);
    bus.subscribe('risk.orderDenied', () => void this.denied++);
  }

  /** Returns the current figures. */
  fields(clock: Clock = this.sys.clock): StatusFields {
    // The traded instrument's price first: on a narrow terminal it is the one kept.
    const insts = [...this.insts.values()].sort((a, b) => Number(b.symbol === this.sys.traded.symbol) - Number(a.symbol === this.sys.traded.symbol));
    const prices = insts.map((i) => {
      const p = this.last.get(i.symbol);
      return `${i.base} ${p === undefined ? '-' : ticksToFloat(i, p).toFixed(2)}`;
    }).join(' ');
    const risk = this.sys.handles.risk();
    const t = this.sys.traded;
    const pos = risk?.portfolio.positions[t.symbol];
    const pnl = risk ? formatBooksPnl(booksPnl(risk), risk.portfolio.quote) : '-';
    const open = this.sys.handles.executor()?.openOrders().length ?? 0;
    const halted = this.sys.supervisor.halted;
    return {
      time: new Date(clock.now()).toISOString().replace('T', ' ').slice(0, 19),
      prices,
      position: `${lotsToFloat(t, (pos?.lots ?? 0) as Lots)} ${t.base}`,
      pnl,
      orders: `${this.submitted} sent/${this.filled} filled/${open} open/${this.denied} denied`,
      state: formatState(risk, halted),
    };
  }

  /** Returns the rendered line. */
  line(width?: number): string {
    return formatStatus(this.fields(), width);
  }
}
