// Orchestrator as a supervised child: xstate callback logic around the plain Orchestrator class (no machine states
// of its own). Start: build an Orchestrator from the input, subscribe it to the bus with owner = child id (a
// throwing handler makes the supervisor restart it), attach it to the handle. Events received: the control
// commands `orchestrator.setThresholds` and `orchestrator.rollback` (the same ones it also takes from the bus).
// Stop: unsubscribe and detach. A restart keeps the registry (models and versions live in the input); thresholds set
// at run time and the judged outcomes come back through the input's `memory` (./memory.ts); the pending tick, the
// predictions awaiting their horizon and the intent in flight start over.
import { fromCallback } from 'xstate';
import type { OrchestratorCommand } from '../../engine/messages/orchestrator.ts';
import type { ChildSpec } from '../../engine/runtime/supervisor.ts';
import { Orchestrator, type OrchestratorOptions } from './orchestrator.ts';

/** The supervisor id of the Orchestrator. */
export const ORCHESTRATOR_ID = 'orchestrator';

/** A stable handle on whichever Orchestrator instance is running (restarts replace it). */
export class OrchestratorHandle {
  private o: Orchestrator | undefined;
  /** The running instance, if any. */
  get current(): Orchestrator | undefined {
    return this.o;
  }
  /** Points the handle at `o` (called by the actor). */
  attach(o: Orchestrator): void {
    this.o = o;
  }
  /** Clears the handle if it still points at `o`. */
  detach(o: Orchestrator): void {
    if (this.o === o) this.o = undefined;
  }
}

/** Input of the supervised Orchestrator. */
export interface OrchestratorInput extends Omit<OrchestratorOptions, 'owner'> {
  /** Child id, also the bus owner (default 'orchestrator'). */
  readonly id?: string;
  readonly handle?: OrchestratorHandle;
}

/** xstate callback logic running an Orchestrator for as long as the child lives. */
export const orchestratorActor = fromCallback<OrchestratorCommand, OrchestratorInput>(({ input, receive }) => {
  const id = input.id ?? ORCHESTRATOR_ID;
  const o = new Orchestrator({ ...input, owner: id });
  o.start();
  input.handle?.attach(o);
  receive((cmd) => o.handle(cmd));
  return () => {
    o.stop();
    input.handle?.detach(o);
  };
});

/** Returns the supervisor child spec of the Orchestrator. */
export function orchestratorChild(input: OrchestratorInput, order?: number): ChildSpec {
  return { id: input.id ?? ORCHESTRATOR_ID, logic: orchestratorActor, input, ...(order === undefined ? {} : { order }) };
}
