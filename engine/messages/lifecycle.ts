import type { TsMs } from '../types/time.ts';

/** The actor restarted after a failure; `attempt` counts within the current budget window. */
export interface ActorRestarted { readonly type: 'sys.actorRestarted'; readonly actor: string; readonly attempt: number; readonly delayMs: number; readonly error: string; readonly ts: TsMs }
/** The actor's lifecycle state changed. */
export interface ActorStatus { readonly type: 'sys.actorStatus'; readonly actor: string; readonly status: 'starting' | 'running' | 'restarting' | 'stopped' | 'failed'; readonly ts: TsMs }
/** The system stopped trading for good; `reason` says why (restart budget spent, kill switch, …). */
export interface SystemHalted { readonly type: 'sys.halted'; readonly reason: string; readonly actor?: string; readonly ts: TsMs }
/** A graceful shutdown began. */
export interface ShutdownStarted { readonly type: 'sys.shutdown'; readonly signal: string; readonly ts: TsMs }

export type LifecycleMsg = ActorRestarted | ActorStatus | SystemHalted | ShutdownStarted;
