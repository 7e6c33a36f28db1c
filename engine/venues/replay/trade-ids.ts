// Holes in a recording's trade stream. A recorder reconnect leaves no marker, but Binance numbers each symbol's
// trades (`t` of @trade, `a` of @aggTrade) one by one: an id that does not follow the last one taken means trades
// were lost (or repeat, or come out of order) there. The replay feed and the backtest both watch for it and publish
// md.feedReset scoped to trades before the clock moves to the trade after the hole, so the candles over it are cut.
import { classifyFrame } from '../binance/frames.ts';

/**
 * Returns the trade id of a recorded trade (`t`) or aggTrade (`a`) frame, both consecutive per symbol, or undefined
 * when the text is no trade frame or has no such id.
 */
export function recordedTradeId(text: string): number | undefined {
  if (classifyFrame(text) !== 'trade') return undefined;
  const key = text.includes('"e":"aggTrade"') ? '"a":' : '"t":';
  let i = text.indexOf(key);
  if (i < 0) return undefined;
  i += key.length;
  while (text.charCodeAt(i) === 32) i++;
  const start = i;
  let id = 0;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) id = id * 10 + c - 48;
  return i > start && Number.isSafeInteger(id) ? id : undefined;
}

/** The last trade id taken per (venue) symbol, and the holes found. */
export class TradeIdWatch {
  /** Trades whose id did not follow their symbol's previous one. */
  gaps = 0;
  private readonly last = new Map<string, number>();

  /** Returns why trade `id` of `symbol` breaks the stream (counted), or undefined when it follows (or is the first). */
  check(symbol: string, id: number): string | undefined {
    const last = this.last.get(symbol);
    if (last === undefined || id === last + 1) return undefined;
    this.gaps++;
    return id > last ? `trade id jumps from ${last} to ${id} (${id - last - 1} trades missing)` : `trade id goes back from ${last} to ${id}`;
  }

  /** Trade `id` was published: the next one of `symbol` must follow it. (A trade that did not decode is not taken.) */
  took(symbol: string, id: number): void {
    this.last.set(symbol, id);
  }

  /** Forgets every symbol's last id (a new replay lap starts its own stream). */
  clear(): void {
    this.last.clear();
  }
}
