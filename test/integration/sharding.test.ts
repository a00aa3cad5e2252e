/**
 * Sharding with real processes (issue 10, "Tests"): a 5-node cluster with a tiny split threshold
 * (--split-max-keys 40) grows to at least 16 shards while the SDK writes; every acknowledged key reads back
 * through the SDK (routed to the owning shard's leader), and a full scan returns each key exactly once and
 * in key order, stitched across the shards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, eventually, mapConcurrent, serverBuilt } from './cluster';

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start({ ids: [1, 2, 3, 4, 5], nodeArgs: ['--split-max-keys', '40'] });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

describe('a sharded cluster', () => {
  it('grows to 16+ shards under writes; every acknowledged key reads back and a scan returns each once, in order', async () => {
    await cluster.waitForLeader();
    const client = cluster.client({ deadlineMs: 15_000 });
    try {
      const keys = Array.from({ length: 1200 }, (_, i) => `user/${String((i * 7919) % 1200).padStart(5, '0')}`);
      const acked = new Set<string>();
      await mapConcurrent(keys, 16, async (k) => {
        await client.put(k, `value-of-${k}`);
        acked.add(k);
      });
      expect(acked.size).toBe(keys.length);
      // One node's view of its shards tiles the keyspace (a split being applied right now may show a gap).
      const tiles = (list: typeof shards): boolean =>
        list[0]!.start.length === 0 &&
        list.at(-1)!.end === null &&
        list.every((sh, i) => i === 0 || Buffer.compare(sh.start, list[i - 1]!.end ?? Buffer.alloc(0)) === 0);
      let shards = await client.listShards();
      await eventually('16 shards that tile the keyspace', 30_000, async () => {
        shards = await client.listShards();
        return shards.length >= 16 && tiles(shards);
      });
      console.log(`shards: ${shards.length} after ${keys.length} keys with --split-max-keys 40`);
      await mapConcurrent([...acked], 16, async (k) => {
        expect((await client.get(k))?.toString()).toBe(`value-of-${k}`);
      });
      const scanned: string[] = [];
      for await (const page of client.scan('', null, { pageLimit: 50 }))
        for (const kv of page.items) scanned.push(kv.key.toString());
      expect(scanned).toEqual([...acked].sort());
    } finally {
      await client.close();
    }
  }, 180_000);
});
