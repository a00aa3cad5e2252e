// The divergence check over every data shard (checker/divergence-shards.ts), with probes standing for nodes.
import { describe, expect, it } from 'vitest';
import { checkDivergenceAllShards, type ShardsProbe } from '../checker/divergence-shards';

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
