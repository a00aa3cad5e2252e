import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { loadNodeConfig } from '../../../src/config';
import { createNodeMetrics } from '../../../src/obs';
import type { LocalShardInfo } from '../../../src/node';
import { adminShardHandlers, type ShardHost } from '../../../src/server/admin-shards';

const config = loadNodeConfig({
  argv: ['--id', '2', '--listen', '127.0.0.1:1', '--peers', '2=127.0.0.1:1', '--data-dir', '/nonexistent'],
  env: {},
});

function shard(id: number, start: string, end: string | null, leader = 2): LocalShardInfo {
  return {
    id,
    start: Buffer.from(start),
    end: end === null ? null : Buffer.from(end),
    epoch: id + 10,
    replicas: [
      { id: 1, voter: true },
      { id: 2, voter: true },
      { id: 3, voter: false },
    ],
    leader,
    applied: id * 100,
  };
}

/** A host with three shards (listed out of order), recording the calls it gets. */
class FakeShardHost implements ShardHost {
  readonly statsCalls: number[] = [];
  readonly splits: { key: Buffer; timeoutMs: number | undefined }[] = [];
  statsDelayMs = 0;
  splitError: unknown = null;
  shards = [shard(7, 'm', null), shard(1, '', 'g'), shard(4, 'g', 'm')];
  listShards(): LocalShardInfo[] {
    return this.shards;
  }
  async shardStats(groupId: number) {
    this.statsCalls.push(groupId);
    if (this.statsDelayMs > 0) await new Promise((r) => setTimeout(r, this.statsDelayMs));
    return { keys: groupId * 3, bytes: groupId * 1000 };
  }
  async splitShard(key: Buffer, timeoutMs?: number) {
    this.splits.push({ key, timeoutMs });
    if (this.splitError !== null) throw this.splitError;
    return { left: shard(4, 'g', key.toString()), right: shard(9, key.toString(), 'm') };
  }
  listNodes() {
    return [{ id: 1, address: '127.0.0.1:7001', state: 'up', replicas: 3, leaders: 2 }];
  }
}

type Outcome =
  { ok: true; value: any } | { ok: false; code: number; details: string; trailers: Record<string, string> };

function call(host: ShardHost, method: 'listShards' | 'splitShard', request: unknown, deadline: number = Infinity) {
  const handler = adminShardHandlers(() => host, config, createNodeMetrics())[method];
  return new Promise<Outcome>((resolve) =>
    (handler as grpc.handleUnaryCall<unknown, unknown>)(
      { request, getDeadline: () => deadline } as never,
      (err: any, value?: unknown) => {
        if (!err) return resolve({ ok: true, value });
        const trailers: Record<string, string> = {};
        for (const [k, v] of Object.entries((err.metadata as grpc.Metadata).getMap())) trailers[k] = String(v);
        resolve({ ok: false, code: err.code, details: err.details, trailers });
      },
    ),
  );
}

describe('Admin.ListShards', () => {
  it('lists the hosted shards ascending by start, the unbounded end as empty bytes, without reading stats', async () => {
    const host = new FakeShardHost();
    const r = await call(host, 'listShards', { withStats: false });
    expect(r.ok).toBe(true);
    const res = (r as { value: any }).value;
    expect(res.nodeId).toBe(2);
    expect(res.shards.map((s: any) => s.id)).toEqual([1, 4, 7]);
    expect(res.shards[0]).toEqual({
      id: 1,
      start: Buffer.alloc(0),
      end: Buffer.from('g'),
      epoch: 11,
      replicas: [
        { id: 1, voter: true },
        { id: 2, voter: true },
        { id: 3, voter: false },
      ],
      leader: 2,
      keys: 0,
      bytes: 0,
      applied: 100,
    });
    expect(res.shards[2].end).toEqual(Buffer.alloc(0));
    expect(host.statsCalls).toEqual([]);
  });

  it('with_stats reads each shard once and fills keys and bytes; a non-boolean with_stats reads none', async () => {
    const host = new FakeShardHost();
    const r = (await call(host, 'listShards', { withStats: true })) as { value: any };
    expect(r.value.shards.map((s: any) => [s.id, s.keys, s.bytes])).toEqual([
      [1, 3, 1000],
      [4, 12, 4000],
      [7, 21, 7000],
    ]);
    expect(host.statsCalls).toEqual([1, 4, 7]);
    const other = new FakeShardHost();
    await call(other, 'listShards', { withStats: 'yes' });
    expect(other.statsCalls).toEqual([]);
  });

  it('stops reading stats once the request budget is spent: DEADLINE_EXCEEDED, not a read of every shard', async () => {
    const host = new FakeShardHost();
    host.shards = Array.from({ length: 50 }, (_, i) => shard(i + 1, `k${String(i).padStart(3, '0')}`, null));
    host.statsDelayMs = 20;
    const r = await call(host, 'listShards', { withStats: true }, Date.now() + 100);
    expect(r).toMatchObject({ ok: false, code: grpc.status.DEADLINE_EXCEEDED });
    expect(host.statsCalls.length).toBeLessThan(10);
  });
});

describe('Admin.SplitShard', () => {
  it('splits at a valid key with the request budget and answers both sides', async () => {
    const host = new FakeShardHost();
    const r = (await call(host, 'splitShard', { key: Buffer.from('j') }, Date.now() + 3000)) as { value: any };
    expect(host.splits).toHaveLength(1);
    expect(host.splits[0]!.key).toEqual(Buffer.from('j'));
    expect(host.splits[0]!.timeoutMs).toBeGreaterThan(2000);
    expect(host.splits[0]!.timeoutMs).toBeLessThanOrEqual(3000);
    expect(r.value.left).toMatchObject({ id: 4, start: Buffer.from('g'), end: Buffer.from('j') });
    expect(r.value.right).toMatchObject({ id: 9, start: Buffer.from('j'), end: Buffer.from('m') });
  });

  it('refuses a hostile key (empty, absent, not bytes, over keyBytesMax) before the host sees it', async () => {
    const host = new FakeShardHost();
    const max = config.limits.keyBytesMax;
    const cases: [unknown, string][] = [
      [{ key: Buffer.alloc(0) }, 'keyBytesMin'],
      [{}, 'keyBytesMin'],
      [{ key: 'abc' }, 'keyBytesMin'],
      [{ key: 42 }, 'keyBytesMin'],
      [{ key: Buffer.alloc(max + 1, 0x61) }, 'keyBytesMax'],
    ];
    for (const [req, limit] of cases) {
      const r = await call(host, 'splitShard', req);
      expect(r).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
      expect((r as { trailers: Record<string, string> }).trailers['tessera-limit']).toBe(limit);
      expect((r as { details: string }).details.length).toBeLessThan(200);
    }
    expect(host.splits).toEqual([]);
    expect((await call(host, 'splitShard', { key: Buffer.alloc(max, 0x61) })).ok).toBe(true);
  });

  it("NOT_LEADER from the host carries the shard's group and leader hints", async () => {
    const host = new FakeShardHost();
    host.splitError = new TesseraError('NOT_LEADER', 'not the leader of group 4', {
      groupId: 4,
      leaderId: 3,
      leaderAddress: '127.0.0.1:7003',
    });
    const r = await call(host, 'splitShard', { key: Buffer.from('j') });
    expect(r).toMatchObject({ ok: false, code: grpc.status.FAILED_PRECONDITION });
    expect((r as { trailers: Record<string, string> }).trailers).toMatchObject({
      'tessera-reason': 'NOT_LEADER',
      'tessera-group': '4',
      'tessera-leader-id': '3',
      'tessera-leader-address': '127.0.0.1:7003',
    });
  });
});
