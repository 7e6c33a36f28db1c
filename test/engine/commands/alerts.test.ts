// `cobalt alerts test`: one test alert to COBALT_ALERTS_WEBHOOK_URL (a receiver on 127.0.0.1), its exit code and lines.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sendTestAlert } from '../../../engine/commands/alerts.ts';
import { hookServer, type Answer } from '../../app/alerts-webhook-rig.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'cobalt-alerts-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'paper.yaml');
writeFileSync(file, 'mode: paper\nalerts: { webhook: { enabled: true, timeoutMs: 2000 } }\n');

async function run(answers: Answer[], env?: Record<string, string>, closed = false) {
  const server = await hookServer(answers);
  if (closed) await server.close();
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await sendTestAlert(file, env ?? { COBALT_ALERTS_WEBHOOK_URL: server.url }, (l) => out.push(l), (l) => err.push(l), () => 1_700_000_000_000);
    return { code, out: out.join('\n'), err: err.join('\n'), server };
  } finally {
    if (!closed) await server.close();
  }
}

describe('cobalt alerts test', () => {
  it('posts one TEST alert and exits 0 on a 2xx, naming the host only', async () => {
    const r = await run([]);

    expect(r.code).toBe(0);
    expect(r.server.received.map((x) => x.body.event)).toMatchObject([{ type: 'alerts.test', code: 'TEST', mode: 'paper', account: 'paper', ts: 1_700_000_000_000 }]);
    expect(r.out).toBe(`test alert sent to ${r.server.host}: HTTP 200`);
    for (const part of r.server.secretParts) expect(r.out + r.err).not.toContain(part);
  });

  it('exits 1 with the status and the start of the answer on a refusal, once (no retries)', async () => {
    const r = await run([{ status: 403, body: 'invalid_token' }]);

    expect(r.code).toBe(1);
    expect(r.server.received).toHaveLength(1);
    expect(r.err).toContain('HTTP 403: invalid_token');
    for (const part of r.server.secretParts) expect(r.err).not.toContain(part);
  });

  // Review of 5b8d4e4, finding 3: a receiver that echoes the request path printed the token.
  it('blanks the path a refusing receiver echoes in its answer', async () => {
    const echo = (url: string): Answer => ({ status: 404, body: `Cannot POST ${new URL(url).pathname}` });
    const answers: Answer[] = [];
    const server = await hookServer(answers);
    answers.push(echo(server.url));
    const err: string[] = [];
    try {
      const code = await sendTestAlert(file, { COBALT_ALERTS_WEBHOOK_URL: server.url }, () => undefined, (l) => err.push(l), () => 1_700_000_000_000);

      expect(code).toBe(1);
      expect(err.join('\n')).toContain('HTTP 404: Cannot POST');
      for (const part of server.secretParts) expect(err.join('\n')).not.toContain(part);
    } finally {
      await server.close();
    }
  });

  it('exits 1 naming the error when nothing answers', async () => {
    const r = await run([], undefined, true);

    expect(r.code).toBe(1);
    expect(r.err).toContain(`test alert not sent to ${r.server.host}`);
    for (const part of r.server.secretParts) expect(r.err).not.toContain(part);
  });

  it('exits 2 without COBALT_ALERTS_WEBHOOK_URL', async () => {
    const r = await run([], {});

    expect(r.code).toBe(2);
    expect(r.err).toContain('COBALT_ALERTS_WEBHOOK_URL is not set');
    expect(r.server.received).toHaveLength(0);
  });
});
