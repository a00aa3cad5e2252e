/** The live cluster dashboard served by every node at / (collector, sampler, HTTP routes). */
export { DashboardCollector, COLLECTOR_DEFAULTS } from './collector';
export type { CollectorOptions } from './collector';
export { startDashboard, startNodeDashboard, DASHBOARD_PERIOD_MS, DASHBOARD_WATCH_MS } from './sampler';
export type { Dashboard, DashboardHost, DashboardOptions } from './sampler';
export { createDashboardRoutes, renderPage, DASHBOARD_ASSETS } from './routes';
export type { DashboardResponse, DashboardRoutes, DashboardRoutesOptions } from './routes';
export { escapeHtml, formatKey, formatRange, safeJson } from './format';
export { Ring } from './ring';
export { histogramDelta, histogramQuantile } from './histogram';
export { readMetricTotals, histogramTotals, histogramTotalsFromGet, summedHistogramState } from './metrics-reader';
export type * from './types';
