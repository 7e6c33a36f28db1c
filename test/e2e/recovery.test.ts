// Crash recovery of the real daemon: `node bin/cobalt.mjs run --config <tmp> --live` as a child process against the
// exchange simulator running in this process (keys in the child's environment), killed with SIGKILL at the worst
// moment: the simulator has taken and filled an order while a proxy (fault-proxy.ts) holds its answer, so the
// engine never learns of it — restarted, killed again the same way, restarted again. Proved after each
// restart: the executor's start-up reconciliation books exactly the fills the dead process missed (no fill
// invented, no order adopted or resent), the stored orders and position equal the venue's open orders and trades,
// each client order id was sent once (the proxy's log) and is unique at the venue, and inference history written
// before the kills is still there, record for record.
// Also a paper-mode daemon killed between the paper venue's commit of a trade and the executor's commit of its fill
// (caught by holding LMDB's write lock, see killBetweenPaperAndExecCommits): the restart books the missed fills, and
// its paper venue (balances, trades) and the executor's books come back consistent. Conditions are awaited by polling
// logs, the simulator and the store with bounded loops.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { OrderRecord, PositionRecord } from '../../actors/trading-executor/logic.ts';
import { ExecStore } from '../../engine/store/exec-store.ts';
import { InferenceHistoryStore, type InferenceRecord } from '../../engine/store/inference-history.ts';
import { LmdbStore } from '../../engine/store/lmdb.ts';
import type { Fill } from '../../engine/messages/orders.ts';
import type { ExchangeSim } from '../../engine/venues/sim/server.ts';
import { readPaperState, type PaperState } from '../../app/paper-state.ts';
import type { RiskControl } from '../../app/risk-child.ts';
import type { VenueId } from '../../engine/types/instrument.ts';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from './fault-proxy.ts';
import { RECORDINGS } from './helpers.ts';
import { netLots, scratchDir, SIM_ENV, SIM_USDT, startSim, venueView, writeLiveConfig } from './live-driver.ts';

const SPEED = 10;
const PAPER_SPEED = 30;
const BIN = path.resolve('bin/cobalt.mjs');
const wallWait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A `cobalt run` child process with its stdout lines and parsed stderr (pino JSON) lines. */
class Daemon {
  readonly logs: Record<string, unknown>[] = [];
  readonly stdout: string[] = [];
  readonly stderrText: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(args: readonly string[], env: Record<string, string>) {
    // A production-like environment: nothing of vitest's, logs as JSON on stderr.
    const base = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', TMPDIR: process.env['TMPDIR'] ?? '/tmp', COBALT_LOG_PRETTY: '0', COBALT_LOG_LEVEL: 'info' };
    this.child = spawn(process.execPath, [BIN, 'run', ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    lines(this.child.stdout!, (l) => this.stdout.push(l));
    lines(this.child.stderr!, (l) => {
      if (!l.startsWith('{')) return void this.stderrText.push(l);
      try {
        this.logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        this.stderrText.push(l);
      }
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Waits (bounded, wall time) for a log line matching `pred`; fails naming `what` and the daemon's last words. */
  async waitLog(what: string, pred: (l: Record<string, unknown>) => boolean, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    let done = false;
    void this.exited.then(() => (done = true));
    for (let waited = 0; waited < timeoutMs; waited += 25) {
      const hit = this.logs.find(pred);
      if (hit) return hit;
      if (done) break;
      await wallWait(25);
    }
    throw new Error(`daemon: no '${what}' log line (exited: ${done}); last output:\n${[...this.stderrText, ...this.logs.map((l) => JSON.stringify(l))].slice(-15).join('\n')}`);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

function lines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      fn(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

/** What the store at `dir` holds (opened, read, closed: the daemon may be running; LMDB allows concurrent readers). */
interface StoreView {
  readonly orders: OrderRecord[];
  readonly fills: Fill[];
  readonly position: PositionRecord | undefined;
  readonly history: InferenceRecord[];
  readonly paper: PaperState | undefined;
  readonly risk: RiskControl | undefined;
}

async function readStore(dir: string, venue: VenueId): Promise<StoreView> {
  const store = LmdbStore.open({ path: dir, noLock: true });
  try {
    const exec = new ExecStore<OrderRecord, PositionRecord>(store);
    const history = new InferenceHistoryStore(store, { retention: { maxRecords: 1e9, maxAgeMs: 1e15 }, archiveDir: path.join(dir, '..', 'archive') });
    return {
      orders: exec.allOrders(venue), fills: exec.fillsOf(venue, 'ETH/USDT'), position: exec.position(venue, 'ETH/USDT'),
      history: history.bySymbol('ETH/USDT'),
      paper: readPaperState(store),
      risk: store.db<string, RiskControl>('risk.control').get('control'),
    };
  } finally {
    await store.close();
  }
}

const TERMINAL = new Set(['filled', 'cancelled', 'rejected', 'expired']);

/** True when the store's orders, fills and position are the venue's (only the engine trades on this account). */
function consistent(s: StoreView, sim: ExchangeSim): boolean {
  const v = venueView(sim);
  const storeCids = new Set<string>(s.orders.map((o) => o.clientOrderId));
  const openStore = s.orders.filter((o) => !TERMINAL.has(o.status)).map((o) => String(o.clientOrderId)).sort();
  const openVenue = v.open.map((o) => o.clientOrderId).sort();
  return JSON.stringify(openStore) === JSON.stringify(openVenue)
    && v.orders.every((o) => storeCids.has(o.clientOrderId))
    && JSON.stringify(s.fills.map((f) => f.tradeId).sort()) === JSON.stringify(v.trades.map((t) => String(t.tradeId)).sort())
    && (s.position?.netLots ?? 0) === netLots(v.trades);
}

/** Polls the store (bounded) until it agrees with the venue; returns the agreeing view or fails with both sides. */
async function untilConsistent(storeDir: string, sim: ExchangeSim, what: string, timeoutMs = 20_000): Promise<StoreView> {
  let s: StoreView | undefined;
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    s = await readStore(storeDir, 'binance');
    if (consistent(s, sim)) return s;
    await wallWait(100);
  }
  const v = venueView(sim);
  throw new Error(`${what}: store never matched the venue. store: ${JSON.stringify({ orders: s?.orders.map((o) => [o.clientOrderId, o.status]), fills: s?.fills.map((f) => f.tradeId), net: s?.position?.netLots })}; venue: ${JSON.stringify({ orders: v.orders.map((o) => [o.clientOrderId, o.status]), trades: v.trades.map((t) => t.tradeId) })}`);
}

/**
 * Resolves with the client id of the next order the proxy stalls after the simulator took it, having SIGKILLed `d`
 * first: the venue has the order (and its fills), the engine never got the answer.
 */
function killOnStalledOrder(proxy: FaultProxy, d: Daemon, market: MarketPump): Promise<string> {
  return new Promise((resolve) => {
    const h = (r: ProxiedRequest): void => {
      if (r.method !== 'POST' || r.path !== '/api/v3/order' || r.fault !== 'stall') return;
      d.kill('SIGKILL');
      market.pauseUntilNextStart(proxy);
      proxy.events.off('request', h);
      resolve(r.params['newClientOrderId']!);
    };
    proxy.events.on('request', h);
  });
}

/**
 * Rejects as soon as the daemon's persisted risk state leaves 'active' (nothing trades after that): a restarted
 * engine that miscounts what the venue already did would halt here instead of trading.
 */
async function riskHalts(storeDir: string, stop: { done: boolean }): Promise<never> {
  while (!stop.done) {
    await wallWait(500);
    if (stop.done) break;
    const r = (await readStore(storeDir, 'binance')).risk;
    if (r && r.tradingState !== 'active') throw new Error(`risk manager went ${r.tradingState}: ${r.stateReason}`);
  }
  return new Promise<never>(() => undefined);
}

/**
 * Kills the paper daemon `d` inside the window between the paper venue's commit of a trade (its state is written
 * before the executor hears of the fill) and the executor's commit of that fill. For a fill held behind its order's
 * submission (a marketable order), that commit comes at least one commit later. No product hook: LMDB has one write
 * lock shared by every process on the environment, and this holds it nearly all the time, in synchronous write
 * transactions, letting the daemon's writer through in the short gap (one event-loop turn) between two of them. In
 * each it reads what is committed; as soon as the paper state holds a trade the executor's fills lack, it SIGKILLs
 * the daemon while still holding the lock, so the fill's commit cannot land. Returns the ids of the unbooked trades.
 */
async function killBetweenPaperAndExecCommits(storeDir: string, d: Daemon, timeoutMs: number): Promise<string[]> {
  const store = LmdbStore.open({ path: storeDir, syncCommits: true, noLock: true });
  let exited = false;
  void d.exited.then(() => (exited = true));
  try {
    const paper = store.db<string, PaperState>('paper.state');
    const exec = new ExecStore<OrderRecord, PositionRecord>(store);
    let gates = 0;
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline && !exited; gates++) {
      const missed = await paper.transaction(() => {
        const booked = new Set(exec.fillsOf('paper', 'ETH/USDT').map((f) => f.tradeId));
        const m = (readPaperState(store)?.trades ?? []).filter((t) => t.symbol === 'ETH/USDT' && !booked.has(t.tradeId)).map((t) => t.tradeId);
        if (m.length > 0) d.kill('SIGKILL');
        return m;
      });
      if (missed.length > 0) return missed;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`paper daemon: no commit of a paper trade ahead of its fill's within ${timeoutMs} ms (exited: ${exited}, ${gates} gates)`);
  } finally {
    await store.close();
  }
}

/** The simulator's replay, driven at `speed` times wall time by the test, paused while no daemon runs. */
interface MarketPump {
  /** Pauses now; resumes when the next daemon reads the venue's time (the t0 of its ScaledClock, its first request). */
  pauseUntilNextStart(proxy: FaultProxy): void;
  stop(): void;
}

/**
 * Replays `sim` (started 'manual') at `speed`. The recording is 11 minutes (65 s of wall time at 10x) and the first
 * order comes about 5.8 minutes in: a restarted daemon has what is left of it to start, reconcile and trade. Its start
 * (node, tsx, the imports) took 4-17 s of wall time here, more on a busy machine, and a market that ran on meanwhile
 * ended before the second life could trade (no mark, no exit: 'life 2: no order reached the venue').
 */
function pumpMarket(sim: ExchangeSim, speed: number): MarketPump {
  let sim0 = sim.clock.now();
  let wall0 = Date.now();
  let paused = false;
  let stopped = false;
  let busy = false;
  const tick = (): void => {
    if (stopped) return;
    if (!paused && !busy && !sim.replay.ended) {
      busy = true;
      void sim.replay.advanceTo(sim0 + (Date.now() - wall0) * speed).finally(() => (busy = false));
    }
    setTimeout(tick, 5);
  };
  tick();
  const pump: MarketPump = {
    pauseUntilNextStart: (proxy) => {
      paused = true;
      const h = (r: ProxiedRequest): void => {
        if (r.path !== '/api/v3/time') return;
        proxy.events.off('request', h);
        sim0 = sim.clock.now();
        wall0 = Date.now();
        paused = false;
      };
      proxy.events.on('request', h);
    },
    stop: () => void (stopped = true),
  };
  pumps.push(pump);
  return pump;
}

/** Rejects once the recording has been replayed to its end: no order can come after it (the market is frozen). */
async function recordingEnds(sim: ExchangeSim, life: number, stop: { done: boolean }): Promise<never> {
  while (!stop.done) {
    if (sim.replay.ended) throw new Error(`life ${life}: the recording ended (venue time ${new Date(sim.clock.now()).toISOString()}) before an order; the restart was too slow`);
    await wallWait(250);
  }
  return new Promise<never>(() => undefined);
}

const pumps: MarketPump[] = [];
const sims: ExchangeSim[] = [];
const proxies: FaultProxy[] = [];
const daemons: Daemon[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const p of pumps) p.stop();
  for (const d of daemons) d.kill('SIGKILL');
  await Promise.all(daemons.map((d) => d.exited));
  for (const p of proxies) await p.close();
  for (const s of sims) await s.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('kill -9 and restart of the live daemon against the simulator', () => {
  // About 60 s on CI; runs on a machine busy with other work reached 150 s: the steps inside have their own limits.
  it('restarts twice after SIGKILL right after an order: books what it missed, equals the venue, no duplicates', { timeout: 300_000 }, async () => {
    // Replayed by the test, not by the simulator's own timer: the market waits while no daemon runs (pumpMarket).
    const sim = await startSim('manual');
    sims.push(sim);
    const market = pumpMarket(sim, SPEED);
    // Orders go through a proxy that holds the venue's answer to the first order of each of the two lives: the
    // daemon is killed while it waits for it.
    const proxy = await startFaultProxy(sim.url, [1, 2].map((nth) => ({ method: 'POST', path: '/api/v3/order', nth, fault: { kind: 'stall', forward: true } }) as const));
    proxies.push(proxy);
    // Life 1's start (the first, on a cold tsx cache the slowest) must not use up the recording either.
    market.pauseUntilNextStart(proxy);
    const dir = scratchDir('recovery');
    dirs.push(dir);
    const storeDir = path.join(dir, 'store');
    const config = writeLiveConfig(dir, { rest: proxy.url, ws: sim.wsUrl }, { risk: { maxDrawdownPct: 1 } });
    const args = ['--config', config, '--live', '--speed', String(SPEED)];
    const start = (): Daemon => {
      const d = new Daemon(args, SIM_ENV);
      daemons.push(d);
      return d;
    };
    const lives: { killedCid: string; missedFills: number }[] = [];
    let historyBeforeKills: InferenceRecord[] = [];

    // Life 1: trade, then die the instant the venue answers an order.
    let d = start();
    await d.waitLog('engine running', (l) => l['msg'] === 'engine running');
    // `--live` prints the account and the caps before the engine starts.
    const banner = JSON.parse(d.stdout[0]!) as { account: Record<string, { free: string }>; venue: unknown; increments: unknown };
    expect(Number(banner.account['USDT']!.free)).toBe(Number(SIM_USDT));
    expect(banner.venue).toEqual({ venue: 'binance', restUrl: proxy.url });
    expect(banner.increments).toEqual({ symbol: 'ETH/USDT', tickSize: '0.01', lotSize: '0.0001', minNotional: '5' });
    for (let life = 1; life <= 2; life++) {
      const watch = { done: false };
      const killedCid = await withTimeout(Promise.race([killOnStalledOrder(proxy, d, market), riskHalts(storeDir, watch), recordingEnds(sim, life, watch)]), 90_000, `life ${life}: no order reached the venue`)
        .finally(() => (watch.done = true));
      expect(await d.exited).toMatchObject({ signal: 'SIGKILL' });
      // The dead process had not booked the venue's answer: the order is still 'submitted' in its store, its fills absent.
      const dead = await readStore(storeDir, 'binance');
      const venueFills = venueView(sim).trades.filter((t) => String(t.orderId) === String(venueView(sim).orders.find((o) => o.clientOrderId === killedCid)!.id));
      const killed = dead.orders.find((o) => o.clientOrderId === killedCid);
      expect(killed?.status).toBe('submitted');
      expect(venueFills.length).toBeGreaterThan(0);
      const missed = venueView(sim).trades.filter((t) => !dead.fills.some((f) => f.tradeId === String(t.tradeId))).length;
      lives.push({ killedCid, missedFills: missed });
      if (life === 1) {
        // Inference history written before the first kill.
        expect(dead.history.length).toBeGreaterThan(0);
        historyBeforeKills = dead.history;
      }

      // Restart: the start-up reconciliation books exactly what was missed, adopts nothing, and the store equals the venue.
      d = start();
      const rec = await d.waitLog('executor reconciled', (l) => l['msg'] === 'executor reconciled with the venue');
      expect(rec['report']).toMatchObject({ fillsApplied: missed, ordersAdopted: 0 });
      const now = await untilConsistent(storeDir, sim, `after restart ${life}`);
      expect(now.orders.find((o) => o.clientOrderId === killedCid)?.status).toBe('filled');
      await d.waitLog('engine running', (l) => l['msg'] === 'engine running');
    }

    // Third life: stop gracefully, then compare everything once more.
    d.kill('SIGTERM');
    expect(await withTimeout(d.exited, 30_000, 'SIGTERM did not stop the daemon')).toMatchObject({ code: 0 });
    const end = await untilConsistent(storeDir, sim, 'after the graceful stop', 1_000);
    const v = venueView(sim);
    const cids = v.orders.map((o) => o.clientOrderId);
    expect(new Set(cids).size).toBe(cids.length);
    // Each client order id went out exactly once (no resend across the kills), and every venue order was one of ours.
    const posted = proxy.requests.filter((r) => r.method === 'POST' && r.path === '/api/v3/order').map((r) => r.params['newClientOrderId']!);
    expect(posted.filter((c, i) => posted.indexOf(c) !== i)).toEqual([]);
    expect(cids.filter((c) => !posted.includes(c))).toEqual([]);
    expect(posted).toEqual(expect.arrayContaining(lives.map((l) => l.killedCid)));
    expect(end.orders.filter((o) => o.adopted)).toEqual([]);
    expect(end.orders.filter((o) => !TERMINAL.has(o.status))).toEqual([]);
    expect(end.position?.netLots ?? 0).toBe(netLots(v.trades));
    expect(end.risk?.tradingState ?? 'active').toBe('active');
    // Inference history from before the first kill is all still there, each record whole (input tensor, output).
    const key = (h: InferenceRecord): string => `${h.model}@${h.ts}`;
    const after = new Map(end.history.map((h) => [key(h), h]));
    expect(historyBeforeKills.filter((h) => !after.has(key(h))).map(key)).toEqual([]);
    expect(historyBeforeKills.map((h) => after.get(key(h)))).toEqual(historyBeforeKills);
    expect(lives.map((l) => l.missedFills).every((n) => n > 0)).toBe(true);
  });
});

describe('kill -9 and restart of the paper daemon', () => {
  it('brings back the paper account and the executor books consistent with it', { timeout: 150_000 }, async () => {
    const dir = scratchDir('recovery-paper');
    dirs.push(dir);
    const storeDir = path.join(dir, 'store');
    const config = writeLiveConfig(dir, { rest: 'http://127.0.0.1:1', ws: 'ws://127.0.0.1:1' }, {
      mode: 'paper', data: { replayFiles: RECORDINGS.map((f) => path.resolve(f)), speed: PAPER_SPEED, loop: false },
    });
    const args = ['--config', config, '--speed', String(PAPER_SPEED)];
    let d = new Daemon(args, {});
    daemons.push(d);
    await d.waitLog('engine running', (l) => l['msg'] === 'engine running');
    // Trade, then die between the paper venue's commit of a trade and the executor's commit of its fill.
    const missedIds = await killBetweenPaperAndExecCommits(storeDir, d, 90_000);
    expect(await d.exited).toMatchObject({ signal: 'SIGKILL' });
    const dead = await readStore(storeDir, 'paper');
    const trades = dead.paper!.trades;
    expect(trades.filter((t) => !dead.fills.some((f) => f.tradeId === t.tradeId)).map((t) => t.tradeId)).toEqual(missedIds);
    expect(missedIds.length).toBeGreaterThan(0);
    const missed = missedIds.length;

    d = new Daemon(args, {});
    daemons.push(d);
    const restored = await d.waitLog('paper account restored', (l) => l['msg'] === 'paper account restored from the store');
    expect(restored['restored']).toMatchObject({ balances: true, trades: trades.length });
    const rec = await d.waitLog('executor reconciled', (l) => l['msg'] === 'executor reconciled with the venue');
    expect(rec['report']).toMatchObject({ fillsApplied: missed, ordersAdopted: 0 });
    await d.waitLog('engine running', (l) => l['msg'] === 'engine running');
    d.kill('SIGTERM');
    expect(await withTimeout(d.exited, 30_000, 'SIGTERM did not stop the paper daemon')).toMatchObject({ code: 0 });

    const end = await readStore(storeDir, 'paper');
    const p = end.paper!;
    // Every paper trade from before the kill is still in the paper account, and the executor booked each one once.
    expect(p.trades.slice(0, trades.length)).toEqual(trades);
    expect(end.fills.map((f) => f.tradeId).sort()).toEqual(p.trades.map((t) => t.tradeId).sort());
    expect(end.position?.netLots ?? 0).toBe(netLots(p.trades));
    expect(end.orders.filter((o) => !TERMINAL.has(o.status)).map((o) => o.clientOrderId).sort()).toEqual(p.open.map((o) => o.clientOrderId).sort());
    // The paper balances are what its trades imply from the starting 10 000 USDT.
    expect(p.balances).toEqual(impliedBalances(p.trades));
  });
});

/** Paper balances implied by `trades` from SIM_USDT (tick 0.01 USDT, lot 0.0001 ETH; fees in the asset received). */
function impliedBalances(trades: PaperState['trades']): Record<string, bigint> {
  let usdt = BigInt(SIM_USDT) * 1_000_000_000n;
  let eth = 0n;
  for (const t of trades) {
    const q = BigInt(t.price) * BigInt(t.lots) * 1_000n; // ticks × lots × (0.01 × 0.0001 × 1e9)
    if (t.side === 'buy') {
      usdt -= q;
      eth += BigInt(t.lots) * 100_000n;
    } else {
      usdt += q;
      eth -= BigInt(t.lots) * 100_000n;
    }
    if (t.feeAsset === 'USDT') usdt -= t.fee;
    else eth -= t.fee;
  }
  return { USDT: usdt, ETH: eth };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(what)), ms)));
  try {
    return await Promise.race([p, guard]);
  } finally {
    clearTimeout(t);
  }
}

