// A lifecycle and its ProcessStop whose exits and shutdown reports are recorded instead of ending the process, for
// the tests of the one graceful stop (test/engine/runtime/process-stop.test.ts, test/app/run-replay-end-stop.test.ts).
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { Lifecycle, ProcessStop, type ShutdownReport } from '../../../engine/runtime/lifecycle.ts';

/** Resolves once the callbacks queued so far (a shutdown's steps on a simulated clock) have run. */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A lifecycle on a simulated clock and a ProcessStop of it recording exit codes (`codes`) and reports. */
export function stopRig() {
  const clock = new SimulatedClock(0);
  const lifecycle = new Lifecycle({ bus: new Bus(), clock, hookTimeoutMs: 1_000 });
  const codes: number[] = [];
  const reports: ShutdownReport[] = [];
  const stop = new ProcessStop(lifecycle, { exit: (c) => codes.push(c), onReport: (r) => reports.push(r) });
  return { clock, lifecycle, codes, reports, stop };
}
