// The bounds of a daemon's replay speed (data.speed, `cobalt run --speed`, `cobalt exchange-sim --speed`). Below 0.01
// a recorded second takes over 100 s and the run seems to stand still; above 1000 an hour of data passes in under 4 s
// and the models, whose runs take wall time, fall ever further behind (as fast as possible is `cobalt backtest`, which
// waits for them). A simulator's clients fall behind the same way, so it is held to the same bounds.

/** The slowest replay speed a daemon or simulator takes, as a multiple of real time. */
export const RUN_SPEED_MIN = 0.01;
/** The fastest replay speed a daemon or simulator takes, as a multiple of real time. */
export const RUN_SPEED_MAX = 1000;

/** Returns true when `v` is a replay speed within RUN_SPEED_MIN..RUN_SPEED_MAX (false for NaN and 0). */
export function isRunSpeed(v: number): boolean {
  return v >= RUN_SPEED_MIN && v <= RUN_SPEED_MAX;
}
