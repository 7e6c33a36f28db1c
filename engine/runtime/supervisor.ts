// Supervisor machine (xstate v5). One state, `supervising`; children are spawned actors with systemId === id.
//   xstate.error.actor.<id> | sup.fail  -> child 'restarting', delayed sup.restart (backoff + jitter), logged at warn,
//                                         or 'failed' + sys.halted once the child's restart budget is spent (error)
//   sup.restart                         -> respawn the child, sys.actorRestarted
//   xstate.error.actor.<id> of a child no longer running: its cleanup threw, logged at warn (ACTOR_CLEANUP_FAILED)
//   xstate.done.actor.<id>              -> child 'stopped' (a finished actor is not restarted)
//   sup.stopAll                         -> stop every child in reverse start order
import { createActor, enqueueActions, setup, type Actor, type ActorSystem, type AnyActorLogic, type EventObject } from 'xstate';
import { log, type Logger } from '../log.ts';
import type { EngineMsg } from '../messages/index.ts';
import type { ActorStatus } from '../messages/lifecycle.ts';
import type { TsMs } from '../types/time.ts';
import type { Bus, HandlerFailure } from './bus.ts';
import type { Clock } from './clock.ts';
import { scrubCrashText } from './lifecycle.ts';

/** Any xstate actor system (`actor.system`, or `system` inside an action). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyActorSystem = ActorSystem<any>;

/** How a child is restarted: exponential backoff with jitter, at most `maxRestarts` within a sliding `windowMs`. */
export interface RestartPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  /** Fraction of the delay drawn at random either side: 0.2 gives delay × [0.8, 1.2). */
  readonly jitter: number;
  readonly maxRestarts: number;
  readonly windowMs: number;
}

/** Returns the default policy: 200 ms doubling to 30 s, ±20 % jitter, 5 restarts per 60 s. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialDelayMs: 200, maxDelayMs: 30_000, factor: 2, jitter: 0.2, maxRestarts: 5, windowMs: 60_000 };

/** Returns the delay before restart number `attempt` (1-based): initial × factor^(attempt−1), capped, then jittered by `rng()` in [0, 1). */
export function backoffDelayMs(policy: RestartPolicy, attempt: number, rng: () => number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.max(0, Math.round(base * (1 + policy.jitter * (2 * rng() - 1))));
}

/** One supervised actor: xstate logic from the caller, started by ascending `order` and stopped in reverse. */
export interface ChildSpec {
  /** Child id and systemId (`system.get(id)`). */
  readonly id: string;
  readonly logic: AnyActorLogic;
  /** Input given at every (re)start; state that must survive a restart belongs in a store, not here. */
  readonly input?: unknown;
  /** Start order, lower first; ties keep the order of the list. */
  readonly order?: number;
  readonly restart?: Partial<RestartPolicy>;
}

/** Lifecycle state of a child (the `status` field of `sys.actorStatus`). */
export type ChildState = ActorStatus['status'];

/** What `Supervisor.status()` reports for one child. */
export interface ChildStatus {
  readonly id: string;
  readonly order: number;
  readonly state: ChildState;
  /** Restarts since the supervisor started. */
  readonly restarts: number;
  /** Failure times inside the current budget window. */
  readonly recentFailures: readonly TsMs[];
  readonly lastError?: string;
  readonly nextRestartAt?: TsMs;
}

/** Why the supervisor halted trading. */
export interface HaltInfo { readonly reason: string; readonly actor: string; readonly ts: TsMs }

/** Counts events that `sendToActor` dropped, per target id. */
export interface SendStats { readonly dropped: Record<string, number> }

/**
 * Sends `event` to `system.get(id)` if that actor exists and is running; returns false and counts a drop otherwise.
 * xstate's own `sendTo` delivers to the *sender* when the target resolves to undefined (a child mid-restart),
 * which can loop; call this from a custom action instead: `actions: ({ system }) => sendToActor(system, 'risk', ev)`.
 */
export function sendToActor(system: AnyActorSystem, id: string, event: EventObject, stats?: SendStats): boolean {
  const target = system.get(id);
  if (target === undefined || target.getSnapshot().status !== 'active') {
    if (stats) stats.dropped[id] = (stats.dropped[id] ?? 0) + 1;
    return false;
  }
  target.send(event);
  return true;
}

/** Options of a supervisor. */
export interface SupervisorOptions {
  readonly children: readonly ChildSpec[];
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  /** Uniform [0, 1) source for jitter; inject a seeded one for deterministic runs. */
  readonly rng?: () => number;
  readonly defaults?: Partial<RestartPolicy>;
  /** Treat a throwing bus handler subscribed with `owner = child id` as a failure of that child (default true). */
  readonly routeBusErrors?: boolean;
  /** Where failures, restarts and halts are logged (default: the process-wide logger). */
  readonly logger?: Logger;
}

type SupEvent =
  | { type: 'sup.fail'; id: string; error: unknown }
  | { type: 'sup.restart'; id: string; delayMs: number }
  | { type: 'sup.stopAll' }
  | { type: `xstate.error.actor.${string}`; actorId: string; error: unknown }
  | { type: `xstate.done.actor.${string}`; actorId: string };

interface SupContext { children: Record<string, ChildStatus>; halted: HaltInfo | undefined }

interface Resolved { spec: ChildSpec; order: number; policy: RestartPolicy }

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function createSupervisorMachine(specs: readonly Resolved[], opts: SupervisorOptions, rng: () => number) {
  const { bus, clock } = opts;
  const logger = opts.logger ?? log();
  const byId = new Map(specs.map((r) => [r.spec.id, r]));
  const publishStatus = (actor: string, status: ChildState): void => bus.publish({ type: 'sys.actorStatus', actor, status, ts: clock.now() });

  return setup({
    types: { context: {} as SupContext, events: {} as SupEvent },
    // Declared so spawnChild accepts caller-supplied logic with a string id.
    actors: {} as Record<string, AnyActorLogic>,
    actions: {
      // Decides between a delayed restart and a halt.
      childFailed: enqueueActions(({ context, enqueue }, params: { id: string; error: unknown; fromActor: boolean }) => {
        const { id, error } = params;
        const r = byId.get(id);
        const c = context.children[id];
        if (r && c && c.state !== 'running' && params.fromActor) {
          // A stopped child runs nothing but its cleanup, so xstate's error from it is the cleanup's: said, but the
          // child is already being restarted, halted or stopped, so it is no further failure. Only scrubbed text is
          // logged (a cleanup closing a signed session may quote it), never the raw error.
          const text = scrubCrashText(errorText(error));
          const stack = error instanceof Error && error.stack ? { stack: scrubCrashText(error.stack) } : {};
          enqueue(() => logger.warn({ code: 'ACTOR_CLEANUP_FAILED', actor: id, state: c.state, error: text, ...stack }, `actor '${id}' failed to clean up: ${text}`));
          return;
        }
        // Only a running child can fail; a second report of the same failure (several throwing handlers) is ignored.
        if (!r || c?.state !== 'running') return;
        const now = clock.now();
        const recent = c.recentFailures.filter((t) => t > now - r.policy.windowMs);
        // The error travels on (the halt's reason, sys.actorRestarted, ChildStatus.lastError: the alerts webhook and every
        // dashboard client): one quoting a signed request or a key is blanked here, where it is first kept, as a crash's
        // text is.
        const lastError = scrubCrashText(errorText(error));
        enqueue.stopChild(id);
        if (recent.length >= r.policy.maxRestarts) {
          const reason = `actor '${id}' failed ${recent.length + 1} times within ${r.policy.windowMs} ms (restart budget ${r.policy.maxRestarts}); last error: ${lastError}`;
          const failed: ChildStatus = { ...c, state: 'failed', recentFailures: [...recent, now], lastError };
          enqueue.assign({ children: { ...context.children, [id]: failed }, halted: context.halted ?? { reason, actor: id, ts: now } });
          enqueue(() => {
            logger.error({ code: 'ACTOR_RESTART_BUDGET_SPENT', actor: id, err: error, failures: recent.length + 1, restarts: c.restarts }, reason);
            publishStatus(id, 'failed');
            bus.publish({ type: 'sys.halted', reason, actor: id, ts: now });
          });
          return;
        }
        const failures = [...recent, now];
        const delayMs = backoffDelayMs(r.policy, failures.length, rng);
        const restarting: ChildStatus = { ...c, state: 'restarting', recentFailures: failures, lastError, nextRestartAt: now + delayMs };
        enqueue.assign({ children: { ...context.children, [id]: restarting } });
        enqueue(() => {
          logger.warn({ code: 'ACTOR_FAILED', actor: id, err: error, failures: failures.length, restarts: c.restarts, delayMs },
            `actor '${id}' failed: restart ${failures.length} of ${r.policy.maxRestarts} allowed within ${r.policy.windowMs} ms, in ${delayMs} ms`);
          publishStatus(id, 'restarting');
        });
        enqueue.raise({ type: 'sup.restart', id, delayMs }, { delay: delayMs, id: restartTimerId(id) });
      }),
    },
  }).createMachine({
    id: 'supervisor',
    context: () => ({
      children: Object.fromEntries(specs.map((r) => [r.spec.id, { id: r.spec.id, order: r.order, state: 'starting', restarts: 0, recentFailures: [] } satisfies ChildStatus])),
      halted: undefined,
    }),
    entry: enqueueActions(({ context, enqueue }) => {
      for (const r of specs) {
        enqueue(() => publishStatus(r.spec.id, 'starting'));
        enqueue.spawnChild(r.spec.logic, { id: r.spec.id, systemId: r.spec.id, input: r.spec.input });
        enqueue(() => publishStatus(r.spec.id, 'running'));
      }
      enqueue.assign({ children: Object.fromEntries(Object.entries(context.children).map(([k, c]) => [k, { ...c, state: 'running' as const }])) });
    }),
    on: {
      'xstate.error.actor.*': { actions: { type: 'childFailed', params: ({ event }) => ({ id: event.actorId, error: event.error, fromActor: true }) } },
      'sup.fail': { actions: { type: 'childFailed', params: ({ event }) => ({ id: event.id, error: event.error, fromActor: false }) } },
      'sup.restart': {
        actions: enqueueActions(({ context, event, enqueue }) => {
          const r = byId.get(event.id);
          const c = context.children[event.id];
          if (!r || c?.state !== 'restarting') return;
          enqueue.spawnChild(r.spec.logic, { id: r.spec.id, systemId: r.spec.id, input: r.spec.input });
          const restarted: ChildStatus = { ...c, state: 'running', restarts: c.restarts + 1, nextRestartAt: undefined };
          enqueue.assign({ children: { ...context.children, [event.id]: restarted } });
          enqueue(() => {
            logger.info({ actor: event.id, restarts: restarted.restarts }, `actor '${event.id}' restarted`);
            bus.publish({ type: 'sys.actorRestarted', actor: event.id, attempt: c.recentFailures.length, delayMs: event.delayMs, error: c.lastError ?? '', ts: clock.now() });
            publishStatus(event.id, 'running');
          });
        }),
      },
      'xstate.done.actor.*': {
        actions: enqueueActions(({ context, event, enqueue }) => {
          const c = context.children[event.actorId];
          if (!c || c.state !== 'running') return;
          enqueue.assign({ children: { ...context.children, [c.id]: { ...c, state: 'stopped' } } });
          enqueue(() => publishStatus(c.id, 'stopped'));
        }),
      },
      'sup.stopAll': {
        actions: enqueueActions(({ context, enqueue }) => {
          const children = { ...context.children };
          for (const r of [...specs].reverse()) {
            const c = children[r.spec.id];
            enqueue.cancel(restartTimerId(r.spec.id));
            enqueue.stopChild(r.spec.id);
            if (c.state === 'failed' || c.state === 'stopped') continue;
            children[r.spec.id] = { ...c, state: 'stopped', nextRestartAt: undefined };
            enqueue(() => publishStatus(r.spec.id, 'stopped'));
          }
          enqueue.assign({ children });
        }),
      },
    },
  });
}

function restartTimerId(id: string): string {
  return `sup.restart.${id}`;
}

type SupervisorMachine = ReturnType<typeof createSupervisorMachine>;

/** Runs caller-supplied xstate actors as supervised children: restarts with backoff, halts past the budget, reports on the bus. */
export class Supervisor {
  /** Events `send` dropped because the target was missing or mid-restart. */
  readonly sendStats: SendStats = { dropped: {} };
  private readonly actor: Actor<SupervisorMachine>;
  private readonly ids: ReadonlySet<string>;
  private started = false;
  private stopped = false;

  constructor(opts: SupervisorOptions) {
    const seen = new Set<string>();
    for (const c of opts.children) {
      if (!c.id) throw new TypeError('supervised child needs a non-empty id');
      if (seen.has(c.id)) throw new TypeError(`supervised child id '${c.id}' is used twice`);
      seen.add(c.id);
    }
    const resolved: Resolved[] = opts.children
      .map((spec, i) => ({ spec, order: spec.order ?? i, i, policy: { ...DEFAULT_RESTART_POLICY, ...opts.defaults, ...spec.restart } }))
      .sort((a, b) => a.order - b.order || a.i - b.i);
    for (const r of resolved) validatePolicy(r.spec.id, r.policy);
    this.ids = seen;
    this.actor = createActor(createSupervisorMachine(resolved, opts, opts.rng ?? Math.random), { clock: opts.clock });
    // Without an error observer xstate rethrows a root failure as an uncaught exception; halt loudly instead.
    this.actor.subscribe({
      error: (e) => {
        const reason = scrubCrashText(`supervisor failed: ${errorText(e)}`);
        (opts.logger ?? log()).fatal({ err: e }, reason);
        opts.bus.publish({ type: 'sys.halted', reason, ts: opts.clock.now() });
      },
    });
    if (opts.routeBusErrors ?? true) {
      const previous = opts.bus.onHandlerError;
      opts.bus.onHandlerError = (f: HandlerFailure<EngineMsg>) => {
        if (f.owner !== undefined && this.ids.has(f.owner)) this.reportFailure(f.owner, f.error);
        previous?.(f);
      };
    }
  }

  /** Starts every child in ascending order; returns this. */
  start(): this {
    if (this.started) return this;
    this.started = true;
    this.actor.start();
    return this;
  }

  /** Returns the actor system (`system.get(id)` reaches a running child). */
  get system(): AnyActorSystem {
    return this.actor.system;
  }

  /** Returns every child's status in start order. */
  status(): ChildStatus[] {
    return Object.values(this.actor.getSnapshot().context.children).sort((a, b) => a.order - b.order);
  }

  /** Returns the halt that stopped trading, if a child spent its restart budget. */
  get halted(): HaltInfo | undefined {
    return this.actor.getSnapshot().context.halted;
  }

  /** Treats `error` as a failure of child `id` (stop, then restart or halt); unknown ids are ignored. */
  reportFailure(id: string, error: unknown): void {
    if (!this.started || this.stopped || !this.ids.has(id)) return;
    this.actor.send({ type: 'sup.fail', id, error });
  }

  /** Sends `event` to child `id` if it is running; returns false (and counts a drop) otherwise. */
  send(id: string, event: EventObject): boolean {
    return sendToActor(this.actor.system, id, event, this.sendStats);
  }

  /** Stops every child in reverse start order, cancelling pending restarts, then the supervisor itself. */
  stop(): void {
    if (!this.started || this.stopped) return;
    this.stopped = true;
    this.actor.send({ type: 'sup.stopAll' });
    this.actor.stop();
  }
}

function validatePolicy(id: string, p: RestartPolicy): void {
  const bad = (what: string): never => {
    throw new TypeError(`restart policy of '${id}': ${what}`);
  };
  if (!(p.initialDelayMs >= 0)) bad(`initialDelayMs ${p.initialDelayMs} must be >= 0`);
  if (!(p.maxDelayMs >= p.initialDelayMs)) bad(`maxDelayMs ${p.maxDelayMs} must be >= initialDelayMs ${p.initialDelayMs}`);
  if (!(p.factor >= 1)) bad(`factor ${p.factor} must be >= 1`);
  if (!(p.jitter >= 0 && p.jitter < 1)) bad(`jitter ${p.jitter} must be in [0, 1)`);
  if (!(Number.isInteger(p.maxRestarts) && p.maxRestarts >= 0)) bad(`maxRestarts ${p.maxRestarts} must be a non-negative integer`);
  if (!(p.windowMs > 0)) bad(`windowMs ${p.windowMs} must be > 0`);
}
