// The last model outputs in memory: a ring per model, plus the latest output per (model, symbol) for cross-model
// feeding (BaseDataInput carries every model's last output).
import type { ModelOutput } from '../messages/signals.ts';
import type { TsMs } from '../types/time.ts';

/** Outputs kept per model by default. */
export const DEFAULT_OUTPUTS_PER_MODEL = 1000;

/** A query over stored outputs; `from` inclusive, `to` exclusive. */
export interface OutputQuery {
  readonly model?: string;
  readonly symbol?: string;
  readonly from?: TsMs;
  readonly to?: TsMs;
}

// Fixed-capacity ring in insertion order.
class Ring<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private size = 0;
  constructor(private readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }
  push(x: T): void {
    this.items[this.next] = x;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }
  get length(): number {
    return this.size;
  }
  *[Symbol.iterator](): Generator<T> {
    const first = (this.next - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) yield this.items[(first + i) % this.capacity] as T;
  }
}

/** In-memory store of recent ModelOutputs: a ring of the last N per model, queries by model, symbol and time. */
export class ModelOutputStore {
  private readonly rings = new Map<string, Ring<ModelOutput>>();
  private readonly latestBySymbol = new Map<string, Map<string, ModelOutput>>();

  /** Creates a store keeping `perModel` outputs per model. */
  constructor(private readonly perModel = DEFAULT_OUTPUTS_PER_MODEL) {
    if (!Number.isInteger(perModel) || perModel < 1) throw new RangeError(`perModel must be a positive integer, got ${perModel}`);
  }

  /** Adds an output; the model's oldest output is dropped once its ring is full. */
  add(output: ModelOutput): void {
    let ring = this.rings.get(output.model);
    if (!ring) this.rings.set(output.model, (ring = new Ring(this.perModel)));
    ring.push(output);
    let bySymbol = this.latestBySymbol.get(output.symbol);
    if (!bySymbol) this.latestBySymbol.set(output.symbol, (bySymbol = new Map()));
    const prev = bySymbol.get(output.model);
    // A late (older) output must not replace a newer one as the model's latest.
    if (!prev || output.ts >= prev.ts) bySymbol.set(output.model, output);
  }

  /** Returns the newest output of `model` for `symbol`. */
  latest(model: string, symbol: string): ModelOutput | undefined {
    return this.latestBySymbol.get(symbol)?.get(model);
  }

  /** Returns the newest output of every model for `symbol`, keyed by model name. */
  latestAll(symbol: string): ReadonlyMap<string, ModelOutput> {
    return new Map(this.latestBySymbol.get(symbol) ?? []);
  }

  /** Returns the stored outputs matching `q`, oldest first (by ts, then arrival). */
  query(q: OutputQuery = {}): ModelOutput[] {
    const rings = q.model !== undefined ? [this.rings.get(q.model)].filter((r) => r !== undefined) : [...this.rings.values()];
    const out: ModelOutput[] = [];
    for (const ring of rings) {
      for (const o of ring) {
        if (q.symbol !== undefined && o.symbol !== q.symbol) continue;
        if (q.from !== undefined && o.ts < q.from) continue;
        if (q.to !== undefined && o.ts >= q.to) continue;
        out.push(o);
      }
    }
    return out.sort((a, b) => a.ts - b.ts); // stable: equal timestamps keep arrival order
  }

  /** Returns the number of outputs held for `model`. */
  count(model: string): number {
    return this.rings.get(model)?.length ?? 0;
  }

  /** Returns the models seen so far. */
  models(): string[] {
    return [...this.rings.keys()];
  }
}
