/**
 * Self-repair through NodeHost (3 in-process nodes, real LevelDB and gRPC; src/node/self-repair.ts): a
 * damaged follower that first asks a hostile source (the leader's answer is replaced by chunks that fail
 * the staging checks) refuses that copy, keeps answering DATA_LOSS, asks the next member and repairs
 * itself from it; the hostile data never reaches its state machine.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRecord } from '../../../src/codec';
import type { RepairSource } from '../../../src/transport';
import { metricSum } from '../../support/metric-sum';
import { TestCluster, until, type TestNode, putCommand as put } from './harness';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const staleGet = async (n: TestNode, k: string): Promise<string | null> =>
  (await n.host.read(1, 'stale', (sm) => sm.get(Buffer.from(k)))).value?.toString() ?? null;

/** A chunk (kv/snapshot-chunk.ts layout) holding `victim` with a value record that fails its check. */
function hostileChunk(applied: number): Buffer {
  return encodeRecord([0, applied, true, 1, [0, Buffer.from('victim'), Buffer.from('not a value record')]]);
}

describe('self-repair through NodeHost', () => {
  it('refuses a hostile copy, retries another member, and repairs from it', async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    await cluster.onLeader((l) => l.host.propose(1, put('victim', 'good')));
    for (let i = 0; i < 20; i++) await cluster.onLeader((l) => l.host.propose(1, put(`k${i}`, `v${i}`)));
    const follower = cluster.running().find((n) => n.id !== leader.id)!;
    await until(async () => (await staleGet(follower, 'k19')) === 'v19', 8000, 'the follower applied');
    // The leader, asked first, serves garbage.
    let hostileServed = 0;
    (leader.host as unknown as { onRepairRequest: () => Promise<RepairSource> }).onRepairRequest = async () => {
      hostileServed++;
      const applied = follower.host.groupStatus(1).applied;
      return {
        async *[Symbol.asyncIterator]() {
          yield hostileChunk(applied);
        },
        close: async () => undefined,
      };
    };
    // Damage the follower's stored value (flip its last byte) while it runs.
    const key = Buffer.from('d/victim');
    const rec = (await follower.store.db.get(key)) as Buffer;
    rec[rec.length - 1] = (rec[rec.length - 1] as number) ^ 1;
    await follower.store.db.put(key, rec);
    await expect(staleGet(follower, 'victim')).rejects.toMatchObject({ code: 'CORRUPTION' });
    await until(async () => (await staleGet(follower, 'victim').catch(() => null)) === 'good', 15_000, 'repaired');
    expect(hostileServed).toBeGreaterThanOrEqual(1);
    expect(
      await metricSum(follower.metrics.registry, 'tessera_self_repairs_total', { group: '1', outcome: 'failed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metricSum(follower.metrics.registry, 'tessera_self_repairs_total', { group: '1', outcome: 'ok' }),
    ).toBe(1);
    expect(await metricSum(follower.metrics.registry, 'tessera_replica_needs_repair', { group: '1' })).toBe(0);
    const digests = await Promise.all(cluster.running().map((n) => n.host.read(1, 'stale', (sm) => sm.digest())));
    expect(new Set(digests.map((d) => `${d.value.appliedIndex}:${d.value.sha256}`)).size).toBe(1);
    expect(follower.fatal).toEqual([]);
  }, 30_000);
});
