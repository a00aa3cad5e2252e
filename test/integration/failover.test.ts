/**
 * Real processes (a free port block): 1,000 keys written while the leader is killed with
 * SIGKILL and restarted; every acknowledged key must then be on all three replicas (stale reads per node);
 * after a restart of the whole cluster the data is still there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client';
import { TestCluster, eventually, mapConcurrent, serverBuilt } from './cluster';

const KEYS = 1000;
let cluster: TestCluster;
const acked = new Map<string, string>();

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start();
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

async function readAllFrom(id: number): Promise<number> {
  const c = new Client({ endpoints: [cluster.address(id)], deadlineMs: 2000 });
  try {
    const hits = await mapConcurrent(
      [...acked],
      32,
      async ([k, v]) => (await c.get(k, { consistency: 'stale' }))?.toString() === v,
    );
    return hits.filter((h) => h).length;
  } finally {
    await c.close();
  }
}

describe('failover under writes', () => {
  it('keeps every acknowledged write across kill -9 of the leader and its restart', async () => {
    const client = cluster.client({ deadlineMs: 10_000 });
    const { leader } = await cluster.waitForLeader();
    let next = 0;
    let killed = false;
    let failures = 0;
    const worker = async (): Promise<void> => {
      while (next < KEYS) {
        const i = next++;
        const k = `fo/${String(i).padStart(4, '0')}`;
        const v = `v${i}`;
        try {
          await client.put(k, v);
          acked.set(k, v);
        } catch {
          failures++;
        }
        if (!killed && acked.size >= 300) {
          killed = true;
          await cluster.kill(leader, 'SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(killed).toBe(true);
    expect(acked.size).toBeGreaterThanOrEqual(KEYS - failures);
    expect(failures).toBe(0); // the SDK rides out the election within its deadline
    const after = await cluster.waitForLeader(20_000);
    expect(after.leader).not.toBe(leader);

    cluster.startNode(leader);
    for (const id of cluster.ids) {
      await eventually(
        `node ${id} has every acknowledged key`,
        30_000,
        async () => (await readAllFrom(id)) === acked.size,
      );
    }
  }, 120_000);

  it('restarting the whole cluster keeps the data', async () => {
    for (const id of cluster.ids) await cluster.kill(id, 'SIGTERM');
    for (const id of cluster.ids) cluster.startNode(id);
    await cluster.waitForLeader(30_000);
    const client = cluster.client({ deadlineMs: 10_000 });
    const hits = await mapConcurrent([...acked], 32, async ([k, v]) => (await client.get(k))?.toString() === v);
    expect(hits.filter((h) => h).length).toBe(acked.size);
    expect(acked.size).toBe(KEYS);
  }, 120_000);
});
