// Child process of candle-cache.test.ts: replays the recording's trades into a DataProvider whose candles cache is in
// the store at argv[2] (fsync on: a real daemon's store) up to engine time argv[3], letting the cache's 5 s saves
// commit as it goes, then starts one more save and SIGKILLs itself before it can commit: no graceful stop.
import { LmdbStore } from '../../../engine/store/lmdb.ts';
import { REC_START } from './helpers.ts';
import { replayTrades, rigProvider } from './candle-cache-rig.ts';

const [path, upTo] = process.argv.slice(2);
const store = LmdbStore.open({ path: path! });
const rig = rigProvider(REC_START, { store, history: false });
await rig.dp.start();
for (let t = REC_START; t < Number(upTo); t += 10_000) {
  replayTrades(rig, t, Math.min(t + 10_000, Number(upTo)));
  await store.flush();
}
void rig.dp.saveCandles();
process.stdout.write('killing\n');
process.kill(process.pid, 'SIGKILL');
