/**
 * Event-loop health metrics (issue 9 §4): a blocked event loop shows in tessera_event_loop_lag_seconds
 * and counts as late Raft ticks (tessera_raft_tick_late_total); an idle loop counts none.
 */
import { describe, expect, it } from 'vitest';
import { createNodeMetrics, startLoopMonitor } from '../../../src/obs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const value = async (
  m: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> },
  q?: string,
) => (await m.get()).values.find((v) => q === undefined || v.labels.quantile === q)?.value ?? 0;

describe('loop monitor', () => {
  it('counts a tick late past the bound and reports the lag; an idle loop counts no late tick', async () => {
    const metrics = createNodeMetrics();
    const monitor = startLoopMonitor(metrics, { tickMs: 10, lateAfterMs: 300, windowMs: 1000 });
    try {
      await sleep(300);
      expect(await value(metrics.raftTickLate)).toBe(0);
      const until = Date.now() + 600;
      while (Date.now() < until); // block the event loop for 600 ms (the lag window closes at ~1 s)
      await sleep(300);
      expect(await value(metrics.raftTickLate)).toBe(1);
      expect(await value(metrics.eventLoopLagSeconds, '1')).toBeGreaterThan(0.5);
    } finally {
      monitor.stop();
    }
  });
});
