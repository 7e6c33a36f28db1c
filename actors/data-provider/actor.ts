// The DataProvider as a supervised child (xstate v5 `fromCallback`): it builds a DataProvider from its input at
// every (re)start, starts it, and stops it in the cleanup. Bus handlers are subscribed with the child's id as owner,
// so a throwing handler reaches the supervisor as this child failing. No machine states: the lifecycle is the
// supervisor's (starting -> running -> restarting | stopped); degraded venues are the FailoverMarket's breaker.
//   events: dataProvider.maintain -> one maintenance pass now
import { fromCallback, type EventObject } from 'xstate';
import type { ChildSpec } from '../../engine/runtime/supervisor.ts';
import { log } from '../../engine/log.ts';
import { DataProvider, type DataProviderOptions } from './provider.ts';

/** Input of the child: the provider's options and a hook that receives each new instance (to answer queries). */
export interface DataProviderActorInput {
  readonly options: DataProviderOptions;
  /** Called with every instance this child creates, including after a restart; undefined when it stops. */
  readonly onInstance?: (dp: DataProvider | undefined) => void;
}

/** Events the child accepts. */
export type DataProviderEvent = { type: 'dataProvider.maintain' };

/** The supervisor id of the DataProvider. */
export const DATA_PROVIDER_ID = 'dataProvider';

/** Returns the child's logic; its id (for bus ownership) is `options.owner`, default 'dataProvider'. */
export const dataProviderActor = fromCallback<EventObject, DataProviderActorInput>(({ input, receive }) => {
  const dp = new DataProvider({ ...input.options, owner: input.options.owner ?? DATA_PROVIDER_ID });
  input.onInstance?.(dp);
  dp.start().catch((err: unknown) => log().error({ err, actor: 'dataProvider' }, 'data provider start failed'));
  receive((e) => {
    if (e.type === 'dataProvider.maintain') void dp.maintain();
  });
  return () => {
    // Its last candles-cache save goes on after this; an owner that closes the store awaits stop() (app/system.ts).
    void dp.stop();
    input.onInstance?.(undefined);
  };
});

/** Returns the supervisor child spec of the DataProvider (id 'dataProvider'). */
export function dataProviderChild(input: DataProviderActorInput, order?: number): ChildSpec {
  return { id: DATA_PROVIDER_ID, logic: dataProviderActor, input: { ...input, options: { ...input.options, owner: DATA_PROVIDER_ID } }, ...(order === undefined ? {} : { order }) };
}
