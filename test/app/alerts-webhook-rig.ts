// A webhook receiver on 127.0.0.1 that answers each POST as scripted, for the alerts webhook tests.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { SimulatedClock, type TimerHandle } from '../../engine/runtime/clock.ts';

/** One scripted answer: a status (with headers), or 'hold' (no answer until `release`). */
export type Answer = { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string } | 'hold';

/** A received POST. */
export interface Received { readonly path: string; readonly contentType: string | undefined; readonly body: { text: string; event: Record<string, unknown> } }

/** The receiver: its URL (path and query carry a fake token, as Slack's do), what it got, and the held answers. */
export interface HookServer {
  readonly url: string;
  readonly host: string;
  readonly secretParts: readonly string[];
  readonly received: Received[];
  /** Answers every held request with `status`. */
  release(status?: number): void;
  close(): Promise<void>;
}

const SECRET_PATH = '/services/T0SECRETX/B0SECRETX/xoxbTOKENabcdef123456';
const SECRET_QUERY = 'token=q7SECRETq7SECRET';

/** Starts a receiver that answers with `answers` in order, then 200. */
export async function hookServer(answers: Answer[] = []): Promise<HookServer> {
  const received: Received[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['body'] });
      const a = answers.shift() ?? { status: 200 };
      if (a === 'hold') return void held.push(res);
      res.writeHead(a.status, a.headers ?? {}).end(a.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${SECRET_PATH}?${SECRET_QUERY}`,
    host: `127.0.0.1:${port}`,
    secretParts: ['T0SECRETX', 'B0SECRETX', 'xoxbTOKENabcdef123456', 'q7SECRETq7SECRET', 'services/'],
    received,
    release(status = 200) {
      for (const res of held.splice(0)) if (!res.writableEnded && !res.destroyed) res.writeHead(status).end();
    },
    close: () => new Promise<void>((r) => {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** A simulated clock that records every wait asked of it. */
export class RecordingClock extends SimulatedClock {
  readonly waits: number[] = [];
  override setTimeout(fn: () => void, ms: number): TimerHandle {
    this.waits.push(ms);
    return super.setTimeout(fn, ms);
  }
}

/** A pino logger writing to memory (not createLogger: its own scrubbing of secret values must not hide a leak). */
export function memoryLogger(): { logger: pino.Logger; text: () => string; codes: () => (string | undefined)[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) });
  return { logger, text: () => lines.join(''), codes: () => lines.map((l) => (JSON.parse(l) as { code?: string }).code) };
}
