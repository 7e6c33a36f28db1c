// Row damage for the klines property tests (klines-fast, klines-prefix): one edit inserts, deletes or replaces a
// character of a row, swaps in the next row, or blanks the row.

/** One edit; `row` and `at` are taken modulo the rows and the row's length. */
export interface RowEdit {
  readonly row: number;
  readonly at: number;
  readonly kind: 'insert' | 'delete' | 'replace' | 'swap' | 'blank';
  readonly ch: string;
}

/** Returns `rows` with `edits` applied in order. */
export function editRows(rows: readonly string[], edits: readonly RowEdit[]): string[] {
  const out = [...rows];
  for (const e of edits) {
    const i = e.row % out.length;
    const r = out[i]!;
    const at = e.at % (r.length + 1);
    if (e.kind === 'insert') out[i] = r.slice(0, at) + e.ch + r.slice(at);
    else if (e.kind === 'delete') out[i] = r.slice(0, at) + r.slice(at + 1);
    else if (e.kind === 'replace') out[i] = r.slice(0, at) + e.ch + r.slice(at + 1);
    else if (e.kind === 'swap') out[i] = out[(i + 1) % out.length]!;
    else out[i] = ' ';
  }
  return out;
}
