// One rewritten line on a TTY while the daemon runs: time, prices, position, PnL, orders, trading state.
import type { EngineMsg } from '../engine/messages/index.ts';
import type { Bus } from '../engine/runtime/bus.ts';
import type { Clock } from '../engine/runtime/clock.ts';
import { ticksToFloat, type Instrument } from '../engine/types/instrument.ts';
import { lotsToFloat } from '../engine/types/instrument.ts';
import { moneyToFloat, type Money } from '../engine/types/money.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';
import { equity } from '../actors/risk-manager/positions.ts';
import type { System } from './system.ts';

/** What the line shows, gathered from the bus and the system. */
export interface StatusFields {
  readonly time: string;
  readonly prices: string;
  readonly position: string;
  readonly pnl: string;
  readonly orders: string;
  readonly state: string;
}

/** Returns the line text for `f`, cut to `width` characters. */
export function formatStatus(f: StatusFields, width = 160): string {
  const s = `${f.time} | ${f.prices} | pos ${f.position} | pnl ${f.pnl} | orders ${f.orders} | ${f.state}`;
  return s.length > width ? s.slice(0, width - 1) + '…' : s;
}

/** Keeps the figures of the status line up to date from the bus; `line()` renders them. */
export class StatusLine {
  private readonly last = new Map<string, Ticks>();
  private submitted = 0;
  private filled = 0;
  private denied = 0;
  private readonly insts: Map<string, Instrument>;

  constructor(private readonly sys: Pick<System, 'bus' | 'clock' | 'handles' | 'traded' | 'initialCash' | 'dataInstruments' | 'supervisor'>, bus: Bus<EngineMsg> = sys.bus) {
    this.insts = new Map(sys.dataInstruments.map((i) => [i.symbol, i]));
    bus.subscribe('md.trade', (m) => void this.last.set(m.symbol, m.price));
    bus.subscribe('exec.orderSubmitted', () => void this.submitted++);
    bus.subscribe('exec.orderFilled', () => void this.filled++);
    bus.subscribe('risk.orderDenied', () => void this.denied++);
  }

  /** Returns the current figures. */
  fields(clock: Clock = this.sys.clock): StatusFields {
    const prices = [...this.insts.values()].map((i) => {
      const p = this.last.get(i.symbol);
      return `${i.base} ${p === undefined ? '-' : ticksToFloat(i, p).toFixed(2)}`;
    }).join(' ');
    const risk = this.sys.handles.risk();
    const t = this.sys.traded;
    const pos = risk?.portfolio.positions[t.symbol];
    const mark = this.last.get(t.symbol);
    const eq = risk ? equity(risk.portfolio, risk.instruments, mark === undefined ? {} : { [t.symbol]: mark }) : undefined;
    const pnl = eq === undefined ? '-' : moneyToFloat((eq - this.sys.initialCash) as Money).toFixed(2);
    const open = this.sys.handles.executor()?.openOrders().length ?? 0;
    const halted = this.sys.supervisor.halted;
    return {
      time: new Date(clock.now()).toISOString().replace('T', ' ').slice(0, 19),
      prices,
      position: `${lotsToFloat(t, (pos?.lots ?? 0) as Lots)} ${t.base}`,
      pnl,
      orders: `${this.submitted} sent/${this.filled} filled/${open} open/${this.denied} denied`,
      state: halted ? `HALTED (${halted.actor})` : (risk?.tradingState ?? 'starting'),
    };
  }

  /** Returns the rendered line. */
  line(width?: number): string {
    return formatStatus(this.fields(), width);
  }
}
