// Child process of inference-history-crash.test.ts: stores records, then runs a retention pass that archives them all
// and SIGKILLs itself while the archive is being written (once any file in the archive directory passes 64 KiB).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { InferenceHistoryStore } from '../../../engine/store/inference-history.ts';
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { crashRecord } from './archive-crash-records.ts';

const [root, count] = process.argv.slice(2);
const store = LmdbStore.open({ path: join(root!, 'db'), noSync: true });
const archiveDir = join(root!, 'archive');
const hist = new InferenceHistoryStore(store, { retention: { maxRecords: 1_000_000, maxAgeMs: 1 }, archiveDir, logger: pino({ level: 'silent' }) });
for (let i = 0; i < Number(count); i++) void hist.record(crashRecord(i));
await store.flush();
setInterval(() => {
  let names: string[] = [];
  try {
    names = readdirSync(archiveDir);
  } catch {
    return;
  }
  if (names.some((n) => statSync(join(archiveDir, n)).size > 65_536)) process.kill(process.pid, 'SIGKILL');
}, 1);
await hist.retain(2_000_000_000_000 as TsMs);
process.stdout.write('retention finished before the kill\n');
process.exit(0);
