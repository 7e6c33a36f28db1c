// The Binance-compatible exchange simulator: node:http + ws on 127.0.0.1, serving a replayed recording and matching
// orders of configured accounts. See engine/venues/sim/README.md for the endpoints, streams and the rules.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Candle } from '../../messages/market.ts';
import { klinesFileMatches, loadKlinesCsv } from '../../market/klines-csv.ts';
import { LiveClock, SimulatedClock, type Clock } from '../../runtime/clock.ts';
import { parseFixed } from '../../types/decimal.ts';
import { ConfigError } from '../../types/errors.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, type Instrument, type InstrumentSpec } from '../../types/instrument.ts';
import { log } from '../../log.ts';
import { SimAccount, type SimAccountSpec } from './accounts.ts';
import { apiErrors, SimApiError } from './errors.ts';
import { SymbolMarket } from './feed.ts';
import { SIM_INTERVALS, type KlineHistory } from './klines.ts';
import { OrderCountLimiter, WeightLimiter } from './rate-limit.ts';
import { RecordingMerge } from './replay.ts';
import { MEXC_KEY_HEADER, MEXC_PREFIX, mexcError, mexcRoutes } from './mexc.ts';
import { routes } from './rest.ts';
import { splitSignature, timestampVerdict, verifySignature } from './signing.ts';
import { SimVenue } from './venue.ts';
import { WsHub } from './ws.ts';

/** How fast the replay runs: a multiple of real time, 'max' (or 0) as fast as possible, 'manual' only when told. */
export type SimSpeed = number | 'max' | 'manual';

/** Options of `startExchangeSim`. */
export interface ExchangeSimOptions {
  /** Recording files (`<ts_ns> <json>` lines, gzip or plain); several symbols and consecutive days are merged. */
  readonly files: readonly string[];
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  readonly port?: number;
  readonly speed?: SimSpeed;
  readonly accounts?: readonly SimAccountSpec[];
  /** Fee rates as decimal strings (Binance default 0.1% = '0.001'). */
  readonly makerFee?: string;
  readonly takerFee?: string;
  /** Order activation latency on the replay clock. */
  readonly latencyMs?: number;
  /** Request weight allowed per wall-clock minute before 429 / -1003. */
  readonly weightLimitPerMinute?: number;
  /** Folder holding `*_<BASE>_<QUOTE>-1m.csv[.gz]` kline history; default the bundled data/klines. */
  readonly klinesDir?: string;
  /**
   * Instrument increments by venue (`SOLUSDT`) or unified (`SOL/USDT`) symbol, laid over the bundled Binance spot ones
   * (an entry for a bundled symbol replaces it). A recorded symbol with neither is refused.
   */
  readonly instruments?: Readonly<Record<string, InstrumentSpec>>;
  /** Wall clock for request timestamps and rate limits (tests inject a SimulatedClock). */
  readonly wallClock?: Clock;
}

/** Replay control of a running simulator. */
export interface ReplayControl {
  /** Replays every line up to `simMs` on the replay clock, then moves the clock there. */
  advanceTo(simMs: number): Promise<void>;
  /** Replays the next `ms` of the recording. */
  advanceBy(ms: number): Promise<void>;
  /** True once every line has been replayed, or the replay stopped at an unreadable recording (`error`). */
  readonly ended: boolean;
  /** Why the replay stopped early (a corrupt or truncated file): the market stays frozen as at the end of data. */
  readonly error: Error | undefined;
}

/** A running simulator. */
export interface ExchangeSim {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  /** The replay clock: the exchange's "now" (/api/v3/time, klines, order times). */
  readonly clock: SimulatedClock;
  readonly venue: SimVenue;
  readonly replay: ReplayControl;
  /** 'request' ({ method, path, status }), 'subscribe' (stream), 'connection' (path). */
  readonly events: EventEmitter;
  readonly hub: WsHub;
  /** Abruptly drops every WebSocket connection; returns how many were open. */
  dropAllConnections(): number;
  close(): Promise<void>;
}

const DEFAULT_KLINES_DIR = fileURLToPath(new URL('../../../data/klines', import.meta.url));

/** Returns the instrument spec of a venue symbol from `specs` (keyed by venue or unified symbol). */
function instrumentFor(venueSymbol: string, specs: Readonly<Record<string, InstrumentSpec>>): Instrument {
  const direct = specs[venueSymbol];
  const spec = direct ?? Object.values(specs).find((s) => (s.venueSymbol ?? s.symbol.replace('/', '')) === venueSymbol);
  if (!spec) throw new ConfigError(`no instrument increments for recorded symbol ${venueSymbol}: pass them in options.instruments (cobalt exchange-sim: --config with the symbol under instruments)`);
  return makeInstrument({ ...spec, venue: 'sim', venueSymbol });
}

// The symbol's kline CSVs in `dir`: 1m (built on by the replayed trades) and any longer interval the sim serves
// (`*_ETH_USDT-1h.csv.gz`, `*_ETHUSDT_1d.csv.gz`, as the replay's kline archive names them).
function loadHistory(dir: string, inst: Instrument): KlineHistory {
  if (!existsSync(dir)) return { m1: [] };
  const files = readdirSync(dir).sort();
  const read = (tf: string): Candle[] => {
    const name = files.find((f) => klinesFileMatches(f, inst.symbol, tf));
    if (!name) return [];
    const file = loadKlinesCsv(join(dir, name));
    if (file.errors.length > 0) log().warn({ file: name, skipped: file.errors.length }, 'kline rows skipped');
    return file.candles;
  };
  const native = new Map<number, Candle[]>();
  for (const [tf, ms] of Object.entries(SIM_INTERVALS)) {
    if (tf === '1m') continue;
    const candles = read(tf);
    if (candles.length > 0) native.set(ms, candles);
  }
  return { m1: read('1m'), native };
}

function rateOf(s: string, what: string): bigint {
  try {
    const v = parseFixed(s);
    if (v < 0n || v > 1_000_000_000n) throw new Error('out of range');
    return v;
  } catch {
    throw new ConfigError(`${what} '${s}' must be a decimal fee rate between 0 and 1`);
  }
}

/** Starts the simulator: reads the recordings, replays until every book is synced, then listens on 127.0.0.1. */
export async function startExchangeSim(opts: ExchangeSimOptions): Promise<ExchangeSim> {
  const speed = opts.speed ?? 1;
  if (typeof speed === 'number' && (!Number.isFinite(speed) || speed < 0)) throw new ConfigError(`speed ${speed} must be a non-negative number, 'max' or 'manual'`);
  const wall = opts.wallClock ?? new LiveClock();
  const makerFee = opts.makerFee ?? '0.001';
  const takerFee = opts.takerFee ?? '0.001';
  const merge = await RecordingMerge.open(opts.files);
  const firstNs = merge.peekNs();
  if (firstNs === undefined) throw new ConfigError(`recordings ${opts.files.join(', ')} hold no lines`);
  const simMsOf = (ns: bigint): number => Number(ns / 1_000_000n) + merge.offsetMs;
  const clock = new SimulatedClock(simMsOf(firstNs));
  const venue = new SimVenue(clock, makerFee, takerFee);
  const events = new EventEmitter();
  const hub = new WsHub({ onSubscribe: (s) => events.emit('subscribe', s), onConnection: (p) => events.emit('connection', p) });
  const engineCfg = {
    clock, makerFeeRate9: rateOf(makerFee, 'makerFee'), takerFeeRate9: rateOf(takerFee, 'takerFee'), latencyMs: opts.latencyMs ?? 0,
    nextOrderId: venue.nextOrderId, nextTradeId: venue.nextTradeId, marketBuyFunds: venue.marketBuyFunds,
  };
  const specs = { ...BINANCE_SPOT_DEFAULTS, ...opts.instruments };
  for (const sym of merge.symbols) {
    const inst = instrumentFor(sym, specs);
    venue.addMarket(new SymbolMarket(inst, engineCfg, loadHistory(opts.klinesDir ?? DEFAULT_KLINES_DIR, inst), (s, k, p) => hub.publish(s, k, p), clock));
  }
  (opts.accounts ?? []).forEach((a, i) => venue.addAccount(new SimAccount(`acct${i + 1}`, a.apiKey, a.secret, a.balances)));

  // One replay step at a time: REST handlers run between steps, never inside one.
  let ended = false;
  let failure: Error | undefined;
  let queue: Promise<void> = Promise.resolve();
  const replayTo = async (target: number, until?: () => boolean): Promise<void> => {
    let n = 0;
    try {
      while (!ended) {
        if (until?.()) return;
        const ns = merge.peekNs();
        if (ns === undefined) {
          ended = true;
          break;
        }
        const t = simMsOf(ns);
        if (t > target) break;
        const line = (await merge.next())!;
        clock.set(t);
        venue.markets.get(line.symbol)?.onLine(line.text, line.tsLocalNs);
        // Let sockets breathe during long catch-ups.
        if (++n % 2000 === 0) await new Promise<void>((r) => setImmediate(r));
      }
    } catch (err) {
      // A corrupt or truncated file (its error names it): stop as at the end of data, so clients keep the last state;
      // the caller of this step (advanceBy, the startup prime, the pump) gets the error.
      ended = true;
      failure = err as Error;
      throw err;
    }
    if (Number.isFinite(target)) clock.set(target);
  };
  const serial = (fn: () => Promise<void>): Promise<void> => {
    const p = queue.then(fn);
    queue = p.catch(() => {});
    return p;
  };
  const replay: ReplayControl = {
    advanceTo: (simMs) => serial(() => replayTo(simMs)),
    advanceBy: (ms) => serial(() => replayTo(clock.now() + ms)),
    get ended() {
      return ended;
    },
    get error() {
      return failure;
    },
  };
  // Prime: replay until every book has loaded its snapshot, so REST depth answers from the first request.
  await serial(() => replayTo(Infinity, () => [...venue.markets.values()].every((m) => m.sync.isLive())));
  for (const m of venue.markets.values()) {
    if (!m.sync.isLive()) log().warn({ symbol: m.inst.venueSymbol }, 'recording has no usable depth snapshot: its book stays empty');
  }

  const limiter = new WeightLimiter(opts.weightLimitPerMinute ?? 6000, wall);
  const orderLimiter = new OrderCountLimiter(wall);
  // The accounts, orders and balances live only in this process, and Node 20 exits on an unhandled rejection: nothing
  // a request does may escape, whatever fails after handle's own try (serialising the answer, a 'request' listener).
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => answerFailure(res, err, req.url));
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = parseTarget(req.url);
    const pathname = url?.pathname ?? req.url ?? '/';
    const method = req.method ?? 'GET';
    let status = 200;
    let body: unknown;
    let headers: Readonly<Record<string, string>> = {};
    let used = limiter.usedWeight;
    const mexc = pathname.startsWith(`${MEXC_PREFIX}/`);
    try {
      if (!url) throw badTarget();
      const raw = await readBody(req);
      const rawQuery = url.search.startsWith('?') ? url.search.slice(1) : '';
      const params = new URLSearchParams(rawQuery);
      // Binance: "If a parameter sent in both the query string and request body, the query string parameter will be
      // used." The signature still covers both, raw (checkSigned). MEXC's rule is not documented: kept as it was
      // (handlers read the body's value through Object.fromEntries, checkSigned the query's through params.get).
      const inQuery = new Set(params.keys());
      if (raw) for (const [k, v] of new URLSearchParams(raw)) if (mexc || !inQuery.has(k)) params.append(k, v);
      const key = `${method} ${mexc ? url.pathname.slice(MEXC_PREFIX.length) : url.pathname}`;
      const route = (mexc ? mexcRoutes[key] : undefined) ?? routes[key];
      if (!route) throw apiErrors.notFound(url.pathname);
      const w = typeof route.weight === 'number' ? route.weight : route.weight(params);
      const verdict = limiter.take(w);
      used = limiter.usedWeight;
      if (verdict.kind === 'limited') throw apiErrors.tooManyRequests(limiter.limit, verdict.retryAfterS);
      if (verdict.kind === 'banned') throw apiErrors.ipBanned(verdict.untilMs, verdict.retryAfterS);
      let account: SimAccount | undefined;
      if (route.auth !== 'none') {
        const apiKey = req.headers[mexc ? MEXC_KEY_HEADER : 'x-mbx-apikey'];
        if (typeof apiKey !== 'string' || apiKey.length === 0) throw apiErrors.apiKeyFormat();
        account = venue.accounts.get(apiKey);
        if (!account) throw apiErrors.invalidApiKey();
        if (route.auth === 'signed') checkSigned(account, rawQuery, raw, params, wall.now(), clock.now());
        // Binance's ORDERS limit (a cancelReplace counts as one new order, attempted or not); the MEXC dialect has none modelled.
        if (!mexc && (key === 'POST /api/v3/order' || key === 'POST /api/v3/order/cancelReplace')) {
          const retryAfterS = orderLimiter.take(account.id);
          if (retryAfterS !== undefined) throw apiErrors.tooManyOrders(orderLimiter.limit, retryAfterS);
        }
      }
      // Handlers read a consistent market: wait for any replay step in progress.
      await queue;
      body = route.handle({ params, venue, account });
    } catch (err) {
      const raw = err instanceof SimApiError ? err : apiErrors.unknown(`Internal error: ${(err as Error).message}`);
      const e = mexc ? mexcError(raw) : raw;
      if (!(err instanceof SimApiError)) log().error({ err, path: pathname }, 'simulator request failed');
      status = e.http;
      body = e.body();
      headers = e.headers;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json;charset=UTF-8',
      'content-length': Buffer.byteLength(text),
      'x-mbx-used-weight': String(used),
      'x-mbx-used-weight-1m': String(used),
      ...headers,
    });
    res.end(text);
    events.emit('request', { method, path: pathname, status });
  };
  // A throw in an 'upgrade' listener is an uncaught exception: the hub answers what it can, this drops the rest.
  server.on('upgrade', (req, socket, head) => {
    try {
      hub.handleUpgrade(req, socket, head);
    } catch (err) {
      log().error({ err, path: req.url }, 'simulator upgrade failed');
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  let stopped = false;
  // Nobody awaits the timed replay: its failure is said here, once; the server stays up with the last state.
  const replayFailed = (err: Error): void => {
    log().error({ err: err.message }, 'recording unreadable; replay stopped, the market stays as it was');
  };
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  if (speed === 'max' || speed === 0) {
    // One replayed second per step, so requests are answered between steps.
    const pump = (): void => {
      if (stopped) return;
      void serial(() => replayTo(clock.now() + 1000)).then(() => {
        if (ended) log().info('recording replayed to the end');
        else setImmediate(pump);
      }, replayFailed);
    };
    setImmediate(pump);
  } else if (typeof speed === 'number') {
    const wall0 = wall.now();
    const sim0 = clock.now();
    const tick = (): void => {
      if (stopped) return;
      const target = sim0 + (wall.now() - wall0) * speed;
      void serial(() => replayTo(target)).then(() => {
        if (stopped || ended) return;
        const next = merge.peekNs();
        const wait = next === undefined ? 50 : Math.min(50, Math.max(1, (simMsOf(next) - target) / speed));
        timer = wall.setTimeout(tick, wait);
      }, replayFailed);
    };
    tick();
  }

  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    clock,
    venue,
    replay,
    events,
    hub,
    dropAllConnections: () => hub.dropAll(),
    close: async () => {
      stopped = true;
      if (timer) wall.clearTimeout(timer);
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await queue;
      await merge.close();
    },
  };
}

/**
 * Checks a SIGNED request: HMAC over the raw query + body, then `timestamp`/`recvWindow`. ccxt and most clients
 * stamp requests with their own wall clock while the replay clock sits in the recording's past, so a timestamp is
 * accepted when it passes Binance's rule against either the wall clock or the replay clock.
 */
function checkSigned(account: SimAccount, rawQuery: string, rawBody: string, params: URLSearchParams, wallNow: number, simNow: number): void {
  const tsStr = params.get('timestamp');
  if (!tsStr) throw apiErrors.mandatory('timestamp');
  if (!/^\d{1,15}$/.test(tsStr)) throw apiErrors.illegalChars('timestamp', tsStr);
  const rwStr = params.get('recvWindow');
  if (rwStr !== null && !/^\d{1,6}(\.\d{1,3})?$/.test(rwStr)) throw apiErrors.illegalChars('recvWindow', rwStr);
  const recvWindow = rwStr === null ? 5000 : Number(rwStr);
  if (recvWindow > 60_000) throw apiErrors.recvWindowTooLarge();
  const { payload, signature } = splitSignature(rawQuery, rawBody);
  if (!signature) throw apiErrors.mandatory('signature');
  if (!verifySignature(payload, signature, account.secret)) throw apiErrors.badSignature();
  const ts = Number(tsStr);
  const a = timestampVerdict(ts, recvWindow, wallNow);
  const b = timestampVerdict(ts, recvWindow, simNow);
  if (a === 'ok' || b === 'ok') return;
  throw a === 'ahead' && b === 'ahead' ? apiErrors.timestampAhead() : apiErrors.timestampOutside();
}

/** Returns the request target as a URL, or undefined when it is not one (`//[`: `new URL` throws on it). */
function parseTarget(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://127.0.0.1');
  } catch {
    return undefined;
  }
}

// errors.ts has no error for an unparseable target; Binance answers malformed input with -1100 and this text.
const badTarget = (): SimApiError => new SimApiError(400, -1100, 'Illegal characters found in a parameter.');

/** Answers a request whose handling threw outside its own try: 500 / -1000 if nothing was sent yet, else drops it. */
function answerFailure(res: ServerResponse, err: unknown, path: string | undefined): void {
  log().error({ err, path }, 'simulator request failed after handling');
  try {
    // Answered already (a 'request' listener threw): leave it be. Half written: the client must not read it as whole.
    if (res.writableEnded) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e = apiErrors.unknown(`Internal error: ${(err as Error)?.message ?? String(err)}`);
    const text = JSON.stringify(e.body());
    res.writeHead(e.http, { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  } catch {
    res.destroy();
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1 << 16) {
        reject(apiErrors.badParam('Request body is too large.'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
