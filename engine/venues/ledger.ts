// Balances per asset in 1e-9 fixed point with funds locked by open orders the way Binance locks them (a buy locks
// quote at its limit price, or what a market buy would cost now; a sell locks the base quantity). The exchange
// simulator's accounts and the paper venue both keep their books with it.
import { FIXED_SCALE, divRound } from '../types/decimal.ts';
import type { Instrument } from '../types/instrument.ts';
import type { Lots } from '../types/price.ts';

/** Returns `lots` of `inst`'s base asset as a 1e-9 fixed-point amount. */
export function baseAmount(inst: Instrument, lots: Lots | number): bigint {
  const ls = inst.lotSize;
  const raw = BigInt(lots) * ls.mantissa;
  return ls.scale <= FIXED_SCALE ? raw * 10n ** BigInt(FIXED_SCALE - ls.scale) : divRound(raw, 10n ** BigInt(ls.scale - FIXED_SCALE));
}

/** Free and locked amounts per asset, with per-order locks. */
export class Ledger {
  readonly free = new Map<string, bigint>();
  readonly locked = new Map<string, bigint>();
  private readonly locks = new Map<number, { asset: string; amount: bigint }>();

  /** Starts with `balances` free; a negative balance is refused with the asset named. */
  constructor(balances: Readonly<Record<string, bigint>> = {}) {
    for (const [asset, v] of Object.entries(balances)) {
      if (v < 0n) throw new RangeError(`balance of ${asset} must not be negative, got ${v}`);
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

  /** Returns every asset that has ever held a balance, sorted. */
  assets(): string[] {
    return [...new Set([...this.free.keys(), ...this.locked.keys()])].sort();
  }

  /** Moves `amount` of `asset` from free to locked for `orderId`; false (nothing changed) when free is short. */
  lock(orderId: number, asset: string, amount: bigint): boolean {
    if (this.freeOf(asset) < amount) return false;
    this.free.set(asset, this.freeOf(asset) - amount);
    this.locked.set(asset, this.lockedOf(asset) + amount);
    this.locks.set(orderId, { asset, amount });
    return true;
  }

  /** Returns what is still locked for `orderId` (0 when it holds no lock). */
  orderLock(orderId: number): bigint {
    return this.locks.get(orderId)?.amount ?? 0n;
  }

  /** Returns what is still locked for `orderId` to free (the order is done). */
  release(orderId: number): void {
    const l = this.locks.get(orderId);
    if (!l) return;
    this.locks.delete(orderId);
    this.locked.set(l.asset, this.lockedOf(l.asset) - l.amount);
    this.free.set(l.asset, this.freeOf(l.asset) + l.amount);
  }

  /** Books a fill: pays `pay` of `payAsset` from the order's lock (then free funds), receives `get`, pays the fee. */
  settle(orderId: number, payAsset: string, pay: bigint, getAsset: string, get: bigint, feeAsset: string, fee: bigint): void {
    const l = this.locks.get(orderId);
    const fromLock = l && l.asset === payAsset ? (l.amount < pay ? l.amount : pay) : 0n;
    if (l && fromLock > 0n) {
      l.amount -= fromLock;
      this.locked.set(payAsset, this.lockedOf(payAsset) - fromLock);
    }
    // A market buy's lock is the cost the book showed at submission; a latency-delayed fill can cost more, and the
    // matching engine caps it at free funds plus this lock (MatchingConfig.marketBuyFunds), so free stays >= 0.
    this.free.set(payAsset, this.freeOf(payAsset) - (pay - fromLock));
    this.free.set(getAsset, this.freeOf(getAsset) + get);
    this.free.set(feeAsset, this.freeOf(feeAsset) - fee);
  }
}
