/** A fixed-capacity FIFO that overwrites its oldest item when full; index 0 is the oldest item kept. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private head = 0; // index of the oldest item
  private count = 0;
  private changes = 0;

  /** Creates an empty buffer that keeps at most `capacity` items. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`ring capacity ${capacity} must be a positive integer`);
    this.items = new Array<T | undefined>(capacity);
  }

  /** Returns how many items are kept. */
  get length(): number {
    return this.count;
  }

  /** Counts mutations (push, replaceLast, clear): an unchanged version means unchanged contents. */
  get version(): number {
    return this.changes;
  }

  /**
   * The backing array, read-only, for loops that must not pay a call per item: item i is at
   * `slots[(offset + i) % capacity]` for 0 <= i < length. Valid until the next mutation.
   */
  get slots(): readonly (T | undefined)[] {
    return this.items;
  }

  /** Index in `slots` of the oldest item (see `slots`). */
  get offset(): number {
    return this.head;
  }

  /** Appends `item`, dropping the oldest one when full; returns the dropped item, if any. */
  push(item: T): T | undefined {
    this.changes++;
    if (this.count < this.capacity) {
      this.items[(this.head + this.count) % this.capacity] = item;
      this.count++;
      return undefined;
    }
    const dropped = this.items[this.head];
    this.items[this.head] = item;
    this.head = (this.head + 1) % this.capacity;
    return dropped;
  }

  /** Returns the item at `i` (0 = oldest, length−1 = newest), or undefined when out of range. */
  get(i: number): T | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.items[(this.head + i) % this.capacity];
  }

  /** Returns the newest item, or undefined when empty. */
  last(): T | undefined {
    return this.count === 0 ? undefined : this.items[(this.head + this.count - 1) % this.capacity];
  }

  /** Replaces the newest item (a bar still forming); throws when empty. */
  replaceLast(item: T): void {
    if (this.count === 0) throw new RangeError('replaceLast on an empty ring');
    this.changes++;
    this.items[(this.head + this.count - 1) % this.capacity] = item;
  }

  /** Returns the newest `n` items (or fewer), oldest first. */
  tail(n: number): T[] {
    const k = Math.min(n, this.count);
    const out = new Array<T>(k);
    for (let j = 0; j < k; j++) out[j] = this.get(this.count - k + j)!;
    return out;
  }

  /** Returns every item, oldest first. */
  toArray(): T[] {
    return this.tail(this.count);
  }

  /** Removes every item. */
  clear(): void {
    this.changes++;
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}
