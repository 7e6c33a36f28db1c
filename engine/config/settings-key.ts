// A comparable form of configured values (risk limits, decision thresholds). A value an operator changes at run time
// is stored beside the key of the config value it replaced, so that a later start can tell an edited config apart
// and let it win over the stored change.

/** JSON of `v` with bigints (Money) as `<digits>n`: equal for equal values built with the same field order. */
export function settingsKey(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
}
