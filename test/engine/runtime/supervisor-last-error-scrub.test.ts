// Re-review of e0bf905: the halt reason was scrubbed, but the same error went out verbatim as ChildStatus.lastError
// (the dashboard's system panel, to every WebSocket client) and as sys.actorRestarted.error. The supervisor now
// scrubs the error text once, where it is first kept.
import { setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { DashboardViewModel } from '../../../engine/dashboard/view-model.ts';
import { redactSecretValues } from '../../../engine/log.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { Supervisor } from '../../../engine/runtime/supervisor.ts';

const SECRET = 'sk_live_SUPERVISORSECRET42';
const SIGNATURE = 'deadbeefcafef00d';
redactSecretValues([SECRET]);
const ERROR = `binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=${SIGNATURE} 401 apiKey=${SECRET}`;

async function failOnce(maxRestarts: number) {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(1_723_161_253_937);
  const sent: EngineMsg[] = [];
  bus.subscribePrefix('sys.', (m) => sent.push(m));
  const child = setup({}).createMachine({ on: { boom: { actions: () => { throw new Error(ERROR); } } } });
  const sup = new Supervisor({ children: [{ id: 'executor', logic: child }], bus, clock, rng: () => 0.5, defaults: { maxRestarts } });
  const vm = new DashboardViewModel({ bus, providers: { supervisor: sup } });
  vm.start();
  sup.start();
  sup.system.get('executor')!.send({ type: 'boom' });
  clock.advance(60_000); // the restart's backoff
  const out = { sent, status: sup.status().find((c) => c.id === 'executor'), panel: JSON.stringify(vm.build('system', new Map())) };
  await sup.stop();
  return out;
}

describe('supervisor: an actor error quoting credentials', () => {
  it('is blanked in the child status and the dashboard panel when the restart budget is spent', async () => {
    const { sent, status, panel } = await failOnce(0);
    expect(status?.state).toBe('failed');
    expect(status?.lastError).toContain('[redacted]');
    for (const text of [status?.lastError, panel, JSON.stringify(sent)]) {
      expect(text).not.toContain(SIGNATURE);
      expect(text).not.toContain(SECRET);
    }
  });

  it('is blanked in sys.actorRestarted and the child status after a restart', async () => {
    const { sent, status, panel } = await failOnce(3);
    const restarted = sent.find((m) => m.type === 'sys.actorRestarted');
    expect(restarted).toBeDefined();
    expect(status?.restarts).toBe(1);
    for (const text of [restarted && 'error' in restarted ? restarted.error : undefined, status?.lastError, panel]) {
      expect(text).toContain('[redacted]');
      expect(text).not.toContain(SIGNATURE);
      expect(text).not.toContain(SECRET);
    }
  });
});
