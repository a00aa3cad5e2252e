/**
 * Reads the totals the dashboard charts from the node's metrics, summed over every label set: reads
 * answered ok, and the commit-latency and fsync histograms bucket by bucket.
 *
 * prom-client's Histogram.get() builds an object per bucket per label set: about 17 ms for the commit
 * histogram of 1,000 shards, every second. So a histogram is summed from the state prom-client 15 keeps
 * (hashMap: per label set, counts per upper bound, not cumulative, with sum and count), checked field by
 * field; when it does not have that shape (another prom-client version) the reader falls back to get().
 * The unit test compares both on the same histogram.
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
  return summedHistogramState(histogram) ?? histogramTotalsFromGet(histogram);
}

interface HistogramState {
  upperBounds?: unknown;
  hashMap?: unknown;
  collect?: unknown;
}

/** The sum over prom-client 15's per-label-set state, or null when the state is not what it expects. */
export function summedHistogramState(histogram: object): HistogramTotals | null {
  const { upperBounds, hashMap, collect } = histogram as HistogramState;
  if (collect !== undefined || !Array.isArray(upperBounds) || typeof hashMap !== 'object' || hashMap === null)
    return null;
  const bounds = upperBounds as unknown[];
  if (!bounds.every((b) => typeof b === 'number' && Number.isFinite(b))) return null;
  const keys = bounds.map(String);
  const perBound = new Array<number>(bounds.length).fill(0);
  let count = 0;
  let sum = 0;
  for (const entry of Object.values(hashMap as Record<string, unknown>)) {
    const e = entry as { bucketValues?: Record<string, unknown>; count?: unknown; sum?: unknown } | null;
    if (e === null || typeof e.bucketValues !== 'object' || typeof e.count !== 'number' || typeof e.sum !== 'number')
      return null;
    for (let i = 0; i < keys.length; i++) {
      const v = e.bucketValues[keys[i] as string];
      if (typeof v !== 'number') return null;
      perBound[i] = (perBound[i] as number) + v;
    }
    count += e.count;
    sum += e.sum;
  }
  let acc = 0;
  const cumulative = perBound.map((v) => (acc += v));
  return { upperBounds: [...(bounds as number[]), Infinity], cumulative: [...cumulative, count], count, sum };
}

/** The same from prom-client's public get(): one value per bucket per label set. */
export async function histogramTotalsFromGet<T extends string>(histogram: Histogram<T>): Promise<HistogramTotals> {
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
