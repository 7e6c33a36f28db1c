// Backtest figures from the fills and marks of one run, computed exactly (Money) with the RiskManager's own position
// arithmetic, then turned into floats for the summary. Definitions:
//   pnl          final equity (cash + holdings at the last mark) − starting cash, fees included
//   fees         every fee in the quote currency (a fee paid in the base asset valued at its fill price)
//   trades       fills; roundTrips: flat -> position -> flat; hitRate: share of round trips with realised PnL > 0
//   sharpe       mean / standard deviation of the 1 s equity returns, annualised by √(seconds per year)
//   maxDrawdown  largest fall from a running equity peak, as a fraction of that peak (1 s samples)
//   exposure     share of 1 s samples holding a position
import { applyFill, emptyPortfolio, equity, valueOfBase9, type Portfolio } from '../actors/risk-manager/positions.ts';
import type { Fill } from '../engine/messages/orders.ts';
import { notional, type Instrument } from '../engine/types/instrument.ts';
import { moneyToFloat, type Money } from '../engine/types/money.ts';
import type { Ticks } from '../engine/types/price.ts';
import type { TsMs } from '../engine/types/time.ts';

/** One equity sample. */
export interface EquityPoint { readonly t: TsMs; readonly equity: number; readonly drawdown: number; readonly lots: number }

const SECONDS_PER_YEAR = 365 * 86_400;

/** Follows fills and marks of one instrument and samples equity once per simulated second. */
export class EquityTracker {
  readonly points: EquityPoint[] = [];
  readonly fills: Fill[] = [];
  private pf: Portfolio;
  private mark: Ticks | undefined;
  private next = NaN;
  private peak = 0;
  private fees = 0n;
  private roundTrips = 0;
  private wins = 0;
  private tripStartRealised = 0n;

  constructor(readonly inst: Instrument, readonly cash: Money, private readonly sampleMs = 1_000) {
    this.pf = emptyPortfolio(inst.quote, cash);
  }

  /** Takes a fill. */
  onFill(f: Fill): void {
    if (f.symbol !== this.inst.symbol) return;
    const before = this.pf.positions[f.symbol];
    if (f.side === 'buy' && (!before || before.lots === 0 || notional(this.inst, f.price, before.lots) < this.inst.minNotional)) {
      this.tripStartRealised = before?.realised ?? 0n;
    }
    this.fills.push(f);
    this.pf = applyFill(this.pf, this.inst, f);
    this.fees += f.feeAsset === this.inst.quote ? f.fee : valueOfBase9(this.inst, f.fee, f.price);
    const after = this.pf.positions[f.symbol];
    // A sell leaves dust when the buy's fee was paid in the base asset: below the minimum order value counts as flat.
    const flat = !after || after.lots === 0 || notional(this.inst, f.price, after.lots) < this.inst.minNotional;
    if (before && before.lots > 0 && f.side === 'sell' && flat) {
      this.roundTrips++;
      const net = after.realised - this.tripStartRealised;
      if (net > 0n) this.wins++;
    }
  }

  /** Takes the last trade price. */
  onMark(price: Ticks): void {
    this.mark = price;
  }

  /** Samples equity at each whole period passed by `now`. */
  tick(now: TsMs): void {
    if (Number.isNaN(this.next)) this.next = Math.floor(now / this.sampleMs) * this.sampleMs + this.sampleMs;
    while (now >= this.next) {
      this.sample(this.next);
      this.next += this.sampleMs;
    }
  }

  /** Returns equity now as Money. */
  equityNow(): Money {
    return equity(this.pf, { [this.inst.symbol]: this.inst }, this.mark === undefined ? {} : { [this.inst.symbol]: this.mark });
  }

  /** Returns the summary figures. */
  summary(): { pnl: number; fees: number; trades: number; roundTrips: number; hitRate: number; sharpe: number; maxDrawdown: number; exposure: number; finalEquity: number; pnlExact: string } {
    const eq = this.equityNow();
    const rets: number[] = [];
    for (let i = 1; i < this.points.length; i++) {
      const a = this.points[i - 1]!.equity;
      if (a > 0) rets.push(this.points[i]!.equity / a - 1);
    }
    const mean = rets.length ? rets.reduce((s, r) => s + r, 0) / rets.length : 0;
    const sd = rets.length > 1 ? Math.sqrt(rets.reduce((s, r) => s + (r - mean) ** 2, 0) / (rets.length - 1)) : 0;
    const perYear = SECONDS_PER_YEAR / (this.sampleMs / 1_000);
    const pnl = (eq - this.cash) as Money;
    return {
      pnl: round(moneyToFloat(pnl), 9),
      pnlExact: formatSigned(pnl),
      fees: round(moneyToFloat(this.fees as Money), 9),
      trades: this.fills.length,
      roundTrips: this.roundTrips,
      hitRate: this.roundTrips ? round(this.wins / this.roundTrips, 6) : 0,
      sharpe: sd > 0 ? round((mean / sd) * Math.sqrt(perYear), 6) : 0,
      maxDrawdown: round(this.points.reduce((m, p) => Math.max(m, p.drawdown), 0), 9),
      exposure: this.points.length ? round(this.points.filter((p) => p.lots !== 0).length / this.points.length, 6) : 0,
      finalEquity: round(moneyToFloat(eq), 9),
    };
  }

  private sample(t: TsMs): void {
    const e = moneyToFloat(this.equityNow());
    if (e > this.peak) this.peak = e;
    this.points.push({ t, equity: e, drawdown: this.peak > 0 ? (this.peak - e) / this.peak : 0, lots: this.pf.positions[this.inst.symbol]?.lots ?? 0 });
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function formatSigned(m: Money): string {
  const neg = m < 0n;
  const a = neg ? -m : m;
  const s = `${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0')}`;
  return neg ? `-${s}` : s;
}
