export { cnnRunner, type CnnAgentOptions, type InferPort } from './cnn-agent.ts';
export { bdiRlState, rlRunner, softmax, type QFunction, type RlAgentOptions, type StateBuilder } from './rl-agent.ts';
export { momentumRunner, type MomentumOptions } from './momentum.ts';
