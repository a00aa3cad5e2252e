// MetaHost on a node without a meta replica (5 nodes, the meta shard on 3): a shard id is reserved through
// its peers in turn (one without the meta shard answers UNAVAILABLE, the next one answers or names its
// leader), instead of failing at once ("hosts no meta shard"), which kept such a node's shards from splitting.
import { describe, expect, it } from 'vitest';
import { TesseraError, type NodeId } from '../../../src/base';
import { encodeRecord } from '../../../src/codec';
import { MetaHost } from '../../../src/node/meta-host';
import { silentLogger } from '../../../src/obs';

function host(forward: (to: NodeId) => Promise<Buffer>, peers: NodeId[]): MetaHost {
  return new MetaHost({
    self: 5,
    clusterId: null,
    bootstrapNodes: () => [],
    group: () => undefined,
    propose: () => Promise.reject(new Error('no local meta group')),
    forward: (to) => forward(to),
    peers: () => peers,
    logger: silentLogger(),
    retryMs: 1,
  });
}

describe('MetaHost without a meta replica', () => {
  it('asks its peers in turn and follows a NOT_LEADER hint', async () => {
    const asked: NodeId[] = [];
    const h = host(
      async (to) => {
        asked.push(to);
        if (to === 4) throw new TesseraError('UNAVAILABLE', 'node 4 hosts no meta shard');
        if (to === 1) throw new TesseraError('NOT_LEADER', 'not the meta leader', { leaderId: 2 });
        return encodeRecord([0, 17, 1]); // shardIdsReserved: first 17, count 1
      },
      [4, 5, 1],
    );
    expect(await h.reserveShardId(2000)).toBe(17);
    expect(asked).toEqual([4, 1, 2]);
  });

  it('fails with UNAVAILABLE when it knows no peer', async () => {
    const h = host(() => Promise.reject(new Error('unreachable')), []);
    await expect(h.reserveShardId(500)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('a refusal is an answer: thrown at once, never asked again until the deadline', async () => {
    let asked = 0;
    const h = host(async () => {
      asked++;
      return encodeRecord([2, 'epoch-mismatch', 'planned against epoch 3 of shard 1 (stale)']);
    }, [1]);
    const t0 = Date.now();
    await expect(h.recordSplit(1 as never, 3, Buffer.from('m'), 7 as never, 5000)).rejects.toMatchObject({
      code: 'WRONG_SHARD',
      details: { rule: 'epoch-mismatch' },
    });
    expect(asked).toBe(1);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
