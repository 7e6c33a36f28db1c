// The web dashboard: HTTP + WebSocket server, bus view model, push throttle, control actions, Prometheus metrics.
export { startDashboard, DEFAULT_STATIC_DIR, KILL_HELD, type DashboardHandle, type DashboardOptions, type HeldKill } from './server.ts';
export { resolveDashboardToken, bindProblem, isLoopbackHost, tokenMatches, bearerToken, type DashboardToken } from './auth.ts';
export { CONTROL_ACTIONS, controlMessages, isControlAction, type ControlAction, type ControlResult } from './controls.ts';
export { DashboardMetrics, type LoopLagSource, type MetricsOptions } from './metrics.ts';
export { TopicThrottle, type ThrottleOptions, type ThrottleStats } from './throttle.ts';
export { SeqRing, type SeqSlice } from './seq-ring.ts';
export {
  DashboardViewModel, TOPICS, ladder, bookHealth,
  type Topic, type Bar, type HeatColumn, type ModelPoint, type DecisionPoint, type FillRow, type OrderRow, type PositionRow,
  type PortfolioFigures, type PortfolioBooks, type BookCounters, type BookState, type RiskFigures, type TrainingReport, type DashboardProviders, type ViewModelOptions, type Cursors,
} from './view-model.ts';
