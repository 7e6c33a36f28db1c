// Model registry: named models, each with versions (a runner plus metadata), one active version, a rollback
// history, and health. A model that fails (throws, times out, returns garbage) `maxConsecutiveFailures` times in a
// row is dropped from the blend (state 'failed'); after `coolDownMs` it gets one probe run (state 'probing'):
// success re-admits it, failure drops it for another cool-down. Activating or rolling back a version resets health:
// a different version deserves a fresh start. Every change comes back as a `signal.modelStatus` message for the
// caller to publish. The orchestrator knows models only through this registry: adding one needs no other change.
import type { ModelHealth, ModelStatusMsg } from '../../engine/messages/orchestrator.ts';
import type { ModelOutput } from '../../engine/messages/signals.ts';
import { ConfigError } from '../../engine/types/errors.ts';
import type { TsMs } from '../../engine/types/time.ts';

/** What a model reads: the packed BaseDataInput row (engine/market/base-data-input.ts). */
export type InputKind = 'baseDataInput';

/** What a runner is told about the run. */
export interface RunContext {
  readonly model: string;
  readonly version: string;
  readonly symbol: string;
  /** The input tick's time. */
  readonly ts: TsMs;
  /** Outputs of this model's dependencies from the same input tick; a dependency that produced nothing is absent. */
  readonly deps: ReadonlyMap<string, ModelOutput>;
}

/** Turns one input into one output; may reject (counted as a failure). */
export type ModelRunner = (input: Float32Array, ctx: RunContext) => Promise<ModelOutput>;

/** One version of a model as registered. */
export interface ModelVersionSpec {
  readonly version: string;
  readonly run: ModelRunner;
  readonly inputKind?: InputKind;
  /** Models whose same-tick outputs this one reads (e.g. the RL agent reads the CNN's hidden state). */
  readonly dependsOn?: readonly string[];
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** A registered version. */
export interface ModelVersion {
  readonly version: string;
  readonly run: ModelRunner;
  readonly inputKind: InputKind;
  readonly dependsOn: readonly string[];
  readonly meta: Readonly<Record<string, unknown>>;
  readonly registeredAt: TsMs;
}

/** When a model is dropped and when it is probed again. */
export interface HealthPolicy {
  /** Failures in a row that drop a model from the blend. */
  readonly maxConsecutiveFailures: number;
  /** Time from the drop (or a failed probe) to the next probe run. */
  readonly coolDownMs: number;
}

/**
 * Versions the rollback history keeps per model, newest; older ones drop off it (they stay registered, and `remove`
 * may take them). Without a bound every online promotion (app/online-learning.ts, app/online-dqn.ts) pushed the
 * previous version for good, and the online checkpoint store, which protected every version a rollback could reach,
 * kept all of them. 5: that store keeps the newest 5 promoted checkpoints besides the active version and rollbackTo[0],
 * so each version a rollback can reach still has its files; a restart keeps one step (app/models.ts).
 */
export const ROLLBACK_DEPTH = 5;

/** Default health policy: 3 failures in a row drop a model; a probe every 60 s. */
export const DEFAULT_HEALTH_POLICY: HealthPolicy = { maxConsecutiveFailures: 3, coolDownMs: 60_000 };

/** A model as `list()` shows it. */
export interface ModelInfo {
  readonly name: string;
  readonly active: string;
  readonly versions: readonly string[];
  /** Versions `rollback` would go back through, most recent first (at most ROLLBACK_DEPTH). */
  readonly rollbackTo: readonly string[];
  readonly health: ModelHealth;
  readonly consecutiveFailures: number;
  readonly runs: number;
  readonly failures: number;
  /** The failures that were a run past its deadline (ModelTimeoutError, code MODEL_TIMEOUT). */
  readonly timeouts: number;
  readonly lastError?: string;
  /** When the next probe is due (failed models only). */
  readonly probeAt?: TsMs;
  readonly dependsOn: readonly string[];
}

/** A model due to run, and whether the run is a re-admission probe. */
export interface Runnable { readonly name: string; readonly probe: boolean }

interface Entry {
  readonly name: string;
  readonly order: number;
  readonly versions: Map<string, ModelVersion>;
  active: string;
  history: string[];
  health: ModelHealth;
  consecutive: number;
  failedAt: TsMs;
  runs: number;
  failures: number;
  timeouts: number;
  lastError?: string;
}

const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Models, their versions, rollback history and health. */
export class ModelRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly policy: HealthPolicy;
  // Every tick asks for the runnable list; it only changes with a registration, a version switch or a health change,
  // which clear these. `runnableCache` is kept only while no model is failed (a failed one's probe is due by time).
  private namesCache: string[] | undefined;
  private runnableCache: Runnable[] | undefined;

  constructor(policy: Partial<HealthPolicy> = {}) {
    this.policy = { ...DEFAULT_HEALTH_POLICY, ...policy };
    const p = this.policy;
    if (!Number.isInteger(p.maxConsecutiveFailures) || p.maxConsecutiveFailures < 1) {
      throw new ConfigError(`model health: maxConsecutiveFailures must be a positive integer, got ${p.maxConsecutiveFailures}`);
    }
    if (!(p.coolDownMs >= 0)) throw new ConfigError(`model health: coolDownMs must be >= 0, got ${p.coolDownMs}`);
  }

  /**
   * Adds a version of `name` (creating the model). The first version of a model becomes active; a later one only with
   * `activate: true`. Returns the status message when the active version changed. Throws on a duplicate version,
   * an empty name, or a dependency cycle.
   */
  register(name: string, spec: ModelVersionSpec, now: TsMs, opts: { activate?: boolean } = {}): ModelStatusMsg | undefined {
    if (!name) throw new ConfigError('model name must not be empty');
    if (!spec.version) throw new ConfigError(`model ${name}: version must not be empty`);
    if (typeof spec.run !== 'function') throw new ConfigError(`model ${name} ${spec.version}: run must be a function`);
    const dependsOn = [...(spec.dependsOn ?? [])];
    if (dependsOn.includes(name)) throw new ConfigError(`model ${name} cannot depend on itself`);
    let e = this.entries.get(name);
    if (e?.versions.has(spec.version)) throw new ConfigError(`model ${name} already has version ${spec.version}`);
    const v: ModelVersion = { version: spec.version, run: spec.run, inputKind: spec.inputKind ?? 'baseDataInput', dependsOn, meta: { ...spec.meta }, registeredAt: now };
    const isNew = e === undefined;
    if (!e) {
      e = { name, order: this.entries.size, versions: new Map(), active: spec.version, history: [], health: 'active', consecutive: 0, failedAt: 0, runs: 0, failures: 0, timeouts: 0 };
    }
    const activate = isNew || opts.activate === true;
    this.checkAcyclic(name, activate ? dependsOn : undefined);
    e.versions.set(spec.version, v);
    if (isNew) {
      this.entries.set(name, e);
      this.changed();
      return this.status(e, `registered version ${spec.version}`, now);
    }
    return activate ? this.switchTo(e, spec.version, true, `activated version ${spec.version}`, now) : undefined;
  }

  /** Makes `version` of `name` active (the current one goes on the rollback history). */
  activate(name: string, version: string, now: TsMs): ModelStatusMsg {
    const e = this.entry(name);
    const v = e.versions.get(version);
    if (!v) throw new ConfigError(`model ${name} has no version ${version} (has ${[...e.versions.keys()].join(', ')})`);
    if (e.active === version) return this.status(e, `version ${version} already active`, now);
    this.checkAcyclic(name, v.dependsOn);
    return this.switchTo(e, version, true, `activated version ${version}`, now);
  }

  /** Re-activates the version active before the current one; throws when there is none. */
  rollback(name: string, now: TsMs): ModelStatusMsg {
    const e = this.entry(name);
    const prev = e.history[e.history.length - 1];
    if (prev === undefined) throw new ConfigError(`model ${name} has no earlier version to roll back to (active ${e.active})`);
    const from = e.active;
    this.checkAcyclic(name, e.versions.get(prev)!.dependsOn);
    e.history.pop();
    return { ...this.switchTo(e, prev, false, `rolled back from ${from} to ${prev}`, now), rolledBackFrom: from };
  }

  /**
   * Removes `version` of `name`, which must be neither active nor on the rollback history (no rollback can reach it):
   * its runner, and whatever network it holds, is no longer kept. Returns false when there is no such version.
   */
  remove(name: string, version: string): boolean {
    const e = this.entry(name);
    if (!e.versions.has(version)) return false;
    if (e.active === version) throw new ConfigError(`model ${name}: cannot remove version ${version}, it is active`);
    if (e.history.includes(version)) throw new ConfigError(`model ${name}: cannot remove version ${version}, a rollback can reach it`);
    e.versions.delete(version);
    this.changed();
    return true;
  }

  /** Returns true when `name` is registered. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Returns the active version of `name`. */
  active(name: string): ModelVersion | undefined {
    const e = this.entries.get(name);
    return e ? e.versions.get(e.active) : undefined;
  }

  /** Returns how many models are registered. */
  get size(): number {
    return this.entries.size;
  }

  /** Returns the model names in registration order. */
  names(): string[] {
    this.namesCache ??= [...this.entries.values()].sort((a, b) => a.order - b.order).map((e) => e.name);
    return this.namesCache.slice();
  }

  /** Returns every model's versions, health and counters. */
  list(): ModelInfo[] {
    return this.names().map((n) => {
      const e = this.entries.get(n)!;
      return {
        name: e.name,
        active: e.active,
        versions: [...e.versions.keys()],
        rollbackTo: [...e.history].reverse(),
        health: e.health,
        consecutiveFailures: e.consecutive,
        runs: e.runs,
        failures: e.failures,
        timeouts: e.timeouts,
        dependsOn: e.versions.get(e.active)!.dependsOn,
        ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
        ...(e.health === 'failed' ? { probeAt: e.failedAt + this.policy.coolDownMs } : {}),
      };
    });
  }

  /** Returns the health of `name`. */
  health(name: string): ModelHealth | undefined {
    return this.entries.get(name)?.health;
  }

  /** Returns true when the outputs of `name` may enter the blend (active, not failed or under probe). */
  blendable(name: string): boolean {
    return this.entries.get(name)?.health === 'active';
  }

  /**
   * Returns the models to run now, in dependency order: active ones, plus failed ones whose cool-down is over
   * (marked as probes). A probe already running is not returned again.
   */
  runnable(now: TsMs): Runnable[] {
    if (this.runnableCache) return this.runnableCache.slice();
    let anyFailed = false;
    const out: Runnable[] = [];
    for (const n of this.names()) {
      const e = this.entries.get(n)!;
      if (e.health === 'active') out.push({ name: n, probe: false });
      else if (e.health === 'failed') {
        anyFailed = true;
        if (now >= e.failedAt + this.policy.coolDownMs) out.push({ name: n, probe: true });
      }
    }
    const order = this.order(out.map((r) => r.name));
    const list = order.map((n) => out.find((r) => r.name === n)!);
    if (!anyFailed) this.runnableCache = list.slice();
    return list;
  }

  /** Marks a failed model as under probe; returns its status message. */
  beginProbe(name: string, now: TsMs): ModelStatusMsg | undefined {
    const e = this.entry(name);
    if (e.health !== 'failed') return undefined;
    e.health = 'probing';
    this.changed();
    return this.status(e, `cool-down of ${this.policy.coolDownMs} ms over: probing`, now);
  }

  /** Records a good run of `version`; returns a status message when it re-admits the model. Stale versions are ignored. */
  recordSuccess(name: string, version: string, now: TsMs): ModelStatusMsg | undefined {
    const e = this.entries.get(name);
    if (!e || e.active !== version) return undefined;
    e.runs++;
    e.consecutive = 0;
    if (e.health === 'active') return undefined;
    e.health = 'active';
    this.changed();
    return this.status(e, 'probe succeeded: back in the blend', now);
  }

  /** Records a failed run of `version`; returns a status message when it drops the model. Stale versions are ignored. */
  recordFailure(name: string, version: string, error: unknown, now: TsMs): ModelStatusMsg | undefined {
    const e = this.entries.get(name);
    if (!e || e.active !== version) return undefined;
    e.runs++;
    e.failures++;
    // By code: ModelTimeoutError lives in ./coordinator.ts, which builds on this module.
    if ((error as { code?: unknown } | null)?.code === 'MODEL_TIMEOUT') e.timeouts++;
    e.consecutive++;
    e.lastError = errorText(error);
    if (e.health === 'probing') {
      e.health = 'failed';
      e.failedAt = now;
      this.changed();
      return this.status(e, `probe failed (${e.lastError}): dropped for another ${this.policy.coolDownMs} ms`, now);
    }
    if (e.health === 'active' && e.consecutive >= this.policy.maxConsecutiveFailures) {
      e.health = 'failed';
      e.failedAt = now;
      this.changed();
      return this.status(e, `${e.consecutive} failures in a row (last: ${e.lastError}): dropped from the blend, probe in ${this.policy.coolDownMs} ms`, now);
    }
    return undefined;
  }

  /** Returns `names` in dependency order (a model after those it depends on), ties in registration order. */
  order(names: readonly string[]): string[] {
    const set = new Set(names);
    const done = new Set<string>();
    const out: string[] = [];
    const sorted = [...names].sort((a, b) => this.entry(a).order - this.entry(b).order);
    while (out.length < sorted.length) {
      const next = sorted.find((n) => !done.has(n) && this.active(n)!.dependsOn.every((d) => !set.has(d) || done.has(d)));
      // Cycles are refused at register/activate time, so there is always a next one.
      if (next === undefined) throw new ConfigError(`model dependency cycle among ${sorted.filter((n) => !done.has(n)).join(', ')}`);
      done.add(next);
      out.push(next);
    }
    return out;
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new ConfigError(`no model named ${name} (registered: ${this.names().join(', ') || 'none'})`);
    return e;
  }

  private switchTo(e: Entry, version: string, pushHistory: boolean, reason: string, now: TsMs): ModelStatusMsg {
    if (pushHistory) {
      e.history.push(e.active);
      if (e.history.length > ROLLBACK_DEPTH) e.history.splice(0, e.history.length - ROLLBACK_DEPTH);
    }
    e.active = version;
    e.health = 'active';
    e.consecutive = 0;
    e.lastError = undefined;
    this.changed();
    return this.status(e, reason, now);
  }

  // Follows the active versions' dependencies, with `name` using `deps` when given, and throws on a cycle through it.
  private checkAcyclic(name: string, deps: readonly string[] | undefined): void {
    if (deps === undefined) return;
    const depsOf = (n: string): readonly string[] => (n === name ? deps : this.active(n)?.dependsOn ?? []);
    const seen = new Set<string>();
    const stack = [...deps];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n === name) throw new ConfigError(`model ${name}: dependencies [${deps.join(', ')}] form a cycle back to ${name}`);
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...depsOf(n));
    }
  }

  private changed(): void {
    this.namesCache = undefined;
    this.runnableCache = undefined;
  }

  private status(e: Entry, reason: string, now: TsMs): ModelStatusMsg {
    return { type: 'signal.modelStatus', model: e.name, version: e.active, state: e.health, consecutiveFailures: e.consecutive, reason, ts: now };
  }
}
