/**
 * Quantiles of what a cumulative histogram observed between two readings, estimated the way Prometheus's
 * histogram_quantile does: find the bucket holding the rank and interpolate linearly inside it (the lowest
 * bucket starts at 0; a rank in the +Inf bucket answers the highest finite bound).
 */
import type { HistogramTotals } from './types';

/** The difference now - before, bucket by bucket; null when the buckets differ or counts went back (a reset). */
export function histogramDelta(before: HistogramTotals, now: HistogramTotals): HistogramTotals | null {
  // A labelled histogram has no buckets until its first observation: everything in `now` is new.
  if (before.upperBounds.length === 0 && before.count === 0) return now;
  if (before.upperBounds.length !== now.upperBounds.length) return null;
  const cumulative: number[] = [];
  for (let i = 0; i < now.cumulative.length; i++) {
    if (before.upperBounds[i] !== now.upperBounds[i]) return null;
    const d = (now.cumulative[i] ?? 0) - (before.cumulative[i] ?? 0);
    if (d < 0) return null;
    cumulative.push(d);
  }
  const count = now.count - before.count;
  if (count < 0) return null;
  return { upperBounds: now.upperBounds, cumulative, count, sum: now.sum - before.sum };
}

/** The q-quantile (0 < q <= 1) of the observations, or null when there are none. */
export function histogramQuantile(h: HistogramTotals, q: number): number | null {
  if (h.count <= 0) return null;
  const rank = q * h.count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (let i = 0; i < h.upperBounds.length; i++) {
    const bound = h.upperBounds[i] as number;
    const cum = h.cumulative[i] ?? 0;
    if (cum >= rank) {
      if (!Number.isFinite(bound)) return lowerBound;
      const inBucket = cum - lowerCount;
      if (inBucket <= 0) return bound;
      return lowerBound + (bound - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    if (Number.isFinite(bound)) lowerBound = bound;
    lowerCount = cum;
  }
  return lowerBound;
}
