/**
 * Client.scan and Client.batch over shards (issue 10, "Routing"; src/client/shard-scan.ts,
 * shard-routes.ts batchRouteKey) against in-process fake nodes in sharded mode: scan pages go to the leader
 * of the shard owning the resume key, clipped to it; every key comes back once and in order while shards
 * split and move between pages; a page that breaks the rules is an error, never a duplicate; a batch whose
 * keys span shards is refused with INVALID_ARGUMENT naming them, one within a shard goes to its leader.
 */
import { describe, expect, it } from 'vitest';
import type { TesseraError } from '../../../src/base';
import { shardedFakes } from './sharded-fakes';

const sharded = shardedFakes({ deadlineMs: 4000 });

/** Nodes 1..3; shards ['', 'h') led by 1, ['h', 'q') led by 2, ['q', +inf) led by 3, all on every node. */
async function threeShards() {
  const all = [1, 2, 3];
  const { c, cl, shards } = await sharded(3, [
    { id: 1, start: '', end: 'h', nodes: all, leader: 1 },
    { id: 2, start: 'h', end: 'q', nodes: all, leader: 2 },
    { id: 3, start: 'q', end: null, nodes: all, leader: 3 },
  ]);
  const letters = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i));
  for (const l of letters) for (const d of ['0', '1']) c.data.set(Buffer.from(l + d).toString('hex'), Buffer.from('v'));
  return { c, cl, shards, keys: letters.flatMap((l) => [`${l}0`, `${l}1`]) };
}

async function collect(it: AsyncIterable<{ items: { key: Buffer }[] }>, between?: () => void): Promise<string[]> {
  const out: string[] = [];
  for await (const page of it) {
    out.push(...page.items.map((x) => x.key.toString()));
    between?.();
  }
  return out;
}

describe('scan over shards', () => {
  it("asks each shard's leader for its own range, page by page", async () => {
    const { c, cl, keys } = await threeShards();
    await cl.listShards({ endpoint: c.node(1).address }); // warm: shards and leaders known by id...
    await cl.clusterStatus(); // ...and which endpoint is which node
    for (const n of c.nodes) n.calls.length = 0;
    expect(await collect(cl.scan('', null, { pageLimit: 5 }))).toEqual(keys);
    // Each node served only its shard's range: no NOT_LEADER hops, no page crossing a boundary.
    const ranges = c.nodes.map((n) =>
      n.calls.filter((x) => x.method === 'Scan').map((x) => `${x.request.start}-${x.request.end}`),
    );
    expect(ranges[0]!.every((r) => /-h$/.test(r))).toBe(true);
    expect(ranges[1]!.every((r) => /^[h-p]\d?-q$/.test(r))).toBe(true);
    expect(ranges[2]!.every((r) => /^[q-z]\d?-$/.test(r))).toBe(true);
    expect(ranges.flat().length).toBe(3 + 4 + 4); // 14, 18 and 20 keys in pages of 5
  });

  it('returns every key once and in order while shards split and move between pages', async () => {
    const { cl, shards, keys } = await threeShards();
    const changes = [
      () => shards.split(Buffer.from('c')),
      () => shards.move(2, [1, 3], 3),
      () => shards.split(Buffer.from('k1')),
      () => shards.split(Buffer.from('u')),
      () => shards.move(3, [1, 2], 1),
      () => shards.split(Buffer.from('x0')),
    ];
    let page = 0;
    const got = await collect(cl.scan('', null, { pageLimit: 4 }), () => changes[page++]?.());
    expect(got).toEqual(keys);
    expect(shards.splits.length).toBe(4);
  });

  it('a limit and a bounded range hold across shards', async () => {
    const { cl } = await threeShards();
    expect(await collect(cl.scan('f', 's', { pageLimit: 3, limit: 7 }))).toEqual([
      'f0',
      'f1',
      'g0',
      'g1',
      'h0',
      'h1',
      'i0',
    ]);
    expect((await collect(cl.scan('g1', 'i', { pageLimit: 2 }))).join(' ')).toBe('g1 h0 h1');
  });

  it('a page with keys before the resume key (a buggy node) is an error, not duplicates', async () => {
    const { c, cl } = await threeShards();
    let pages = 0;
    c.scanTamper = (p) => {
      if (++pages === 2) p.items.unshift({ key: Buffer.from('a0'), value: Buffer.from('again') });
    };
    const e = await collect(cl.scan('', null, { pageLimit: 4 })).then(
      () => null,
      (err: TesseraError) => err,
    );
    expect(e?.code).toBe('INTERNAL');
    expect(e?.message).toMatch(/bad page/);
  });
});

describe('batch over shards', () => {
  it('a batch whose keys span shards is refused with INVALID_ARGUMENT naming them, and nothing is sent', async () => {
    const { c, cl } = await threeShards();
    await cl.put('a', 'x'); // loads the shards
    for (const n of c.nodes) n.calls.length = 0;
    const e = await cl
      .batch({ compares: [{ key: 'b', expected: null }], ops: [{ op: 'put', key: 'z', value: '1' }] })
      .then(
        () => null,
        (err: TesseraError) => err,
      );
    expect(e?.code).toBe('INVALID_ARGUMENT');
    expect(e?.details.shards).toEqual([1, 3]);
    expect(e?.message).toMatch(/span 2 shards/);
    expect(c.nodes.every((n) => n.callsOf('Batch') === 0)).toBe(true);
  });

  it("a batch within one shard goes to that shard's leader, atomically", async () => {
    const { c, cl } = await threeShards();
    const res = await cl.batch({
      compares: [{ key: 'i', expected: null }],
      ops: [
        { op: 'put', key: 'i', value: '1' },
        { op: 'get', key: 'j0' },
      ],
    });
    expect(res).toEqual({ succeeded: true, results: [null, Buffer.from('v')] });
    expect(c.get('i')).toBe('1');
    expect(c.node(2).callsOf('Batch')).toBe(1);
  });
});
