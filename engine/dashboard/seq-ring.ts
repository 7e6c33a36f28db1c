// A bounded history whose items carry increasing sequence numbers, so each WebSocket client keeps one cursor per
// history and receives only what changed since its last push (or everything, with `reset`, when it fell behind).

/** What `SeqRing.since` returns: the items after a cursor and the new cursor. */
export interface SeqSlice<T> {
  /** True when the cursor was older than the oldest kept item: the receiver replaces its copy with `items`. */
  readonly reset: boolean;
  readonly items: T[];
  /** The cursor to pass next time. */
  readonly seq: number;
}

/** Returns a bounded append-only list (the last item may be replaced) with O(1) amortised `push`/`replaceLast`. */
export class SeqRing<T> {
  private items: T[] = [];
  private seqs: number[] = [];
  private head = 0;
  private seqNo = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new TypeError(`ring capacity ${capacity} must be an integer >= 1`);
  }

  /** Returns how many items are kept. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Returns the sequence number of the latest change (0 before any). */
  get seq(): number {
    return this.seqNo;
  }

  /** Returns the newest item. */
  last(): T | undefined {
    return this.length > 0 ? this.items[this.items.length - 1] : undefined;
  }

  /** Appends an item, dropping the oldest past capacity. */
  push(item: T): void {
    this.items.push(item);
    this.seqs.push(++this.seqNo);
    if (this.items.length - this.head > this.capacity) this.head++;
    // Compact once the dropped prefix is as long as the window, so memory stays within 2× capacity.
    if (this.head >= this.capacity) {
      this.items = this.items.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }

  /** Replaces the newest item (a forming candle, the current equity second); pushes when empty. */
  replaceLast(item: T): void {
    if (this.length === 0) return this.push(item);
    this.items[this.items.length - 1] = item;
    this.seqs[this.seqs.length - 1] = ++this.seqNo;
  }

  /** Returns the items changed after `cursor` (-1 or 0 for all) and the new cursor. */
  since(cursor: number): SeqSlice<T> {
    const n = this.length;
    if (n === 0) return { reset: cursor < 0, items: [], seq: this.seqNo };
    const firstSeq = this.seqs[this.head]!;
    // Items before the oldest kept one were dropped: a cursor that old cannot be continued.
    if (cursor < firstSeq - 1) return { reset: true, items: this.items.slice(this.head), seq: this.seqNo };
    let i = this.items.length;
    while (i > this.head && this.seqs[i - 1]! > cursor) i--;
    return { reset: false, items: this.items.slice(i), seq: this.seqNo };
  }

  /** Returns every kept item, oldest first. */
  toArray(): T[] {
    return this.items.slice(this.head);
  }
}

/**
 * Returns a bounded keyed table (at most `capacity` keys, the least recently changed evicted first) whose changes carry
 * increasing sequence numbers, so a client receives only the rows changed since its cursor. A receiver that applies
 * each slice in order (re-inserting a changed key as newest, evicting its oldest past the same capacity) holds the
 * same rows in the same order: an evicted key is the least recently changed on both sides.
 */
export class SeqMap<V> {
  private readonly rows = new Map<string, { value: V; seq: number }>();
  private seqNo = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new TypeError(`table capacity ${capacity} must be an integer >= 1`);
  }

  /** Returns the value of `key`. */
  get(key: string): V | undefined {
    return this.rows.get(key)?.value;
  }

  /** Sets `key` as the most recently changed row, evicting the least recently changed past capacity. */
  set(key: string, value: V): void {
    // Re-inserting moves the key to the end of the Map's order, which is the order of last change.
    this.rows.delete(key);
    this.rows.set(key, { value, seq: ++this.seqNo });
    if (this.rows.size > this.capacity) this.rows.delete(this.rows.keys().next().value!);
  }

  /** Returns the rows changed after `cursor` (-1 for all, with `reset`), least recently changed first, and the new cursor. */
  since(cursor: number): SeqSlice<V> {
    const all = [...this.rows.values()];
    if (cursor < 0) return { reset: true, items: all.map((r) => r.value), seq: this.seqNo };
    let i = all.length;
    while (i > 0 && all[i - 1]!.seq > cursor) i--;
    return { reset: false, items: all.slice(i).map((r) => r.value), seq: this.seqNo };
  }
}
