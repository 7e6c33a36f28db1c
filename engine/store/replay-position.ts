// The names under which a daemon replaying a recording keeps how far its engine time got. Apart from the history
// reader so that the replay that writes them (actors/data-provider/replay.ts) does not load the reader to name them.

/**
 * The database of the replay's position (actors/data-provider/replay.ts writes it): app/run.ts creates it for replays
 * only (replayStart, keepReplayTime), never for live or simulator runs.
 */
export const REPLAY_POSITION_DB = 'replay.position';
/** Its one key: a bound on the engine time replays into the store reached (history-reader.ts replayedUntil). */
export const REPLAY_REACHED_KEY = 'reachedMs';
