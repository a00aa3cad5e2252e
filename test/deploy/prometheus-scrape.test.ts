/**
 * A real Prometheus (Debian's package, /usr/bin/prometheus) scrapes a live 3-node cluster with the shipped
 * configuration (deploy/prometheus/prometheus.yml and its alerting rules; only the targets, the intervals and
 * the rules path are changed for the test): every node is `up`, the commit-latency histogram has samples,
 * every dashboard and alert query is valid PromQL to Prometheus, the dashboard's panels for leaders, terms,
 * throughput, latency, lag, queues, shards and leaders per node return data, and every rule evaluates.
 * Skipped, saying why, only when the binary is missing (`.ci/run` installs it with apt-get).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Client } from '../../src/client';
import { NodeCluster, freePort } from '../unit/server/node-cluster';
import { ROOT, asArray, asRecord, loadYaml } from './deploy-files';
import { alertQueries, dashboardQueries, expandGrafanaVariables } from './promql';

const PROMETHEUS = '/usr/bin/prometheus';
const missing = existsSync(PROMETHEUS) ? '' : ` (skipped: ${PROMETHEUS} is missing; apt-get install -y prometheus)`;
/** Every wait below shares this bound. */
const WAIT_MS = 20_000;
const OUTPUT_BYTES_MAX = 64 * 1024;

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

let cluster: NodeCluster;
let prometheus: ChildProcess | null = null;
let prometheusOutput = '';
let api = '';
let dir = '';
let writer: Promise<void> | null = null;
let writing = true;

/** The shipped Prometheus config with the live nodes as targets, 500 ms intervals and absolute rule paths. */
function testConfig(targets: string[]): string {
  const config = loadYaml('deploy/prometheus/prometheus.yml');
  const global = asRecord(config.global, 'global');
  global.scrape_interval = '500ms';
  global.evaluation_interval = '500ms';
  config.rule_files = asArray(config.rule_files, 'rule_files').map((f) => join(ROOT, 'deploy/prometheus', String(f)));
  const jobs = asArray(config.scrape_configs, 'scrape_configs').map((j) => asRecord(j, 'job'));
  expect(jobs).toHaveLength(1);
  (jobs[0] as Record<string, unknown>).scrape_timeout = '400ms';
  (jobs[0] as Record<string, unknown>).static_configs = [{ targets }];
  return stringify(config);
}

async function startPrometheus(configPath: string): Promise<void> {
  const port = await freePort();
  api = `http://127.0.0.1:${port}/api/v1`;
  prometheus = spawn(
    PROMETHEUS,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (b: Buffer) => {
    prometheusOutput = (prometheusOutput + b.toString()).slice(-OUTPUT_BYTES_MAX);
  };
  prometheus.stdout?.on('data', keep);
  prometheus.stderr?.on('data', keep);
}

/** Instant query; throws with Prometheus' error (a PromQL syntax error, for one). */
async function query(expr: string): Promise<Vector[]> {
  const res = await fetch(`${api}/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
  const result = body.data?.result;
  return body.data?.resultType === 'vector'
    ? (result as Vector[])
    : [{ metric: {}, value: result as [number, string] }];
}

/** Polls `check` (every 250 ms, within the shared bound) until it holds; fails with the last answer. */
async function eventually<T>(what: string, get: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  const t0 = Date.now();
  let last: unknown = null;
  for (let attempt = 0; attempt < 200 && Date.now() - t0 < WAIT_MS; attempt++) {
    try {
      const v = await get();
      if (check(v)) return v;
      last = v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${prometheusOutput}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not seen within ${WAIT_MS} ms; last: ${JSON.stringify(last)}\n${prometheusOutput}`);
}

/** Writes (and a few reads) until the tests end; a call that fails (a slow, loaded machine) is skipped. */
async function writeLoad(client: Client): Promise<void> {
  for (let i = 0; writing && i < 10_000; i++) {
    try {
      await client.put(`scrape/${i % 100}`, `v${i}`);
      if (i % 10 === 0) await client.get(`scrape/${i % 100}`);
    } catch {
      // The checks below need some writes, not every one.
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'tessera-prometheus-'));
  cluster = await NodeCluster.start(3, ['--http', '127.0.0.1:0']);
  await cluster.waitForLeader();
  const targets = [...cluster.nodes.values()].map((n) => `127.0.0.1:${n.httpPort}`);
  await writeFile(join(dir, 'prometheus.yml'), testConfig(targets));
  await startPrometheus(join(dir, 'prometheus.yml'));
  const client = new Client({ endpoints: cluster.endpoints() });
  writer = writeLoad(client)
    .finally(() => client.close())
    .catch(() => undefined);
}, 30_000);

afterAll(async () => {
  writing = false;
  await writer?.catch(() => undefined);
  const p = prometheus;
  if (p && p.exitCode === null && p.signalCode === null) {
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe(`a real Prometheus scraping a 3-node cluster${missing}`, () => {
  it.skipIf(missing !== '')('sees every node up and the commit-latency histogram filled', async () => {
    const up = await eventually(
      'every node up',
      () => query('up{job="tessera"}'),
      (v) => v.length === 3 && v.every((s) => s.value[1] === '1'),
    );
    expect(up.map((s) => s.metric.instance).sort()).toEqual(
      [...cluster.nodes.values()].map((n) => `127.0.0.1:${n.httpPort}`).sort(),
    );
    const buckets = await eventually(
      'commit latency buckets with samples',
      () => query('tessera_commit_latency_seconds_bucket{job="tessera", le="+Inf"} > 0'),
      (v) => v.length > 0,
    );
    expect(Math.max(...buckets.map((s) => Number(s.value[1])))).toBeGreaterThan(0);
    const rate = await eventually(
      'proposals per second',
      () => query('sum(rate(tessera_proposals_total{job="tessera", outcome="ok"}[5s]))'),
      (v) => Number(v[0]?.value[1] ?? 0) > 0,
    );
    expect(Number(rate[0]?.value[1])).toBeGreaterThan(0);
  });

  it.skipIf(missing !== '')('runs every dashboard and alert query; the main panels show data', async () => {
    const queries = [...dashboardQueries(), ...alertQueries()];
    for (const q of queries) await expect(query(expandGrafanaVariables(q.expr)), q.where).resolves.toBeDefined();
    const mustShowData = dashboardQueries().filter((q) =>
      /^dashboard (variable|panel '(Nodes up|Leaders|Raft term|Proposals|Commit latency|Fsync|Apply|Queue depths|Shards per node|Shard leaders per node)[^']*')/.test(
        q.where,
      ),
    );
    expect(mustShowData.length).toBeGreaterThanOrEqual(12);
    for (const q of mustShowData)
      await eventually(
        q.where,
        () => query(expandGrafanaVariables(q.expr)),
        (v) => v.length > 0,
      );
  });

  it.skipIf(missing !== '')('evaluates every alerting rule without error, none firing', async () => {
    const rules = await eventually(
      'every rule evaluated',
      async () => {
        const res = await fetch(`${api}/rules`, { signal: AbortSignal.timeout(2000) });
        const body = (await res.json()) as { data: { groups: Array<{ rules: Array<Record<string, unknown>> }> } };
        return body.data.groups.flatMap((g) => g.rules);
      },
      (rs) => rs.length > 0 && rs.every((r) => r.health === 'ok'),
    );
    expect(rules.map((r) => r.name).sort()).toEqual(
      alertQueries()
        .map((q) => q.where.replace('alert ', ''))
        .sort(),
    );
    expect(rules.filter((r) => r.state === 'firing').map((r) => r.name)).toEqual([]);
  });
});
