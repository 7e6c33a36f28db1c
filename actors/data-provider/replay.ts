// Helpers for running the DataProvider over recordings (the replay itself is engine/venues/replay/replay-feed.ts).
import { RecordingMerge } from '../../engine/venues/sim/replay.ts';
import { nsToMs, type TsMs } from '../../engine/types/time.ts';

/**
 * Returns the receive time (ms) of the first line of `files`, the time the replay feed sets a SimulatedClock to first.
 * A DataProvider loads history "as of now", so its clock must start there, not at 0.
 */
export async function recordingStartMs(files: readonly string[]): Promise<TsMs> {
  const merge = await RecordingMerge.open(files);
  try {
    const ns = merge.peekNs();
    if (ns === undefined) throw new RangeError(`recordings ${files.join(', ')} hold no lines`);
    return nsToMs(ns);
  } finally {
    await merge.close();
  }
}
