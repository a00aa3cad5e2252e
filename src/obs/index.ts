/** L2 obs: the Logger and Metrics capabilities (pino, prom-client) and the /metrics + /healthz server (and dashboard). */
export { createPinoLogger, silentLogger } from './logger';
export type { Logger, LoggerOptions } from './logger';
export { createNodeMetrics, shardStatsReporter } from './metrics';
export type { NodeMetrics } from './metrics';
export { startHttpServer, HTTP_DEFAULTS } from './http-server';
export type { HealthReport, HttpServerOptions, ObsHttpServer } from './http-server';
export type { HttpConnectionStats } from './http-connections';
export { MetricsCache } from './metrics-cache';
export type { MetricsSource } from './metrics-cache';
export { startLoopMonitor } from './loop-monitor';
export type { LoopMonitor, LoopMonitorOptions } from './loop-monitor';
export { LoopLag, LOOP_LAG_PERIOD_MS, processLoopLag, shedAfterMsFor } from './loop-lag';
export { createDashboardRoutes, startDashboard, startNodeDashboard } from './dashboard';
export type { Dashboard, DashboardHost, DashboardRoutes } from './dashboard';
