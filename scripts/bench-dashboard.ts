/**
 * Dashboard cost benchmark (not a test): CPU time of one dashboard sample on a node hosting N groups,
 * split into its parts: reading the metrics (commit histogram with one label set per group, summed from
 * prom-client's state; and through prom-client's get() for comparison) and the collector's work on N group
 * statuses. The node host's own groupStatus calls are not included (a fake host answers them).
 *   npx tsx scripts/bench-dashboard.ts [--groups 1000]
 */
import { createNodeMetrics } from '../src/obs';
import {
  DashboardCollector,
  histogramTotalsFromGet,
  readMetricTotals,
  safeJson,
  type GroupInput,
} from '../src/obs/dashboard';

const i = process.argv.indexOf('--groups');
const N = i >= 0 ? Number(process.argv[i + 1]) : 1000;

async function cpuMs(what: string, runs: number, fn: () => unknown): Promise<void> {
  for (let k = 0; k < 5; k++) await fn(); // warm-up
  const c0 = process.cpuUsage();
  for (let k = 0; k < runs; k++) await fn();
  const c = process.cpuUsage(c0);
  console.log(`${what}: ${((c.user + c.system) / 1000 / runs).toFixed(2)} ms CPU`);
}

async function main(): Promise<void> {
  const metrics = createNodeMetrics();
  for (let g = 1; g <= N; g++) {
    metrics.commitLatencySeconds.observe({ group: String(g) }, 0.003);
    metrics.reads.inc({ group: String(g), kind: 'linearizable', outcome: 'ok' });
  }
  const members = [1, 2, 3].map((id) => ({ id, address: `10.0.0.${id}:7000`, voter: true, match: 5 }));
  const groups = (): GroupInput[] =>
    Array.from({ length: N }, (_, k) => ({
      ...{ id: k + 1, kind: 'data' as const, start: Buffer.from(`k/${k}`), end: Buffer.from(`k/${k + 1}`) },
      ...{ leader: (k % 3) + 1, term: 1, role: 'follower', commit: 9, applied: 9, members },
    }));
  console.log(`${N} groups`);
  await cpuMs('metrics read (summed state)', 200, () => readMetricTotals(metrics));
  await cpuMs('commit histogram through get()', 20, () => histogramTotalsFromGet(metrics.commitLatencySeconds));
  const collector = new DashboardCollector({ downAfterMs: 1000 });
  const statuses = groups();
  let t = 0;
  const sample = (): void =>
    collector.sample({
      ...{ wallMs: t, monoMs: (t += 1000), selfId: 1, selfAddress: 'x', nodes: [], heardMs: new Map() },
      ...{ groups: statuses, totals: null },
    });
  await cpuMs('collector sample', 200, sample);
  await cpuMs('snapshot JSON', 50, () => safeJson(collector.snapshot()));
  console.log(`snapshot JSON: ${safeJson(collector.snapshot()).length} bytes (groups capped at 200)`);
}

void main();
