export type * from './market.ts';
export type * from './orders.ts';
export type * from './risk.ts';
export type * from './lifecycle.ts';
export * from './signals.ts';
export type * from './feed.ts';
export type * from './cob.ts';
export type * from './exec-status.ts';
export type * from './orchestrator.ts';

import type { MarketMsg } from './market.ts';
import type { ExecCommand, ExecEvent } from './orders.ts';
import type { RiskMsg } from './risk.ts';
import type { LifecycleMsg } from './lifecycle.ts';
import type { SignalMsg } from './signals.ts';
import type { FeedMsg } from './feed.ts';
import type { CobMsg } from './cob.ts';
import type { ExecStatusMsg } from './exec-status.ts';
import type { OrchestratorMsg } from './orchestrator.ts';

/** Every message on the bus, discriminated by `type` (prefixed md. cob. signal. risk. exec. sys.). */
export type EngineMsg = MarketMsg | ExecCommand | ExecEvent | RiskMsg | LifecycleMsg | SignalMsg | FeedMsg | CobMsg | ExecStatusMsg | OrchestratorMsg;
