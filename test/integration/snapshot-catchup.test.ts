/**
 * Real processes (a free port block): a follower that is down while the others compact their logs
 * (--snapshot-entries 50) catches up by InstallSnapshot when it comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client';
import { TestCluster, eventually, serverBuilt } from './cluster';

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start({
    nodeArgs: ['--snapshot-entries', '50', '--log-retain-entries', '5'],
  });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

describe('snapshot catch-up', () => {
  it('a follower down through a compaction catches up by snapshot', async () => {
    const client = cluster.client({ deadlineMs: 10_000 });
    await client.put('before', 'down');
    const { leader } = await cluster.waitForLeader();
    const follower = cluster.ids.find((id) => id !== leader)!;
    const followerLastIndex = (await client.status({ endpoint: cluster.address(follower) })).groups[0]!.lastIndex;
    await cluster.kill(follower, 'SIGKILL');

    const keys = 400;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys) {
        const i = next++;
        await client.put(`snap/${String(i).padStart(4, '0')}`, `value-${i}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    // the survivors compacted past what the follower has, so only a snapshot can bring it back
    await eventually('leader compacted its log', 15_000, async () => {
      const s = await client.status({ endpoint: cluster.address(leader) });
      return s.groups[0]!.firstIndex > followerLastIndex + 1;
    });

    cluster.startNode(follower);
    const direct = new Client({ endpoints: [cluster.address(follower)], deadlineMs: 2000 });
    try {
      await eventually('follower caught up', 30_000, async () => {
        const last = await direct.get(`snap/${String(keys - 1).padStart(4, '0')}`, { consistency: 'stale' });
        return last?.toString() === `value-${keys - 1}`;
      });
      for (let i = 0; i < keys; i += 7) {
        const v = await direct.get(`snap/${String(i).padStart(4, '0')}`, { consistency: 'stale' });
        expect(v?.toString()).toBe(`value-${i}`);
      }
      expect((await direct.get('before', { consistency: 'stale' }))?.toString()).toBe('down');
      const s = await direct.status({ endpoint: cluster.address(follower) });
      expect(s.groups[0]!.firstIndex).toBeGreaterThan(followerLastIndex + 1);
    } finally {
      await direct.close();
    }
  }, 120_000);
});
