/** One environment step's result. */
export type StepResult = {
  readonly state: Float32Array;
  readonly reward: number;
  /** The episode reached a terminal state: the DQN target does not bootstrap past it. */
  readonly terminated: boolean;
  /** The episode was cut by a time or data limit: the state is not terminal, so the target still bootstraps. */
  readonly truncated: boolean;
  /** Profit realised by this step (trading envs), for replay prioritisation. */
  readonly realisedPnl?: number;
};

/** A discrete-action environment the DQN can train on. */
export interface Env {
  readonly stateSize: number;
  readonly actionCount: number;
  /** Starts an episode and returns the first state. */
  reset(): Float32Array;
  step(action: number): StepResult;
}
