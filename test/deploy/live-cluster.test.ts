/**
 * The monitoring files name only what the nodes export: every metric in the Grafana dashboard
 * (deploy/grafana/dashboards/tessera.json: panels and variables) and in the Prometheus alerting rules
 * (deploy/prometheus/alerts.yml) is in the /metrics output of a live 3-node cluster (in-process nodes, real
 * gRPC, LevelDB and HTTP listeners) after a few writes and reads; label matchers and grouping labels name
 * labels those metrics carry. A misspelled metric fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client';
import { NodeCluster } from '../unit/server/node-cluster';
import { addExposition, emptyExposition, isExported, labelNamesOf, type Exposition } from './exposition';
import {
  alertQueries,
  dashboardQueries,
  expandGrafanaVariables,
  groupingLabels,
  labelMatchers,
  metricNames,
  type NamedQuery,
} from './promql';

/** Series Prometheus makes itself for every target. */
const SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
/** Labels Prometheus attaches to every scraped sample (not in /metrics), and histogram bucket bounds. */
const TARGET_LABELS = new Set(['job', 'instance', 'le']);

let cluster: NodeCluster;
const live: Exposition = emptyExposition();

beforeAll(async () => {
  cluster = await NodeCluster.start(3, ['--http', '127.0.0.1:0']);
  await cluster.waitForLeader();
  const client = new Client({ endpoints: cluster.endpoints() });
  try {
    for (let i = 0; i < 20; i++) await client.put(`deploy/${i}`, `v${i}`);
    await client.get('deploy/1');
    await client.get('deploy/2', { consistency: 'stale' });
    for await (const page of client.scan('deploy/', 'deploy0')) expect(page.items.length).toBeGreaterThan(0);
  } finally {
    await client.close();
  }
  for (const node of cluster.nodes.values()) {
    const res = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`);
    expect(res.status).toBe(200);
    addExposition(live, await res.text());
  }
}, 30_000);

afterAll(async () => {
  await cluster?.close();
});

function allQueries(): NamedQuery[] {
  return [...dashboardQueries(), ...alertQueries()];
}

/** Problems of one query against the live exposition (empty: fine). */
function problemsOf(q: NamedQuery, e: Exposition): string[] {
  const expr = expandGrafanaVariables(q.expr);
  const problems: string[] = [];
  const names = metricNames(expr);
  if (names.length === 0) problems.push(`${q.where}: names no metric: ${q.expr}`);
  for (const name of names)
    if (!SYNTHETIC.has(name) && !isExported(e, name)) problems.push(`${q.where}: no metric '${name}' on a live node`);
  for (const m of labelMatchers(q.expr)) {
    if (TARGET_LABELS.has(m.label) || SYNTHETIC.has(m.metric) || !e.samples.has(m.metric)) continue;
    if (!labelNamesOf(e, m.metric).has(m.label)) problems.push(`${q.where}: ${m.metric} has no label '${m.label}'`);
    else if (m.op === '=' && !(e.samples.get(m.metric) ?? []).some((l) => l[m.label] === m.value))
      problems.push(`${q.where}: no ${m.metric} sample with ${m.label}="${m.value}"`);
  }
  // A grouping label must be carried by a metric of the expression (unknowable for one without samples).
  const sampled = names.filter((n) => e.samples.has(n));
  if (sampled.length === names.length)
    for (const label of groupingLabels(expr))
      if (!TARGET_LABELS.has(label) && !sampled.some((n) => labelNamesOf(e, n).has(label)))
        problems.push(`${q.where}: groups by '${label}', which none of ${sampled.join(', ')} carries`);
  return problems;
}

describe('monitoring files against a live cluster', () => {
  it('has dashboard panels for every area the operators asked for', () => {
    const exprs = dashboardQueries().map((q) => q.expr);
    for (const metric of [
      'tessera_raft_is_leader',
      'tessera_raft_term',
      'tessera_proposals_total',
      'tessera_commit_latency_seconds_bucket',
      'tessera_fsync_duration_seconds_bucket',
      'tessera_raft_applied_index',
      'tessera_queue_depth',
      'tessera_shards',
      'tessera_shard_leaders',
      'tessera_snapshot_bytes_sent_total',
      'tessera_snapshot_bytes_received_total',
      'tessera_shard_keys',
    ])
      expect(
        exprs.some((x) => metricNames(expandGrafanaVariables(x)).includes(metric)),
        metric,
      ).toBe(true);
  });

  it('names only metrics and labels a live node exports', () => {
    const queries = allQueries();
    expect(queries.length).toBeGreaterThan(20);
    expect(queries.flatMap((q) => problemsOf(q, live))).toEqual([]);
  });

  it('catches a misspelled metric, label or label value', () => {
    const bad = (expr: string) => problemsOf({ where: 'probe', expr }, live);
    expect(bad('rate(tessera_comit_latency_seconds_bucket[5m])')).toEqual([
      "probe: no metric 'tessera_comit_latency_seconds_bucket' on a live node",
    ]);
    expect(bad('tessera_queue_depth{queu="proposals"}')).toEqual(["probe: tessera_queue_depth has no label 'queu'"]);
    expect(bad('tessera_queue_depth{queue="proposal"}')).toEqual([
      'probe: no tessera_queue_depth sample with queue="proposal"',
    ]);
    expect(bad('sum by (gruop) (tessera_raft_term)')).toEqual([
      "probe: groups by 'gruop', which none of tessera_raft_term carries",
    ]);
    expect(
      bad('histogram_quantile(0.99, sum by (le) (rate(tessera_fsync_duration_seconds_bucket[$__rate_interval])))'),
    ).toEqual([]);
  });
});
