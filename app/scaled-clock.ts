// A wall clock that starts at a chosen time and may run faster than real time. Used where the engine's "now" must
// follow its data rather than the machine: a real-speed replay of a 2024 recording (time starts at the recording's
// first line and runs at `--speed`), and a venue whose server time is not ours (the exchange simulator replays 2024;
// a real venue's offset is milliseconds). Timers fire after `ms / speed` real milliseconds.
import type { Clock, TimerHandle } from '../engine/runtime/clock.ts';
import type { TsMs } from '../engine/types/time.ts';

/** Returns `startMs` + elapsed wall time × `speed`; see the header. */
export class ScaledClock implements Clock {
  private readonly wall0: number;
  private next = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  constructor(readonly startMs: TsMs, readonly speed = 1, private readonly wall: () => number = Date.now) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new TypeError(`clock speed ${speed} must be a finite number > 0`);
    this.wall0 = wall();
  }

  now(): TsMs {
    return this.startMs + (this.wall() - this.wall0) * this.speed;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.next++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, Math.max(0, ms / this.speed));
    this.timers.set(id, t);
    return { id };
  }

  clearTimeout(handle: TimerHandle | unknown): void {
    const id = (handle as TimerHandle | undefined)?.id;
    if (id === undefined) return;
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }
}
