/** Base of every engine exception; `code` is stable and greppable. Exceptions are for broken invariants only. */
export abstract class EngineError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A decimal string, frame or file that could not be parsed. */
export class ParseError extends EngineError {
  readonly code = 'PARSE';
}

/** A configuration that fails validation; the message names the key path. */
export class ConfigError extends EngineError {
  readonly code = 'CONFIG';
}

/** An order book that would become crossed or otherwise inconsistent. */
export class BookIntegrityError extends EngineError {
  readonly code = 'BOOK_CROSSED';
}

/** A break in an exchange's update-id chain. */
export class SequenceGapError extends EngineError {
  readonly code = 'SEQ_GAP';
}

/** An exchange call that failed; `cause` carries the venue's own error. */
export class VenueError extends EngineError {
  readonly code = 'VENUE';
}

/** A storage operation that failed. */
export class StoreError extends EngineError {
  readonly code: string = 'STORE';
}

/** The store is another writer's (another cobalt run holds its writer lock): a start is refused, not crashed. */
export class StoreInUseError extends StoreError {
  override readonly code: string = 'STORE_IN_USE';
}

/** Model input that does not match what a model expects. */
export class InputValidationError extends EngineError {
  readonly code = 'INPUT';
}

/** The engine could not start: an actor it waits for (executor, data provider) failed before the system was ready. */
export class EngineStartError extends EngineError {
  readonly code = 'ENGINE_START';
}

/** Returns never; used as the default branch of a switch over a discriminated union. */
export function assertNever(x: never, what = 'value'): never {
  throw new TypeError(`unexpected ${what}: ${JSON.stringify(x)}`);
}
