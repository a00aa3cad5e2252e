/**
 * Event-loop health as metrics:
 * - tessera_event_loop_lag_seconds{quantile="0.5"|"0.99"|"1"}: perf_hooks.monitorEventLoopDelay over the
 *   last window (reset every windowMs);
 * - tessera_raft_tick_late_total: a timer at the Raft tick period (the same period and timer phase as
 *   NodeHost's tick interval, so it fires late exactly when the ticks do) that came later than
 *   lateAfterMs. Raft ticks drive heartbeats; ticks late by half an election timeout can cost the
 *   leadership, so this counter staying at 0 under load means the ticks were not starved.
 * Both timers are unref'd (they never keep the process alive) and stop on stop().
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { NodeMetrics } from './metrics';

export interface LoopMonitorOptions {
  tickMs: number;
  /** A tick-period timer later than this counts as a late tick (e.g. electionMs / 2). */
  lateAfterMs: number;
  /** Window of the lag quantiles (default 1000 ms). */
  windowMs?: number;
}

export interface LoopMonitor {
  stop(): void;
}

export function startLoopMonitor(
  metrics: Pick<NodeMetrics, 'eventLoopLagSeconds' | 'raftTickLate'>,
  options: LoopMonitorOptions,
): LoopMonitor {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const p50 = metrics.eventLoopLagSeconds.labels({ quantile: '0.5' });
  const p99 = metrics.eventLoopLagSeconds.labels({ quantile: '0.99' });
  const max = metrics.eventLoopLagSeconds.labels({ quantile: '1' });
  const window = setInterval(() => {
    // The histogram is in nanoseconds; it includes the monitor's own resolution (10 ms) as a floor.
    p50.set(histogram.percentile(50) / 1e9);
    p99.set(histogram.percentile(99) / 1e9);
    max.set(histogram.max / 1e9);
    histogram.reset();
  }, options.windowMs ?? 1000);
  window.unref();
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    if (now - last - options.tickMs > options.lateAfterMs) metrics.raftTickLate.inc();
    last = now;
  }, options.tickMs);
  tick.unref();
  return {
    stop: () => {
      clearInterval(window);
      clearInterval(tick);
      histogram.disable();
    },
  };
}
