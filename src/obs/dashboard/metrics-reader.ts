/**
 * Reads the totals the dashboard charts from the node's metrics (prom-client's get(), summed over every
 * label set): reads answered ok, and the commit-latency and fsync histograms bucket by bucket.
 */
import type { Counter, Histogram } from 'prom-client';
import type { NodeMetrics } from '../metrics';
import type { HistogramTotals, MetricTotals } from './types';

export type DashboardMetrics = Pick<NodeMetrics, 'reads' | 'commitLatencySeconds' | 'fsyncDurationSeconds'>;

export async function readMetricTotals(metrics: DashboardMetrics): Promise<MetricTotals> {
  const [reads, commitSeconds, fsyncSeconds] = await Promise.all([
    counterTotal(metrics.reads, (labels) => labels['outcome'] === 'ok'),
    histogramTotals(metrics.commitLatencySeconds),
    histogramTotals(metrics.fsyncDurationSeconds),
  ]);
  return { reads, commitSeconds, fsyncSeconds };
}

type Labels = Partial<Record<string, string | number>>;

async function counterTotal<T extends string>(counter: Counter<T>, keep: (labels: Labels) => boolean): Promise<number> {
  let total = 0;
  for (const v of (await counter.get()).values) if (keep(v.labels as Labels)) total += v.value;
  return total;
}

/** The histogram summed over its label sets (buckets by upper bound, ascending, +Inf last). */
export async function histogramTotals<T extends string>(histogram: Histogram<T>): Promise<HistogramTotals> {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const v of (await histogram.get()).values) {
    const name = (v as { metricName?: string }).metricName ?? '';
    if (name.endsWith('_bucket')) {
      const le = (v.labels as Labels)['le'];
      const bound = le === '+Inf' ? Infinity : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + v.value);
    } else if (name.endsWith('_count')) count += v.value;
    else if (name.endsWith('_sum')) sum += v.value;
  }
  const upperBounds = [...buckets.keys()].sort((a, b) => a - b);
  return { upperBounds, cumulative: upperBounds.map((b) => buckets.get(b) ?? 0), count, sum };
}
