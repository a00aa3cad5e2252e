/**
 * Admin.MoveReplica, Admin.SetNodeState, Admin.ListNodes and the merged Admin.ListShards
 * (server/admin-nodes.ts) on a scripted host: argument checks, who answers (the shard's leader, the meta
 * leader) and the hints otherwise, the no_wait bound, the removal check over every shard known, and the
 * placement driver's view used only on the meta leader.
 */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { encodeRecord } from '../../../src/codec';
import { loadNodeConfig } from '../../../src/config';
import { decodeMetaCommand, type MetaCommand } from '../../../src/meta';
import type { LocalShardInfo, MemberInfo } from '../../../src/node';
import { createNodeMetrics, silentLogger } from '../../../src/obs';
import { BackgroundMoves, type NodesHost, type PlacementView } from '../../../src/server/admin-nodes';
import { adminServiceHandlers } from '../../../src/server/admin-service';

const config = loadNodeConfig({
  argv: ['--id', '2', '--listen', '127.0.0.1:1', '--peers', '2=127.0.0.1:1', '--data-dir', '/nonexistent'],
  env: {},
});

const member = (id: number, voter = true): MemberInfo => ({ id, address: `127.0.0.1:700${id}`, voter, match: 5 });

function shard(id: number, start: string, end: string | null, replicas: number[], leader = 2): LocalShardInfo {
  return {
    id,
    start: Buffer.from(start),
    end: end === null ? null : Buffer.from(end),
    epoch: 3,
    replicas: replicas.map((r) => ({ id: r, voter: true })),
    leader,
    applied: 40,
  };
}

/** Node 2's host: hosts shards 1 and 4 (and the meta group 2), leads what `leads` says. */
class FakeHost implements NodesHost {
  leads = new Set([1, 2, 4]);
  leaderOfGroup = new Map([
    [1, 2],
    [2, 2],
    [4, 2],
  ]);
  shards = [shard(1, '', 'g', [1, 2, 3]), shard(4, 'g', null, [1, 2, 3])];
  metaMembers = [1, 2, 3];
  readonly moves: { groupId: number; from: number; to: number; timeoutMs?: number }[] = [];
  readonly forwarded: MetaCommand[] = [];
  moveGate: Promise<void> = Promise.resolve();
  /** Node ids whose peer address the host knows (1-3: the bootstrap nodes). */
  known = new Set([1, 2, 3]);
  readonly learned: [number, string, string][] = [];
  readonly addresses = {
    get: (id: number) => (this.known.has(id) ? `127.0.0.1:700${id}` : null),
    peer: (id: number) => (this.known.has(id) ? `127.0.0.1:700${id}` : null),
  };
  learnNodeAddress(id: number, client: string, peer: string) {
    this.learned.push([id, client, peer]);
    this.known.add(id);
  }
  moveError: unknown = null;
  /** The meta leader as the last placement poll named it (a node without a meta replica uses it). */
  metaHint = 0;
  hostsMeta = true;
  metaLeaderHint() {
    return this.metaHint;
  }
  /** Registry states as the meta replica holds them; a read barrier applies `pendingStates` first. */
  states = new Map([[5, 'removed']]);
  pendingStates = new Map<number, string>();
  barriers = 0;
  async readBarrier(groupId: number) {
    if (groupId !== 2 || !this.leads.has(2)) throw new TesseraError('NOT_LEADER', 'not the meta leader');
    this.barriers++;
    for (const [id, state] of this.pendingStates) this.states.set(id, state);
    return 9;
  }

  listShards() {
    return this.shards;
  }
  listNodes() {
    return [1, 2, 3, 4, 5].map((id) => ({
      id,
      address: `127.0.0.1:700${id}`,
      state: this.states.get(id) ?? 'up',
      replicas: 1,
      leaders: 0,
    }));
  }
  groupStatus(groupId: number) {
    if ((groupId === 2 && !this.hostsMeta) || (groupId !== 2 && !this.shards.some((s) => s.id === groupId)))
      throw new TesseraError('WRONG_SHARD', `group ${groupId} is not hosted`, { epoch: 0 });
    const members = groupId === 2 ? this.metaMembers.map((m) => member(m)) : [member(1), member(2), member(3)];
    return {
      groupId,
      leader: this.leaderOfGroup.get(groupId) ?? 0,
      term: 4,
      role: this.leads.has(groupId) ? 'leader' : 'follower',
      commit: 9,
      applied: 9,
      firstIndex: 1,
      lastIndex: 9,
      members,
      range: { start: Buffer.alloc(0), end: null },
      kind: groupId === 2 ? ('meta' as const) : ('data' as const),
    };
  }
  leaderOf(groupId: number) {
    if (groupId === 2 && !this.hostsMeta) throw new TesseraError('WRONG_SHARD', 'group 2 is not hosted', { epoch: 0 });
    const leaderId = this.leaderOfGroup.get(groupId) ?? 0;
    return { leaderId, leaderAddress: leaderId === 0 ? null : `127.0.0.1:700${leaderId}` };
  }
  async onForwardMeta(_from: number, command: Buffer) {
    this.forwarded.push(decodeMetaCommand(command));
    return encodeRecord([1]);
  }
  async moveReplica(groupId: number, from: number, to: number, timeoutMs?: number) {
    this.moves.push({ groupId, from, to, timeoutMs });
    await this.moveGate;
    if (this.moveError !== null) throw this.moveError;
    return [member(1), member(2), member(to)];
  }
}

type Outcome =
  { ok: true; value: any } | { ok: false; code: number; details: string; trailers: Record<string, string> };

function call(host: FakeHost, method: string, request: unknown, view: PlacementView | null = null) {
  const handlers = adminServiceHandlers(
    () => host as never,
    config,
    createNodeMetrics(),
    () => view,
    silentLogger(),
  );
  return new Promise<Outcome>((resolve) =>
    (handlers[method] as grpc.handleUnaryCall<unknown, unknown>)(
      { request, getDeadline: () => Date.now() + 5000 } as never,
      (err: any, value?: unknown) => {
        if (!err) return resolve({ ok: true, value });
        const trailers: Record<string, string> = {};
        for (const [k, v] of Object.entries((err.metadata as grpc.Metadata).getMap())) trailers[k] = String(v);
        resolve({ ok: false, code: err.code, details: err.details, trailers });
      },
    ),
  );
}

const failed = (r: Outcome) => r as Extract<Outcome, { ok: false }>;

describe('Admin.MoveReplica', () => {
  it('checks the ids, then moves on the host within the call deadline and answers the members', async () => {
    const host = new FakeHost();
    for (const bad of [
      { shardId: 0, from: 1, to: 4 },
      { shardId: 1, from: 0, to: 4 },
      { shardId: 1, from: 3, to: 3 },
    ]) {
      const r = failed(await call(host, 'moveReplica', bad));
      expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    expect(host.moves).toEqual([]);
    const r = await call(host, 'moveReplica', { shardId: 4, from: 3, to: 4 });
    expect(r.ok).toBe(true);
    expect((r as { value: any }).value.members.map((m: MemberInfo) => m.id)).toEqual([1, 2, 4]);
    expect(host.moves).toMatchObject([{ groupId: 4, from: 3, to: 4 }]);
    expect(host.moves[0]!.timeoutMs).toBeGreaterThan(4000);
  });

  it("teaches the host a target's address from the registry when unknown; an unregistered or removed target is refused", async () => {
    const host = new FakeHost();
    expect((await call(host, 'moveReplica', { shardId: 4, from: 3, to: 4 })).ok).toBe(true);
    expect(host.learned).toEqual([[4, '127.0.0.1:7004', '127.0.0.1:7004']]);
    expect((await call(host, 'moveReplica', { shardId: 4, from: 3, to: 4 })).ok).toBe(true);
    expect(host.learned).toHaveLength(1); // known now
    for (const to of [5, 9]) {
      const r = failed(await call(host, 'moveReplica', { shardId: 4, from: 3, to }));
      expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(r.details).toMatch(new RegExp(`node ${to} is not a registered node`));
    }
    expect(host.moves).toHaveLength(2);
  });

  it('learns the addresses the request gives (a peer address of its own), checked against the registry', async () => {
    const host = new FakeHost();
    const bad = failed(await call(host, 'moveReplica', { shardId: 4, from: 3, to: 4, toPeerAddress: '10.0.0.4:8004' }));
    expect(bad.details).toMatch(/to_peer_address needs to_address/);
    const wild = failed(await call(host, 'moveReplica', { shardId: 4, from: 3, to: 4, toAddress: '0.0.0.0:7004' }));
    expect(wild.details).toMatch(/to_address .* wildcard/);
    const other = failed(await call(host, 'moveReplica', { shardId: 4, from: 3, to: 4, toAddress: '127.0.0.1:7999' }));
    expect(other.details).toMatch(/node 4 is registered at 127.0.0.1:7004, not at to_address 127.0.0.1:7999/);
    expect(host.learned).toEqual([]);
    const req = { shardId: 4, from: 3, to: 4, toAddress: '127.0.0.1:7004', toPeerAddress: '10.0.0.4:8004' };
    expect((await call(host, 'moveReplica', req)).ok).toBe(true);
    expect(host.learned).toEqual([[4, '127.0.0.1:7004', '10.0.0.4:8004']]);
  });

  it('a leader without a registry (no meta replica) learns the given addresses, and without them asks nothing', async () => {
    const host = new FakeHost();
    host.listNodes = () => {
      throw new TesseraError('UNAVAILABLE', 'the meta shard is not bootstrapped yet (no node registry); retry');
    };
    expect((await call(host, 'moveReplica', { shardId: 4, from: 3, to: 6 })).ok).toBe(true);
    expect(host.learned).toEqual([]); // the host answers for the unknown address itself
    const req = { shardId: 4, from: 3, to: 6, toAddress: '127.0.0.1:7006', toPeerAddress: '127.0.0.1:8006' };
    expect((await call(host, 'moveReplica', req)).ok).toBe(true);
    expect(host.learned).toEqual([[6, '127.0.0.1:7006', '127.0.0.1:8006']]);
  });

  it("the host's NOT_LEADER reaches the client with the group and the leader's address", async () => {
    const host = new FakeHost();
    host.moveError = new TesseraError('NOT_LEADER', 'not the leader', {
      leaderId: 3,
      leaderAddress: '127.0.0.1:7003',
      groupId: 4,
    });
    const r = failed(await call(host, 'moveReplica', { shardId: 4, from: 3, to: 4 }));
    expect(r.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(r.trailers).toMatchObject({ 'tessera-leader-id': '3', 'tessera-group': '4' });
  });

  it('no_wait: answers at once on the leader with the members as they are; elsewhere NOT_LEADER naming the leader', async () => {
    const host = new FakeHost();
    let release = () => {};
    host.moveGate = new Promise((r) => (release = r));
    const r = await call(host, 'moveReplica', { shardId: 4, from: 3, to: 4, noWait: true });
    expect(r.ok).toBe(true);
    expect((r as { value: any }).value.members.map((m: MemberInfo) => m.id)).toEqual([1, 2, 3]);
    expect(host.moves).toHaveLength(1);
    release();
    host.leads.delete(1);
    host.leaderOfGroup.set(1, 3);
    const other = failed(await call(host, 'moveReplica', { shardId: 1, from: 3, to: 4, noWait: true }));
    expect(other.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(other.trailers).toMatchObject({
      'tessera-reason': 'NOT_LEADER',
      'tessera-leader-id': '3',
      'tessera-leader-address': '127.0.0.1:7003',
      'tessera-group': '1',
    });
    expect(host.moves).toHaveLength(1);
  });

  it('background moves are bounded: past the bound RESOURCE_EXHAUSTED, and a finished one frees its slot', async () => {
    const moves = new BackgroundMoves(silentLogger(), 2);
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    moves.start({ shard: 1 }, () => gate);
    moves.start({ shard: 2 }, () => Promise.reject(new Error('failed move is logged, not thrown')));
    await new Promise((r) => setTimeout(r, 0));
    expect(moves.size).toBe(1);
    moves.start({ shard: 3 }, () => gate);
    expect(() => moves.start({ shard: 4 }, () => gate)).toThrow(/2 replica moves are running/);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(moves.size).toBe(0);
  });
});

describe('Admin.SetNodeState', () => {
  it('is answered by the meta leader only: elsewhere NOT_LEADER naming it (group 2), or UNAVAILABLE', async () => {
    const host = new FakeHost();
    host.leads.delete(2);
    host.leaderOfGroup.set(2, 1);
    const r = failed(await call(host, 'setNodeState', { id: 3, state: 'draining' }));
    expect(r.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(r.trailers).toMatchObject({ 'tessera-leader-id': '1', 'tessera-group': '2' });
    host.leaderOfGroup.set(2, 0);
    expect(failed(await call(host, 'setNodeState', { id: 3, state: 'draining' })).code).toBe(grpc.status.UNAVAILABLE);
    expect(host.forwarded).toEqual([]);
  });

  it('draining and up are applied as setNodeState commands; other states are refused', async () => {
    const host = new FakeHost();
    const r = await call(host, 'setNodeState', { id: 3, state: 'draining' });
    expect(r).toEqual({ ok: true, value: { id: 3, state: 'draining' } });
    expect(await call(host, 'setNodeState', { id: 3, state: 'up' })).toMatchObject({ ok: true });
    expect(host.forwarded).toMatchObject([
      { type: 'setNodeState', nodeId: 3, state: 'draining' },
      { type: 'setNodeState', nodeId: 3, state: 'up' },
    ]);
    for (const bad of [
      { id: 3, state: 'down' },
      { id: 3, state: '' },
      { id: 0, state: 'up' },
    ])
      expect(failed(await call(host, 'setNodeState', bad)).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(host.forwarded).toHaveLength(2);
  });

  it('removed: FAILED_PRECONDITION while a hosted shard, the meta group or a shard of the view has a replica on the node', async () => {
    const host = new FakeHost();
    const r = failed(await call(host, 'setNodeState', { id: 3, state: 'removed' }));
    expect(r.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(r.details).toMatch(/node 3 still holds replicas of 3 shard\(s\) \(1, 2, 4\); drain it first/);
    // Only the meta group left on node 3.
    host.shards = [shard(1, '', 'g', [1, 2, 4]), shard(4, 'g', null, [1, 2, 4])];
    expect(failed(await call(host, 'setNodeState', { id: 3, state: 'removed' })).details).toMatch(/\(2\)/);
    // A shard this node does not host, known from the driver's view.
    host.metaMembers = [1, 2, 4];
    const view: PlacementView = {
      nodes: [],
      shards: [
        { id: 9, epoch: 2, start: Buffer.from('x'), end: null, leader: 4, replicas: [{ node: 3, voter: true }] },
      ],
    };
    expect(failed(await call(host, 'setNodeState', { id: 3, state: 'removed' }, view)).details).toMatch(/\(9\)/);
    expect(host.forwarded).toEqual([]);
    // A view a round old still lists node 3 in groups this node leads (1, 4 and the meta group): their
    // current status wins, so a removal that just applied here does not block.
    const staleView: PlacementView = {
      nodes: [],
      shards: [1, 2, 4].map((id) => ({
        id,
        epoch: 1,
        start: Buffer.alloc(0),
        end: null,
        leader: 2,
        replicas: [{ node: 3, voter: true }],
      })),
    };
    expect(await call(host, 'setNodeState', { id: 3, state: 'removed' }, staleView)).toMatchObject({ ok: true });
    expect(host.forwarded).toMatchObject([{ type: 'setNodeState', nodeId: 3, state: 'removed' }]);
  });
});

describe('Admin.ListNodes and Admin.ListShards with a placement view', () => {
  const view: PlacementView = {
    nodes: [{ id: 4, state: 'up', replicas: 7, leaders: 3 }],
    shards: [
      { id: 9, epoch: 2, start: Buffer.from('x'), end: null, leader: 4, replicas: [{ node: 4, voter: true }] },
      { id: 4, epoch: 3, start: Buffer.from('g'), end: Buffer.from('x'), leader: 2, replicas: [] },
      { id: 2, epoch: 1, start: Buffer.alloc(0), end: null, leader: 2, replicas: [] },
    ],
  };

  it("on the meta leader: the registry's states with the view's counts, and every data shard of the view", async () => {
    const host = new FakeHost();
    const nodes = (await call(host, 'listNodes', {}, view)) as { value: any };
    expect(nodes.value.nodes.find((n: any) => n.id === 4)).toMatchObject({ state: 'up', replicas: 7, leaders: 3 });
    expect(nodes.value.nodes.find((n: any) => n.id === 1)).toMatchObject({ replicas: 1, leaders: 0 });
    const shards = (await call(host, 'listShards', { withStats: false }, view)) as { value: any };
    // Hosted 1 and 4 as this replica sees them, 9 from the view; the meta group is not a data shard.
    expect(shards.value.shards.map((s: any) => [s.id, s.applied])).toEqual([
      [1, 40],
      [4, 40],
      [9, 0],
    ]);
  });

  it('ListNodes reads the registry after a read barrier on the meta group (a change acknowledged before shows)', async () => {
    const host = new FakeHost();
    host.pendingStates.set(3, 'removed'); // committed on the meta leader, not yet applied on this replica
    const nodes = (await call(host, 'listNodes', {}, view)) as { value: any };
    expect(host.barriers).toBe(1);
    expect(nodes.value.nodes.find((n: any) => n.id === 3)).toMatchObject({ state: 'removed' });
  });

  it('elsewhere ListNodes redirects to the meta leader and ListShards does not use the view', async () => {
    const host = new FakeHost();
    host.leads.delete(2);
    host.leaderOfGroup.set(2, 3);
    const r = failed(await call(host, 'listNodes', {}, view));
    expect(r.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(r.trailers).toMatchObject({ 'tessera-leader-id': '3', 'tessera-group': '2' });
    expect(host.barriers).toBe(0);
    const shards = (await call(host, 'listShards', { withStats: false }, view)) as { value: any };
    expect(shards.value.shards.map((s: any) => s.id)).toEqual([1, 4]);
    // Asked for the whole cluster's shards: sent to the meta leader.
    const cluster = failed(await call(host, 'listShards', { withStats: false, cluster: true }, view));
    expect(cluster.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(cluster.trailers).toMatchObject({ 'tessera-leader-id': '3', 'tessera-group': '2' });
    // A node without a meta replica: the node whose driver polled it last (none: UNAVAILABLE, retry).
    host.hostsMeta = false;
    expect(failed(await call(host, 'listNodes', {}, view)).code).toBe(grpc.status.UNAVAILABLE);
    host.metaHint = 1;
    const viaHint = failed(await call(host, 'listShards', { withStats: false, cluster: true }, view));
    expect(viaHint.trailers).toMatchObject({ 'tessera-leader-id': '1', 'tessera-group': '2' });
    expect(viaHint.trailers['tessera-leader-address']).toBe('127.0.0.1:7001');
    host.hostsMeta = true;
    host.leads.add(2);
    const all = (await call(host, 'listShards', { withStats: false, cluster: true }, view)) as { value: any };
    expect(all.value.shards.map((s: any) => s.id)).toEqual([1, 4, 9]);
  });
});
