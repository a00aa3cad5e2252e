// Automatic splits (src/node/auto-split.ts): the measurement keeps bounded samples whose boundaries split
// the weight near half, the trigger (once per leadership, then after a quarter of a bound was written),
// and real in-process nodes with a tiny --split-max-keys growing to several shards under writes.
import { describe, expect, it } from 'vitest';
import type { ScanPage } from '../../../src/codec';
import { AutoSplit, SAMPLES_MAX, measureShard } from '../../../src/node/auto-split';
import type { Group } from '../../../src/node/group';
import { silentLogger } from '../../../src/obs';
import { TestCluster, putCommand, until } from './harness';

function fakeShard(n: number) {
  const keys = Array.from({ length: n }, (_, i) => Buffer.from(`k${String(i).padStart(6, '0')}`));
  return {
    shard: { start: Buffer.alloc(0), end: null as Buffer | null },
    scans: 0,
    async scan(start: Buffer, end: Buffer | null, limit: number): Promise<ScanPage> {
      this.scans++;
      const inRange = keys.filter((k) => end === null || Buffer.compare(k, end) < 0);
      const from = inRange.findIndex((k) => Buffer.compare(k, start) >= 0);
      const items = (from < 0 ? [] : inRange.slice(from, from + limit)).map((key) => ({
        key,
        value: Buffer.alloc(10),
      }));
      const next = from < 0 ? undefined : inRange[from + limit];
      return { items, more: next !== undefined, nextStart: next ?? null };
    },
  };
}

describe('measureShard', () => {
  it('counts every key and byte, keeps at most SAMPLES_MAX buckets covering them all, in order', async () => {
    const sm = fakeShard(10_000);
    const m = await measureShard(sm);
    expect(m.keys).toBe(10_000);
    expect(m.bytes).toBe(10_000 * (7 + 10));
    expect(m.samples.length).toBeLessThanOrEqual(SAMPLES_MAX);
    expect(m.samples.length).toBeGreaterThan(SAMPLES_MAX / 4);
    expect(m.samples.reduce((s, x) => s + x.keys, 0)).toBe(10_000);
    for (let i = 1; i < m.samples.length; i++)
      expect(Buffer.compare(m.samples[i - 1]!.key, m.samples[i]!.key)).toBeLessThan(0);
    expect(sm.scans).toBe(10); // pages of 1024 keys
  });
});

describe('AutoSplit trigger', () => {
  const group = (id: number, keys: number) => ({ id, isLeader: true, kvSm: fakeShard(keys) }) as unknown as Group;
  const setup = (g: Group) => {
    const splits: string[] = [];
    const a = new AutoSplit({
      splitMaxKeys: 100,
      splitMaxBytes: 0,
      leaders: () => [g],
      descriptor: () =>
        ({ id: 1, start: Buffer.alloc(0), end: null, epoch: 1, replicas: [{ node: 1, role: 'voter' }] }) as never,
      split: async (key) => {
        splits.push(key.toString());
        (g.kvSm as unknown as { shard: { end: Buffer | null } }).shard.end = key; // the leader keeps the left half
      },
      logger: silentLogger(),
    });
    return { a, splits };
  };
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it('measures a shard once per leadership and splits one over the bound near its middle', async () => {
    const { a, splits } = setup(group(7, 180));
    a.poll();
    await settle();
    expect(splits).toHaveLength(1);
    expect(Math.abs(Number(splits[0]!.slice(1)) - 90)).toBeLessThanOrEqual(2);
    a.poll(); // its half is measured again (90 keys: within the bound), then nothing written: not again
    await settle();
    a.poll();
    await settle();
    expect(splits).toHaveLength(1);
    a.noteApplied(7, 24, 0); // a quarter of 100 keys is 25 entries: not yet
    a.poll();
    await settle();
    expect(splits).toHaveLength(1);
    a.noteApplied(7, 1, 0);
    a.poll();
    await settle();
    expect(splits).toHaveLength(1); // measured again: still 90 keys in the fake
  });

  it('a half still over the bound after its split is split again without waiting for writes', async () => {
    const { a, splits } = setup(group(7, 500));
    for (let i = 0; i < 6; i++) {
      a.poll();
      await settle();
    }
    // 500 -> left 250 -> 125 -> 62: three splits, each of the half the leader kept, then nothing.
    expect(splits.map((k) => Math.round(Number(k.slice(1)) / 10) * 10)).toEqual([250, 130, 60]);
  });

  it("reports a led shard's measured keys and bytes, withdraws them when leadership changes, never from a lost one", async () => {
    const g = group(7, 50);
    const reports: Array<[number, { keys: number; bytes: number } | null]> = [];
    const a = new AutoSplit({
      splitMaxKeys: 100,
      splitMaxBytes: 0,
      leaders: () => [g],
      descriptor: () => null as never,
      split: async () => undefined,
      logger: silentLogger(),
      reportStats: (id, stats) => void reports.push([id, stats]),
    });
    a.poll();
    await settle();
    expect(reports).toEqual([[7, { keys: 50, bytes: 50 * (7 + 10) }]]);
    a.leaderChanged(7);
    expect(reports.at(-1)).toEqual([7, null]);
    // Leadership lost while a measurement runs: its figures are not reported.
    reports.length = 0;
    a.poll();
    (g as unknown as { isLeader: boolean }).isLeader = false;
    await settle();
    expect(reports).toEqual([]);
  });

  it('leaves a shard within its bounds alone, and is off when both bounds are 0', async () => {
    const { a, splits } = setup(group(7, 50));
    a.poll();
    await settle();
    expect(splits).toEqual([]);
    const off = new AutoSplit({
      splitMaxKeys: 0,
      splitMaxBytes: 0,
      leaders: () => {
        throw new Error('not asked when off');
      },
      descriptor: () => null as never,
      split: async () => undefined,
      logger: silentLogger(),
    });
    expect(() => off.poll()).not.toThrow();
  });
});

/** Puts `k` at the leader of the shard that owns it, again after a split or election moved it (as the SDK does). */
async function putRouted(c: TestCluster, k: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const host = c.running()[0]!.host;
      const owner = host.groupFor(Buffer.from(k));
      const leader = c.running().find((n) => n.host.groupStatus(owner).role === 'leader');
      if (leader) {
        await leader.host.propose(owner, putCommand(k, `v-${k}`));
        return;
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (!['WRONG_SHARD', 'NOT_LEADER', 'UNAVAILABLE'].includes(code ?? '') || Date.now() > deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('automatic splits on real nodes', () => {
  it('a 3-node cluster with --split-max-keys 40 grows to several shards under writes, every key where it was', async () => {
    const c = await TestCluster.start(3, ['--split-max-keys', '40']);
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
      for (const k of keys) await putRouted(c, k);
      await until(() => c.running()[0]!.host.listShards().length >= 4, 15_000, 'at least 4 shards');
      const host = c.running()[0]!.host;
      const shards = host.listShards();
      console.log(`shards after 200 keys with --split-max-keys 40: ${shards.length}`);
      // The shards tile the keyspace and every key reads back from its owner.
      expect(shards[0]!.start.length).toBe(0);
      for (let i = 1; i < shards.length; i++) expect(shards[i]!.start).toEqual(shards[i - 1]!.end);
      expect(shards.at(-1)!.end).toBeNull();
      for (const k of keys) {
        const g = host.groupFor(Buffer.from(k));
        const v = await host.read(g, 'stale', (sm) => sm.get(Buffer.from(k)));
        expect(v.value?.toString()).toBe(`v-${k}`);
      }
      // tessera_shard_keys / _bytes: each shard reported once, by the node that leads it, with its measured size.
      const reported = async () => {
        const out: { node: number; shard: number; keys: number; bytes: number }[] = [];
        for (const n of c.running()) {
          const keysOf = (await n.metrics.shardKeys.get()).values;
          const bytesOf = (await n.metrics.shardBytes.get()).values;
          for (const v of keysOf) {
            const shard = Number(v.labels.shard);
            const bytes = bytesOf.find((b) => b.labels.shard === v.labels.shard)?.value ?? -1;
            out.push({ node: n.id, shard, keys: v.value, bytes });
          }
        }
        return out;
      };
      const ledBy = (shard: number) => c.running().find((n) => n.host.groupStatus(shard).role === 'leader')?.id;
      let last: Awaited<ReturnType<typeof reported>> = [];
      // Within the wait: the placement driver may move a leader meanwhile (the old leader withdraws its report).
      await until(
        async () => {
          last = await reported();
          const shardsReported = last.map((r) => r.shard).sort((x, y) => x - y);
          const ids = host.listShards().map((s) => s.id); // a split may still come
          const once = JSON.stringify(shardsReported) === JSON.stringify(ids.sort((x, y) => x - y));
          return once && last.every((r) => r.node === ledBy(r.shard));
        },
        15_000,
        'every shard reported once, by its leader',
      );
      for (const r of last) {
        expect(r.keys).toBeGreaterThan(0);
        expect(r.bytes).toBeGreaterThan(r.keys);
      }
    } finally {
      await c.close();
    }
  }, 60_000);
});
