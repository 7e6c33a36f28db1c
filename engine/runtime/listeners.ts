// A list of callbacks for an object's events (the paper venue, its persistent wrapper, the matching engine).

/** Callbacks called in the order they were added; `add` returns the function that removes one. */
export class Listeners<E> {
  private readonly fns: Array<(e: E) => void> = [];

  /** Adds `fn`; the returned function removes it (once, however often it is called). */
  add(fn: (e: E) => void): () => void {
    this.fns.push(fn);
    return () => {
      const i = this.fns.indexOf(fn);
      if (i >= 0) this.fns.splice(i, 1);
    };
  }

  /** Calls every callback with `e`, in order. */
  emit(e: E): void {
    for (const fn of this.fns) fn(e);
  }
}
