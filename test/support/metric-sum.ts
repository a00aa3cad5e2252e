/**
 * Test support: the sum of a metric's samples in a registry, over the samples whose labels match `labels`
 * (all of them when none are given). A metric the registry lacks sums to 0.
 */
import type { Registry } from 'prom-client';

export async function metricSum(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const got = await registry.getSingleMetric(name)?.get();
  const matches = (l: Record<string, unknown>): boolean => Object.entries(labels).every(([k, v]) => l[k] === v);
  return (got?.values ?? []).filter((v) => matches(v.labels)).reduce((sum, v) => sum + v.value, 0);
}
