// The divergence check over every data shard (checker/divergence-shards.ts), with probes standing for nodes;
// and the cluster's list of data shards, united over every node's Status.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDivergenceAllShards, type ShardsProbe } from '../checker/divergence-shards';
import type { GroupInfo, NodeStatus } from '../cluster/admin-client';
import { Cluster } from '../cluster/cluster';

const digest = (groupId: number, sha: string, appliedIndex = 9) => ({
  groupId,
  appliedIndex,
  keyCount: 3,
  sha256: sha,
});

function probe(groups: Map<number, number[]> | null, sha: (node: number, group: number) => string): ShardsProbe {
  return {
    dataGroups: async () => groups,
    digest: async (n, g) => digest(g, sha(n, g)),
  };
}

const opts = { budgetMs: 500, intervalMs: 10 };

describe('divergence over every data shard', () => {
  it('passes when every shard is identical on its replicas, and says how many shards it compared', async () => {
    const r = await checkDivergenceAllShards(
      probe(
        new Map([
          [1, [1, 2, 3]],
          [5, [1, 2, 3]],
        ]),
        (_n, g) => `sha-${g}`,
      ),
      opts,
    );
    expect(r.valid).toBe(true);
    expect(r.summary).toMatch(/^2 shard\(s\) identical/);
  });

  it('fails when a replica of a shard other than the first diverged, naming the shard', async () => {
    const r = await checkDivergenceAllShards(
      probe(
        new Map([
          [1, [1, 2, 3]],
          [7, [1, 2, 3]],
        ]),
        (n, g) => (g === 7 && n === 2 ? 'bad' : `sha-${g}`),
      ),
      opts,
    );
    expect(r.valid).toBe(false);
    expect(r.summary).toMatch(/^shard 7: DIVERGED/);
  });

  it('is unknown when no node lists its shards', async () => {
    const r = await checkDivergenceAllShards(
      probe(null, () => 'x'),
      opts,
    );
    expect(r.valid).toBe('unknown');
  });
});

describe('the cluster lists its data shards over every node', () => {
  it("unites the nodes' groups (5 nodes, 3 replicas: no node hosts all), members from each leader", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jl-groups-'));
    try {
      const cluster = new Cluster({
        plan: { nodes: 5, basePort: 40000 },
        outDir: dir,
        command: ['true'],
        nodeArgs: [],
        cwd: dir,
        now: () => performance.now(),
      });
      const group = (groupId: number, role: string, term: number, members: number[], kind = 'data') =>
        ({ groupId, role, term, kind, members: members.map((id) => ({ id })) }) as unknown as GroupInfo;
      const statuses = new Map<number, NodeStatus>([
        // node 5 was moved off shard 7 and has not learned it: its stale member list must not count
        [5, { groups: [group(1, 'follower', 2, [1, 2, 5]), group(7, 'follower', 3, [3, 4, 5])] } as NodeStatus],
        [1, { groups: [group(1, 'leader', 2, [1, 2, 5]), group(2, 'leader', 1, [1, 2, 3], 'meta')] } as NodeStatus],
        [3, { groups: [group(7, 'leader', 3, [2, 3, 4]), group(9, 'follower', 1, [3, 4, 5])] } as NodeStatus],
      ]);
      Object.assign(cluster, { statuses: async () => statuses });
      const groups = await cluster.dataGroups();
      expect([...groups!].sort((a, b) => a[0] - b[0])).toEqual([
        [1, [1, 2, 5]],
        [7, [2, 3, 4]],
        [9, [3, 4, 5]],
      ]);
      Object.assign(cluster, { statuses: async () => new Map() });
      expect(await cluster.dataGroups()).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
