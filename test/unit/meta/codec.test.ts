/**
 * Hostile encodings: meta commands from the log, stored records and heartbeats from the network are
 * decoded only through checks; each malformed input is refused with a clear error, never applied.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { encodeCommand, encodeRecord } from '../../../src/codec';
import {
  META_SHARD_ID,
  MetaStateMachine,
  checkHeartbeat,
  decodeMetaCommand,
  encodeMetaCommand,
} from '../../../src/meta';
import type { MetaCommand } from '../../../src/meta';
import { CLUSTER, MetaHarness, Stores, addr, bootstrap, ep, key, sid } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof TesseraError)) throw e;
    return { code: e.code, message: e.message };
  }
  return { code: 'none', message: '' };
}

const valid: MetaCommand[] = [
  bootstrap(),
  { type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: '[::1]:7004', atMs: 5 },
  { type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: 'node-4.example:7004' },
  { type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: '127.0.0.1:7004', peerAddress: '10.0.0.4:8004' },
  { type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: '127.0.0.1:7004', atMs: 7, peerAddress: 'n4:8004' },
  { type: 'setNodeState', nodeId: 4, state: 'draining', atMs: 9 },
  { type: 'reserveShardIds', count: 1024 },
  { type: 'split', shard: sid(1), epoch: ep(3), key: key('m'), rightId: sid(7) },
  { type: 'changeReplicas', shard: sid(2), epoch: ep(0), change: 'promoteLearner', node: 5 },
  {
    type: 'setReplicas',
    shard: sid(3),
    epoch: ep(4),
    newEpoch: ep(9),
    replicas: [
      { node: 2, role: 'voter' },
      { node: 6, role: 'learner' },
    ],
  },
];

describe('meta command codec', () => {
  it('round-trips every command', () => {
    for (const c of valid) expect(decodeMetaCommand(encodeMetaCommand(c))).toEqual(c);
  });

  it('refuses to encode a malformed command (INVALID_ARGUMENT, before it is proposed)', () => {
    const bad: [unknown, RegExp][] = [
      [{ ...bootstrap(), clusterId: 'ABC' }, /cluster id: expected 32 lowercase hex/],
      [{ ...bootstrap(), nodes: [] }, /bootstrap nodes: expected 1\.\.1024/],
      [
        {
          ...bootstrap(),
          nodes: [
            { id: 1, address: addr(1) },
            { id: 1, address: addr(2) },
          ],
        },
        /node 1 appears twice/,
      ],
      [
        {
          ...bootstrap(),
          nodes: [
            { id: 1, address: addr(1) },
            { id: 2, address: addr(1) },
          ],
        },
        /address .* appears twice/,
      ],
      [{ ...bootstrap(), dataShardId: 2 }, /share id 2/],
      [{ type: 'registerNode', clusterId: CLUSTER, nodeId: 0, address: addr(1) }, /node id: 0 is not a node id/],
      [{ type: 'registerNode', clusterId: CLUSTER, nodeId: 2 ** 32, address: addr(1) }, /not a node id/],
      [{ type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: 'no-port' }, /not a host:port/],
      [
        { type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: 'h:7000', peerAddress: 'h:0' },
        /peer address.*not a host:port/,
      ],
      [{ type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: 'h:0' }, /not a host:port/],
      [{ type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: 'h:70000' }, /not a host:port/],
      [{ type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: ':7000' }, /not a host:port/],
      [{ type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: 'a b:7000' }, /not a host:port/],
      [
        { type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: `${'h'.repeat(300)}:1` },
        /expected a host:port/,
      ],
      [{ type: 'setNodeState', nodeId: 4, state: 'gone' }, /node state: expected a non-negative integer/],
      [{ type: 'setNodeState', nodeId: 4, state: 'up', atMs: -1 }, /atMs/],
      [{ type: 'reserveShardIds', count: 0 }, /count 0 is not in 1\.\.1024/],
      [{ type: 'reserveShardIds', count: 1025 }, /count 1025/],
      [{ type: 'split', shard: 0, epoch: 1, key: key('m'), rightId: 3 }, /shard: 0 is not a shard id/],
      [{ type: 'split', shard: 1, epoch: 1.5, key: key('m'), rightId: 3 }, /epoch: 1.5 is not an epoch/],
      [{ type: 'split', shard: 1, epoch: 1, key: 'm', rightId: 3 }, /split key: expected bytes/],
      [{ type: 'split', shard: 1, epoch: 1, key: Buffer.alloc(65 * 1024), rightId: 3 }, /more than 65536/],
      [{ type: 'changeReplicas', shard: 1, epoch: 1, change: 'promote', node: 4 }, /replica change/],
      [{ type: 'nope' }, /meta command/],
      [
        { type: 'setReplicas', shard: 1, epoch: 4, newEpoch: 4, replicas: [{ node: 1, role: 'voter' }] },
        /new epoch 4 is not after 4/,
      ],
      [{ type: 'setReplicas', shard: 1, epoch: 4, newEpoch: 5, replicas: [] }, /expected 1\.\.64 replicas/],
      [{ type: 'setReplicas', shard: 1, epoch: 4, newEpoch: 5, replicas: [{ node: 1, role: 'learner' }] }, /no voter/],
      [
        {
          type: 'setReplicas',
          shard: 1,
          epoch: 4,
          newEpoch: 5,
          replicas: [
            { node: 1, role: 'voter' },
            { node: 1, role: 'learner' },
          ],
        },
        /node 1 appears twice/,
      ],
    ];
    for (const [c, re] of bad) {
      const e = errorOf(() => encodeMetaCommand(c as MetaCommand));
      expect(e.code, JSON.stringify(c)?.slice(0, 80)).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(re);
    }
  });

  it('refuses hostile log data (CORRUPTION naming the defect)', () => {
    const record = (t: unknown): Buffer => encodeRecord(t);
    const bad: [Uint8Array, RegExp][] = [
      [Buffer.alloc(0), /shorter than a record header/],
      [encodeCommand({ type: 'put', key: key('a'), value: key('b'), session: null }), /format byte/],
      [Buffer.from(encodeMetaCommand(valid[3]!)).fill(7, 6, 7), /checksum mismatch/],
      [record('x'), /meta command: expected an array/],
      [record([99]), /unknown meta command type 99/],
      [record([4, 1, 2]), /reserveShardIds: expected a tuple of 2 elements/],
      [record([5, 1, 1, key('m'), 3, 'extra']), /split: expected a tuple of 5/],
      [record([3, 4, 7]), /node state: unknown code 7/],
      [record([2, CLUSTER, 4, addr(4), 'soon']), /atMs/],
      [record([1, CLUSTER, Array.from({ length: 1025 }, (_, i) => [i + 1, addr(i)]), 1, 2]), /1\.\.1024 nodes/],
      [record([1, CLUSTER, [[1]], 1, 2]), /bootstrap node: expected a tuple of 2/],
      [record([6, 1, 1, 0, 2 ** 53]), /node: .* is not a node id/],
      [record([5, 1, -1, key('m'), 3]), /epoch/],
      [record([7, 1, 1, 2, [[1, 2]]]), /role 2 is not 0 or 1/],
      [record([7, 1, 1, 2, Array.from({ length: 65 }, (_, i) => [i + 1, 1])]), /expected 1\.\.64 replicas/],
      [record([7, 1, 1, 2, [[0, 1]]]), /not a node id/],
    ];
    for (const [data, re] of bad) {
      const e = errorOf(() => decodeMetaCommand(data));
      expect(e.code).toBe('CORRUPTION');
      expect(e.message).toMatch(/^undecodable meta command: /);
      expect(e.message).toMatch(re);
    }
  });
});

describe('stored records', () => {
  it('a damaged or misplaced c/ record makes open fail with CORRUPTION naming the record', async () => {
    const s = await stores.make();
    const h = await MetaHarness.open(s.store);
    await h.run(bootstrap());
    const db = s.store.db;
    const nodeKey = Buffer.concat([
      Buffer.from('c/'),
      Buffer.from([0, 0, 0, META_SHARD_ID]),
      Buffer.from('/n'),
      Buffer.from([0, 0, 0, 2]),
    ]);
    const good = (await db.get(nodeKey))!;
    const cases: [Buffer, Buffer, RegExp][] = [
      [nodeKey, Buffer.from(good).fill(0, 8, 9), /c\/n\/2.*checksum mismatch/],
      [nodeKey, encodeRecord([3, addr(3), 0, null, null]), /c\/n\/2: holds node 3/],
      [nodeKey, encodeRecord([2, 'nope', 0, null, null]), /c\/n\/2.*not a host:port/],
      [Buffer.concat([nodeKey.subarray(0, 7), Buffer.from('zz')]), encodeRecord(1), /not a meta key/],
      [
        Buffer.concat([nodeKey.subarray(0, 7), Buffer.from('s'), Buffer.from([0, 0, 0, 1])]),
        encodeRecord([1, key(''), null, Array.from({ length: 65 }, (_, i) => [i + 1, true]), 1]),
        /c\/s\/1.*more than 64 replicas/,
      ],
      [
        Buffer.concat([nodeKey.subarray(0, 7), Buffer.from('s'), Buffer.from([0, 0, 0, 9])]),
        encodeRecord([9, key('a'), null, [[1, true]], 1]),
        /overlaps|c\/s\/9/,
      ],
    ];
    for (const [k, v, re] of cases) {
      const original = await db.get(k);
      await db.put(k, v);
      const e = await MetaStateMachine.open(s.store, META_SHARD_ID).then(
        () => null,
        (err: TesseraError) => err,
      );
      expect(e?.code).toBe('CORRUPTION');
      expect(e?.message).toMatch(re);
      if (original !== undefined) await db.put(k, original);
      else await db.del(k);
      expect((await MetaStateMachine.open(s.store, META_SHARD_ID)).nodes().length).toBe(3);
    }
    // Removing a node whose replicas remain leaves the state incoherent: refused too.
    await db.del(nodeKey);
    await expect(MetaStateMachine.open(s.store, META_SHARD_ID)).rejects.toThrow(/on unregistered node 2/);
  });
});

describe('heartbeats', () => {
  it('accepts a well-formed heartbeat and refuses hostile ones with INVALID_ARGUMENT', () => {
    const hb = { nodeId: 4, clusterId: CLUSTER, sentAtMs: 10, replicas: 3, leaders: 1 };
    expect(checkHeartbeat(hb)).toEqual(hb);
    const bad: [unknown, RegExp][] = [
      [null, /expected an object/],
      ['hb', /expected an object/],
      [{ ...hb, nodeId: -1 }, /node id/],
      [{ ...hb, nodeId: '4' }, /node id/],
      [{ ...hb, clusterId: 'x' }, /cluster id/],
      [{ ...hb, sentAtMs: Number.NaN }, /sentAtMs/],
      [{ ...hb, replicas: 1e9 }, /replicas: 1000000000 is more than/],
      [{ ...hb, leaders: -2 }, /leaders/],
    ];
    for (const [v, re] of bad) {
      const e = errorOf(() => checkHeartbeat(v));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(re);
    }
  });
});
