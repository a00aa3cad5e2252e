/**
 * The sharded mode of the fake cluster (fake-cluster.ts, FakeCluster.shards): live shard descriptors with a
 * leader each, which node hosts which shard, and a session table per shard (copied to both halves by a
 * split, like the real state machine). Nodes answer like src/server over a multi-group node: a keyed
 * request for a shard the node does not host is WRONG_SHARD with the owner's descriptor (tessera-shard,
 * tessera-epoch, the owner's leader); one for a shard it hosts but does not lead is NOT_LEADER with
 * tessera-group and the shard leader's id and address; Admin.ListShards lists the shards a node hosts and
 * Admin.SplitShard splits on the owner's leader.
 */
import * as grpc from '@grpc/grpc-js';
import { epochOf, shardIdOf } from '../../../src/base';
import {
  SHARD_TRAILER,
  compareKeys,
  containsKey,
  encodeShardWire,
  makeDescriptor,
  splitDescriptor,
} from '../../../src/shard';
import type { ShardDescriptor } from '../../../src/shard';

export interface FakeShard {
  d: ShardDescriptor;
  /** Node id of its leader. */
  leader: number;
  /** Session ids (hex) registered in this shard. */
  sessions: Set<string>;
}

export interface FakeAnswer {
  code: grpc.status;
  message: string;
  trailers: Record<string, string>;
}

/** A descriptor over [start, end) (strings; '' is the keyspace start, null +infinity) on `nodes` (voters). */
export function fakeDescriptor(
  id: number,
  start: string,
  end: string | null,
  nodes: number[],
  epoch = 1,
): ShardDescriptor {
  return makeDescriptor({
    id: shardIdOf(id),
    start: Buffer.from(start),
    end: end === null ? null : Buffer.from(end),
    replicas: nodes.map((node) => ({ node, role: 'voter' as const })),
    epoch: epochOf(epoch),
  });
}

export class FakeShards {
  readonly live: FakeShard[] = [];
  nextId = 100;
  /** Splits done, as `<parent id>@<key>`. */
  readonly splits: string[] = [];

  constructor(
    shards: { d: ShardDescriptor; leader: number }[],
    private readonly addressOf: (node: number) => string,
  ) {
    for (const s of shards) this.live.push({ d: s.d, leader: s.leader, sessions: new Set() });
    this.sort();
  }

  owner(key: Uint8Array): FakeShard {
    const s = this.live.find((x) => containsKey(x.d, key));
    if (s === undefined) throw new Error('the fake shards do not cover the keyspace');
    return s;
  }

  byId(id: number): FakeShard | undefined {
    return this.live.find((x) => x.d.id === id);
  }

  hosts(node: number, s: FakeShard): boolean {
    return s.d.replicas.some((r) => r.node === node);
  }

  /** Splits the owner of `key` at `key`; the right half keeps the leader, members and sessions. */
  split(key: Uint8Array): { left: FakeShard; right: FakeShard } {
    const parent = this.owner(key);
    const { left, right } = splitDescriptor(parent.d, key, shardIdOf(this.nextId++));
    const l: FakeShard = { d: left, leader: parent.leader, sessions: new Set(parent.sessions) };
    const r: FakeShard = { d: right, leader: parent.leader, sessions: new Set(parent.sessions) };
    this.live.splice(this.live.indexOf(parent), 1, l, r);
    this.splits.push(`${parent.d.id}@${Buffer.from(key).toString()}`);
    return { left: l, right: r };
  }

  /** Moves shard `id` to `nodes` (voters) led by `leader`: a replica change, epoch + 1. */
  move(id: number, nodes: number[], leader: number): FakeShard {
    const s = this.byId(id);
    if (s === undefined) throw new Error(`no shard ${id}`);
    s.d = makeDescriptor({
      id: s.d.id,
      start: s.d.start,
      end: s.d.end,
      replicas: nodes.map((node) => ({ node, role: 'voter' as const })),
      epoch: epochOf(s.d.epoch + 1),
    });
    s.leader = leader;
    return s;
  }

  /** Why `node` cannot serve a request for `key` (leader: it must lead the owner), or the owner. */
  check(node: number, key: Uint8Array, leader: boolean): FakeShard | FakeAnswer {
    const s = this.owner(key);
    if (!this.hosts(node, s)) return this.wrongShard(s);
    if (leader && s.leader !== node) return this.notLeader(s, node);
    return s;
  }

  wrongShard(s: FakeShard): FakeAnswer {
    return {
      code: grpc.status.FAILED_PRECONDITION,
      message: `wrong shard: ${s.d.id} owns the key`,
      trailers: {
        'tessera-reason': 'WRONG_SHARD',
        'tessera-epoch': String(s.d.epoch),
        [SHARD_TRAILER]: encodeShardWire(s.d),
        'tessera-leader-id': String(s.leader),
        'tessera-leader-address': this.addressOf(s.leader),
      },
    };
  }

  notLeader(s: FakeShard, node: number): FakeAnswer {
    return {
      code: grpc.status.FAILED_PRECONDITION,
      message: `node ${node} does not lead shard ${s.d.id}`,
      trailers: {
        'tessera-reason': 'NOT_LEADER',
        'tessera-group': String(s.d.id),
        'tessera-leader-id': String(s.leader),
        'tessera-leader-address': this.addressOf(s.leader),
      },
    };
  }

  /** proto ShardInfo of `s`. */
  wire(s: FakeShard, keys = 0): Record<string, unknown> {
    return {
      id: s.d.id,
      start: Buffer.from(s.d.start),
      end: s.d.end === null ? Buffer.alloc(0) : Buffer.from(s.d.end),
      epoch: s.d.epoch,
      replicas: s.d.replicas.map((r) => ({ id: r.node, voter: r.role === 'voter' })),
      leader: s.leader,
      keys,
      bytes: 0,
      applied: 7,
    };
  }

  private sort(): void {
    this.live.sort((a, b) => compareKeys(a.d.start, b.d.start));
  }
}
