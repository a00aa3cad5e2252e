/**
 * Routing keys by shard from the SDK's cache (src/client/shard-batch-plan.ts): a coalesced set of
 * requests grouped per shard; an atomic batch sent to its one shard, or refused with INVALID_ARGUMENT
 * naming the shards it spans, or reported as needing descriptors (misses) first.
 */
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { crossShardBatchError, groupKeysByShard, planBatch } from '../../../src/client/shard-batch-plan';
import { ShardCache } from '../../../src/client/shard-cache';
import { desc, k, str } from '../shard/helpers';

function cache(): ShardCache {
  const c = new ShardCache();
  c.update(desc(1, '', 'f', '1v 2v 3v', 2), { node: 2, address: null });
  c.update(desc(4, 'f', 'p', '1v 2v 3v', 3));
  // [p, +inf) is not cached.
  return c;
}

describe('groupKeysByShard', () => {
  it('groups the keys per shard in key order, keeping their indexes, and lists the misses', () => {
    const keys = ['g', 'a', 'z', 'h', 'e', 'p'].map(k);
    const { groups, missing } = groupKeysByShard(cache(), keys);
    expect(groups.map((g) => [g.descriptor.id, g.indexes, g.leader?.node ?? null])).toEqual([
      [1, [1, 4], 2],
      [4, [0, 3], null],
    ]);
    expect(missing).toEqual([2, 5]);
  });
});

describe('planBatch', () => {
  it('sends a batch whose keys are in one shard to that shard (with its leader hint)', () => {
    const route = planBatch(cache(), ['a', 'b', 'e', 'a'].map(k));
    expect(route).toMatchObject({ kind: 'one', descriptor: { id: 1 }, leader: { node: 2 } });
    expect(planBatch(cache(), [])).toEqual({ kind: 'any' });
  });

  it('asks for the descriptors it lacks before deciding', () => {
    const route = planBatch(cache(), ['g', 'q', 'z'].map(k));
    expect(route.kind === 'miss' && route.keys.map(str)).toEqual(['q', 'z']);
  });

  it('refuses a batch spanning shards, naming them, even when some keys are misses', () => {
    for (const keys of [
      ['g', 'a'],
      ['a', 'z', 'g'],
    ]) {
      const route = planBatch(cache(), keys.map(k));
      expect(route.kind).toBe('spans');
      if (route.kind !== 'spans') continue;
      expect(route.shards.map((d) => d.id)).toEqual([1, 4]);
      const e = crossShardBatchError(route.shards);
      expect(e).toBeInstanceOf(TesseraError);
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.retryable).toBe(false);
      expect(e.details).toMatchObject({ shards: [1, 4], rule: 'cross-shard-batch', limit: 'shards' });
      expect(e.message).toContain('shard 1 [0x, f) e2');
      expect(e.message).toContain('shard 4 [f, p) e3');
      expect(e.message).toMatch(/cross-shard transactions are not supported yet/);
    }
  });
});
