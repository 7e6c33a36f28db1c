import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { instrumentSpecsOf } from '../config/schema.ts';
import { loadConfig } from '../config/load.ts';
import { log } from '../log.ts';
import { isRunSpeed, RUN_SPEED_MAX, RUN_SPEED_MIN } from '../types/run-speed.ts';
import { startExchangeSim, type SimSpeed } from '../venues/sim/server.ts';
import { fail } from './fail.ts';

/**
 * Returns the --speed value: a multiple of real time within a daemon's replay bounds (data.speed, RUN_SPEED_MIN..
 * RUN_SPEED_MAX), 0/'max' (as fast as possible) or 'manual'. Beyond them the clients of the simulator fall behind as
 * a daemon's models do (or, below, it seems to stand still), so they are refused as the run config refuses them.
 */
export function parseSpeed(s: string): SimSpeed {
  if (s === 'max' || s === 'manual') return s;
  const v = Number(s);
  if (!/^\d+(\.\d+)?$/.test(s) || !Number.isFinite(v)) throw new Error(`--speed must be a number, 'max' or 'manual', not '${s}'`);
  if (v === 0) return 'max';
  if (!isRunSpeed(v)) throw new Error(`--speed must be 0 (as fast as possible) or ${RUN_SPEED_MIN}..${RUN_SPEED_MAX}, not '${s}'`);
  return v;
}

/** Registers `cobalt exchange-sim --data FILE… [--port P] [--speed X]`: a Binance-compatible simulator on 127.0.0.1. */
export function register(program: Command): void {
  program
    .command('exchange-sim')
    .description('Serve recorded Binance data over a Binance-compatible REST + WebSocket API on 127.0.0.1 and match orders')
    .requiredOption('--data <files...>', 'recording files (<ts_ns> <json> lines, .gz or plain); several symbols and days are merged')
    .option('--port <port>', 'TCP port on 127.0.0.1 (0 = any free port)', '9443')
    .option('--speed <x>', `replay speed: multiple of real time (${RUN_SPEED_MIN}..${RUN_SPEED_MAX}), 0 or 'max' = as fast as possible`, '1')
    .option('--latency-ms <ms>', 'order activation latency on the replay clock', '0')
    .option('--balance <asset=amount...>', 'starting balances of the demo account', ['USDT=100000', 'BTC=1', 'ETH=10'])
    .option('--config <file>', 'engine config whose instruments (increments by symbol) the simulator serves, over the bundled ones')
    .action(async (o: { data: string[]; port: string; speed: string; latencyMs: string; balance: string[]; config?: string }) => {
      // Digits only: Number('') is 0 (any free port) and Number('0x10') is 16, neither what was typed.
      const port = /^\d{1,5}$/.test(o.port) ? Number(o.port) : NaN;
      if (!(port >= 0 && port <= 65535)) return fail(`--port must be 0..65535, not '${o.port}'`);
      const latencyMs = Number(o.latencyMs);
      if (!Number.isFinite(latencyMs) || latencyMs < 0) return fail(`--latency-ms must be a non-negative number, not '${o.latencyMs}'`);
      let speed: SimSpeed;
      try {
        speed = parseSpeed(o.speed);
      } catch (err) {
        return fail((err as Error).message);
      }
      const balances: Record<string, string> = {};
      for (const b of o.balance) {
        const m = /^([A-Z0-9]{2,10})=(\d+(?:\.\d+)?)$/.exec(b);
        if (!m) return fail(`--balance entries look like USDT=1000, not '${b}'`);
        balances[m[1]!] = m[2]!;
      }
      const apiKey = process.env['COBALT_SIM_API_KEY'] ?? `sim${randomBytes(16).toString('hex')}`;
      const secret = process.env['COBALT_SIM_API_SECRET'] ?? randomBytes(24).toString('hex');
      let sim;
      try {
        const instruments = o.config ? instrumentSpecsOf(loadConfig(o.config).config) : undefined;
        sim = await startExchangeSim({ files: o.data, port, speed, latencyMs, accounts: [{ apiKey, secret, balances }], ...(instruments ? { instruments } : {}) });
      } catch (err) {
        return fail(`exchange-sim: ${(err as Error).message}`);
      }
      process.stdout.write(`${JSON.stringify({ url: sim.url, mexcUrl: `${sim.url}/mexc`, wsUrl: `${sim.wsUrl}/ws`, streamUrl: `${sim.wsUrl}/stream`, apiKey, secret, symbols: [...sim.venue.markets.keys()], speed, simTime: new Date(sim.clock.now()).toISOString() })}\n`);
      log().info({ url: sim.url }, 'exchange simulator running; Ctrl-C stops it');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sim.close();
    });
}
