// Simulator accounts: API credentials, the shared exchange ledger (engine/venues/ledger.ts) and the trade history
// /api/v3/myTrades reports.
import { parseFixed } from '../../types/decimal.ts';
import { ConfigError } from '../../types/errors.ts';
import type { Instrument } from '../../types/instrument.ts';
import type { MatchFill } from '../../market/matching.ts';
import { baseAmount, Ledger } from '../ledger.ts';

/** An account the simulator accepts: its API key, HMAC secret and starting balances (decimal strings per asset). */
export interface SimAccountSpec {
  readonly apiKey: string;
  readonly secret: string;
  readonly balances?: Readonly<Record<string, string>>;
}

/** One execution as /api/v3/myTrades reports it, kept in integer units. */
export interface AccountTrade {
  readonly symbol: string;
  readonly inst: Instrument;
  readonly fill: MatchFill;
}

/** One simulator account. */
export class SimAccount extends Ledger {
  readonly trades: AccountTrade[] = [];
  updateTime = 0;

  constructor(readonly id: string, readonly apiKey: string, readonly secret: string, balances: Readonly<Record<string, string>> = {}) {
    if (!/^[A-Za-z0-9]{8,128}$/.test(apiKey)) throw new ConfigError(`account ${id}: apiKey must be 8-128 letters or digits`);
    if (secret.length < 8) throw new ConfigError(`account ${id}: secret must have at least 8 characters`);
    super(parseBalances(id, balances));
  }

  /** Books one fill: pays from the order's lock (or free funds past it), receives the other asset, pays the fee. */
  applyFill(symbol: string, inst: Instrument, fill: MatchFill, ts: number): void {
    const base = baseAmount(inst, fill.lots);
    if (fill.side === 'buy') this.settle(fill.orderId, inst.quote, fill.quote as bigint, inst.base, base, fill.feeAsset, fill.fee as bigint);
    else this.settle(fill.orderId, inst.base, base, inst.quote, fill.quote as bigint, fill.feeAsset, fill.fee as bigint);
    this.trades.push({ symbol, inst, fill });
    this.updateTime = ts;
  }
}

function parseBalances(id: string, balances: Readonly<Record<string, string>>): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const [asset, amount] of Object.entries(balances)) {
    let v: bigint;
    try {
      v = parseFixed(amount);
    } catch {
      throw new ConfigError(`account ${id}: balance of ${asset} '${amount}' is not a decimal with at most 9 fraction digits`);
    }
    if (v < 0n) throw new ConfigError(`account ${id}: balance of ${asset} must not be negative`);
    out[asset] = v;
  }
  return out;
}
