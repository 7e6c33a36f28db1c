// Child process of store-lock.test.ts: opens the store at argv[2] for writing, says so on stdout, then, by argv[3]:
// 'hold' waits to be killed, 'kill' SIGKILLs itself (a crashed daemon), 'exit' calls process.exit without closing.
import { LmdbStore } from '../../../engine/store/lmdb.ts';

const [dir, mode] = process.argv.slice(2);
try {
  LmdbStore.open({ path: dir!, noSync: true });
} catch (err) {
  process.stdout.write(`refused: ${(err as Error).message}\n`);
  process.exit(3);
}
process.stdout.write(`opened ${process.pid}\n`);
if (mode === 'kill') process.kill(process.pid, 'SIGKILL');
if (mode === 'exit') process.exit(0);
setInterval(() => {}, 60_000);
