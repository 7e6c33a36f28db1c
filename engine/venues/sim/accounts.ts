// Balances of simulator accounts in 1e-9 fixed point per asset, with funds locked by open orders the way Binance
// locks them (a buy locks quote at its limit price, a sell locks the base quantity).
import { FIXED_SCALE, divRound, parseFixed } from '../../types/decimal.ts';
import { ConfigError } from '../../types/errors.ts';
import type { Instrument } from '../../types/instrument.ts';
import type { MatchFill } from '../../market/matching.ts';

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

/** Returns `lots` of `inst`'s base asset as a 1e-9 fixed-point amount. */
export function lotsToFixed9(inst: Instrument, lots: number): bigint {
  const ls = inst.lotSize;
  const raw = BigInt(lots) * ls.mantissa;
  return ls.scale <= FIXED_SCALE ? raw * 10n ** BigInt(FIXED_SCALE - ls.scale) : divRound(raw, 10n ** BigInt(ls.scale - FIXED_SCALE));
}

/** One simulator account. */
export class SimAccount {
  readonly free = new Map<string, bigint>();
  readonly locked = new Map<string, bigint>();
  readonly trades: AccountTrade[] = [];
  private readonly locks = new Map<number, { asset: string; amount: bigint }>();
  updateTime = 0;

  constructor(readonly id: string, readonly apiKey: string, readonly secret: string, balances: Readonly<Record<string, string>> = {}) {
    if (!/^[A-Za-z0-9]{8,128}$/.test(apiKey)) throw new ConfigError(`account ${id}: apiKey must be 8-128 letters or digits`);
    if (secret.length < 8) throw new ConfigError(`account ${id}: secret must have at least 8 characters`);
    for (const [asset, amount] of Object.entries(balances)) {
      let v: bigint;
      try {
        v = parseFixed(amount);
      } catch {
        throw new ConfigError(`account ${id}: balance of ${asset} '${amount}' is not a decimal with at most 9 fraction digits`);
      }
      if (v < 0n) throw new ConfigError(`account ${id}: balance of ${asset} must not be negative`);
      this.free.set(asset, v);
    }
  }

  /** Returns the free amount of `asset`. */
  freeOf(asset: string): bigint {
    return this.free.get(asset) ?? 0n;
  }

  /** Returns the locked amount of `asset`. */
  lockedOf(asset: string): bigint {
    return this.locked.get(asset) ?? 0n;
  }

  /** Moves `amount` of `asset` from free to locked for `orderId`; false (nothing changed) when free is short. */
  lock(orderId: number, asset: string, amount: bigint): boolean {
    if (this.freeOf(asset) < amount) return false;
    this.free.set(asset, this.freeOf(asset) - amount);
    this.locked.set(asset, this.lockedOf(asset) + amount);
    this.locks.set(orderId, { asset, amount });
    return true;
  }

  /** Returns whatever is still locked for `orderId` to free (the order completed). */
  release(orderId: number): void {
    const l = this.locks.get(orderId);
    if (!l) return;
    this.locks.delete(orderId);
    this.locked.set(l.asset, this.lockedOf(l.asset) - l.amount);
    this.free.set(l.asset, this.freeOf(l.asset) + l.amount);
  }

  /** Books one fill: pays from the order's lock (or free funds past it), receives the other asset, pays the fee. */
  applyFill(symbol: string, inst: Instrument, fill: MatchFill, ts: number): void {
    const base = lotsToFixed9(inst, fill.lots);
    const [payAsset, pay, getAsset, get] = fill.side === 'buy'
      ? [inst.quote, fill.quote as bigint, inst.base, base]
      : [inst.base, base, inst.quote, fill.quote as bigint];
    const l = this.locks.get(fill.orderId);
    const fromLock = l && l.asset === payAsset ? (l.amount < pay ? l.amount : pay) : 0n;
    if (l && fromLock > 0n) {
      l.amount -= fromLock;
      this.locked.set(payAsset, this.lockedOf(payAsset) - fromLock);
    }
    // A market order's lock is an estimate; a latency-delayed fill can cost slightly more than it.
    this.free.set(payAsset, this.freeOf(payAsset) - (pay - fromLock));
    this.free.set(getAsset, this.freeOf(getAsset) + get);
    this.free.set(fill.feeAsset, this.freeOf(fill.feeAsset) - (fill.fee as bigint));
    this.trades.push({ symbol, inst, fill });
    this.updateTime = ts;
  }
}
