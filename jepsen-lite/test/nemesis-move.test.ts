// The move nemesis and the --shards hint: move steps in the seeded plan and in `all` (pure); chooseMove's
// rule (a replica move to a live node holding none, else a leader move); the step against scripted Admin
// nodes (scripted-admin.ts): ListShards, then MoveReplica or TransferLeader of the listed shard at its
// leader, NOT_LEADER hints followed, no answer in time logged as indeterminate, a refusal as an error; the
// --shards option (parsed, bounded, in the replay command) and the pre-split at seeded workload keys.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/base';
import { NemesisLog } from '../nemesis/nemesis-log';
import { chooseMove, describeMove, moveStep, type MoveCluster, type ShardView } from '../nemesis/move';
import { describeFault, parseNemesisList, planFaults } from '../nemesis/plan';
import { preSplit, preSplitKeys } from '../nemesis/presplit';
import { NemesisRunner, type NemesisCluster } from '../nemesis/runner';
import { splitKeyPicker } from '../nemesis/split-keys';
import { parseRunArgs, RUN_USAGE, UsageError } from '../run/options';
import { replayCommand } from '../run/run';
import { ScriptedAdmin, type Script } from './scripted-admin';

const shard = (replicas: number[], leader: number, learners: number[] = []): ShardView => ({
  id: 7,
  start: Buffer.from('jl/r/k3'),
  end: Buffer.from('jl/r/k5'),
  epoch: 4,
  replicas: [...replicas.map((id) => ({ id, voter: true })), ...learners.map((id) => ({ id, voter: false }))],
  leader,
});

describe('move plan', () => {
  it('is part of all and nameable; its steps are instant, drawn from the seed, replica and leader moves', () => {
    expect(parseNemesisList('all')).toContain('move');
    expect(parseNemesisList('move,split')).toEqual(['move', 'split']);
    const opts = {
      kinds: ['move'] as const,
      activeMs: 60_000,
      quietMs: [500, 1000] as const,
      faultMs: [2000, 3000] as const,
    };
    const a = planFaults(new Random(11), opts);
    expect(a.length).toBeGreaterThan(40);
    expect(planFaults(new Random(11), opts)).toEqual(a);
    expect(planFaults(new Random(12), opts)).not.toEqual(a);
    for (const e of a) {
      expect(e.endMs).toBe(e.startMs);
      expect(e.fault.kind).toBe('move');
    }
    const prefs = a.map((e) => (e.fault.kind === 'move' ? e.fault.prefer : null));
    expect(new Set(prefs)).toEqual(new Set(['replica', 'leader']));
    expect(prefs.filter((p) => p === 'replica').length).toBeGreaterThan(prefs.length / 2);
    expect(describeFault({ kind: 'move', prefer: 'leader' })).toBe("move a shard's leader");
  });
});

describe('chooseMove', () => {
  it('moves a replica from a voter to a live node holding none', () => {
    const rng = new Random(3);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const c = chooseMove(shard([1, 2, 3], 1), [1, 2, 3, 4, 5], rng, 'replica');
      expect(c?.action).toBe('move-replica');
      expect([1, 2, 3]).toContain(c!.from);
      expect([4, 5]).toContain(c!.to);
      seen.add(`${c!.from}>${c!.to}`);
    }
    expect(seen.size).toBe(6);
    // a dead node (not live) and a learner's node are no targets
    expect(chooseMove(shard([1, 2, 3], 1, [4]), [1, 2, 3, 4, 5], rng, 'replica')).toMatchObject({ to: 5 });
  });

  it('moves the leadership to another live voter when every live node holds a replica, or when asked to', () => {
    const rng = new Random(4);
    for (let i = 0; i < 20; i++) {
      const c = chooseMove(shard([1, 2, 3], 2), [1, 2, 3], rng, 'replica');
      expect(c).toMatchObject({ action: 'transfer-leader', from: 2 });
      expect([1, 3]).toContain(c!.to);
      expect(chooseMove(shard([1, 2, 3], 2), [1, 2, 3, 4, 5], rng, 'leader')).toMatchObject({
        action: 'transfer-leader',
        from: 2,
      });
    }
    expect(chooseMove(shard([1, 2, 3], 2), [2, 3], rng, 'replica')).toEqual({
      action: 'transfer-leader',
      from: 2,
      to: 3,
    });
    expect(chooseMove(shard([1, 2, 3], 2), [2], rng, 'replica')).toBeNull();
    expect(chooseMove(shard([1, 2, 3], 2), [2, 4], rng, 'leader')).toMatchObject({ action: 'move-replica', to: 4 });
  });
});

describe('move step against scripted Admin nodes', () => {
  const admin = new ScriptedAdmin(() => 'hang');
  const live = new Set([1, 2, 3, 4, 5]);
  const cluster: MoveCluster = {
    ids: [1, 2, 3, 4, 5],
    removed: new Set<number>(),
    node: (id) => ({ state: live.has(id) ? 'running' : 'stopped' }),
    network: { nodeAddress: (id) => admin.address(id) },
  };
  const listed = { shards: [{ ...shard([1, 2, 3], 3), applied: 10 }] };
  /** Node 2 leads shard 7 (the list names 3, which answers NOT_LEADER naming 2). */
  const script =
    (onLeader: Script): Script =>
    (node, method, req) => {
      if (method === 'ListShards') return { reply: listed };
      if (node === 2) return onLeader(node, method, req);
      return {
        refuse: {
          code: grpc.status.FAILED_PRECONDITION,
          reason: 'NOT_LEADER',
          details: 'not leader',
          leaderId: 2,
          groupId: 7,
        },
      };
    };
  const fast = { hopsMax: 3, listTimeoutMs: 1000, moveTimeoutMs: 600, transferTimeoutMs: 600 };
  beforeAll(() => admin.start(cluster.ids), 10_000);
  afterAll(() => admin.stop());

  it('with a free live node: one MoveReplica of the listed shard, at its leader through the hint', async () => {
    admin.calls.length = 0;
    admin.setScript(
      script(() => ({
        reply: {
          members: [
            { id: 1, voter: true },
            { id: 4, voter: true },
          ],
        },
      })),
    );
    const d = await moveStep(cluster, new Random(5), 'replica', fast);
    expect(d).toMatchObject({ action: 'move-replica', via: [3, 2], indeterminate: null });
    const moves = admin.calls.filter((c) => c.method === 'MoveReplica');
    expect(moves.map((c) => c.node)).toEqual([3, 2]);
    expect(moves[1]!.request).toMatchObject({ shardId: 7, from: d.from, to: d.to, noWait: false });
    expect([4, 5]).toContain(d.to);
    expect(admin.calls.filter((c) => c.method === 'TransferLeader')).toEqual([]);
    expect(describeMove(d)).toMatch(
      /^move replica of shard 7 \[jl\/r\/k3, jl\/r\/k5\) from node \d to node [45] via 3 -> 2: done/,
    );
  });

  it('when every live node holds a replica: TransferLeader of the shard group to another voter', async () => {
    admin.calls.length = 0;
    live.delete(4);
    live.delete(5);
    try {
      admin.setScript(script((_n, _m, req) => ({ reply: { leader: Number(req.to) } })));
      const d = await moveStep(cluster, new Random(6), 'replica', fast);
      expect(d).toMatchObject({ action: 'transfer-leader', from: 3, via: [3, 2], indeterminate: null });
      const t = admin.calls.filter((c) => c.method === 'TransferLeader');
      expect(t.map((c) => c.node)).toEqual([3, 2]);
      expect(t[1]!.request).toMatchObject({ groupId: 7, to: d.to });
      expect([1, 2]).toContain(d.to);
      expect(admin.calls.filter((c) => c.method === 'MoveReplica')).toEqual([]);
      expect(admin.calls.filter((c) => c.method === 'ListShards').every((c) => c.node <= 3)).toBe(true);
    } finally {
      live.add(4);
      live.add(5);
    }
  });

  it('in the runner: no answer in time is an indeterminate instant, a refusal an error, and the run goes on', async () => {
    const log = new NemesisLog(null, () => 0);
    const plan = [0, 1].map((i) => ({
      startMs: i,
      endMs: i,
      fault: { kind: 'move' as const, prefer: 'replica' as const },
    }));
    let n = 0;
    admin.setScript(
      script(() =>
        n++ === 0
          ? 'hang'
          : { refuse: { code: grpc.status.FAILED_PRECONDITION, reason: 'FAILED_PRECONDITION', details: 'busy' } },
      ),
    );
    const t0 = performance.now();
    const runner = new NemesisRunner(cluster as unknown as NemesisCluster, plan, new Random(7), log, () => 1e9);
    await runner.run();
    expect(performance.now() - t0).toBeLessThan(12_000); // the 8 s move deadline, once
    expect(log.events.map((e) => [e.type, e.kind, e.indeterminate ?? false])).toEqual([
      ['instant', 'move', true],
      ['error', 'move', false],
    ]);
    expect(log.events[0]!.description).toMatch(/via 3 -> 2: indeterminate: (NO_ANSWER|DEADLINE_EXCEEDED)/);
    expect(log.events[1]!.error).toMatch(
      /^move-replica of shard 7 .* via 3 -> 2: FAILED_PRECONDITION \(FAILED_PRECONDITION\): busy$/,
    );
  }, 20_000);

  it('--shards: the pre-split cuts at N - 1 sorted seeded workload keys, refusals reported, not fatal', async () => {
    const picker = splitKeyPicker({ workload: 'register', keys: 8, writesExpected: 0 });
    const keys = preSplitKeys(picker, 8, new Random(9));
    expect(keys).toHaveLength(7);
    expect(new Set(keys).size).toBe(7);
    expect([...keys].sort()).toEqual(keys);
    expect(keys.every((k) => /^jl\/r\/k\d+$/.test(k))).toBe(true);
    expect(preSplitKeys(picker, 8, new Random(9))).toEqual(keys);
    expect(preSplitKeys(picker, 1, new Random(9))).toEqual([]);
    expect(preSplitKeys(picker, 1000, new Random(9)).length).toBeLessThanOrEqual(32); // 32 register keys to cut at
    admin.calls.length = 0;
    const span = (id: number, start: string) => ({ id, start: Buffer.from(start), end: Buffer.alloc(0), epoch: 1 });
    admin.setScript((node, method, req) => {
      if (node !== 1)
        return { refuse: { code: grpc.status.FAILED_PRECONDITION, reason: 'NOT_LEADER', details: '-', leaderId: 1 } };
      const key = Buffer.from(req.key as Uint8Array).toString();
      if (key === keys[2])
        return {
          refuse: { code: grpc.status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT', details: 'a start already' },
        };
      return { reply: { left: span(1, ''), right: span(10, key) } };
    });
    const splitCluster = { ...cluster, leader: async () => ({ leader: 2, term: 1, groupId: 1 }) };
    const r = await preSplit(splitCluster, keys, new Random(1));
    expect(r.done).toHaveLength(6);
    expect(r.failed).toEqual([expect.stringMatching(/INVALID_ARGUMENT/)]);
    const split = admin.calls
      .filter((c) => c.node === 1)
      .map((c) => Buffer.from(c.request.key as Uint8Array).toString());
    expect(split).toEqual(keys);
  });
});

describe('pre-split retries', () => {
  const admin = new ScriptedAdmin(() => 'hang');
  beforeAll(() => admin.start([1, 2, 3]), 10_000);
  afterAll(() => admin.stop());

  it('tries a key again while its shard has no leader yet, a bounded number of times', async () => {
    const tries = new Map<string, number>();
    admin.setScript((_node, _method, req) => {
      const key = Buffer.from(req.key as Uint8Array).toString();
      const n = (tries.get(key) ?? 0) + 1;
      tries.set(key, n);
      if (key === 'jl/r/k1' && n < 3)
        return {
          refuse: { code: grpc.status.UNAVAILABLE, reason: 'UNAVAILABLE', details: 'group 3 has no leader right now' },
        };
      if (key === 'jl/r/k2')
        return { refuse: { code: grpc.status.UNAVAILABLE, reason: 'UNAVAILABLE', details: 'no leader' } };
      return { reply: { left: { id: 1 }, right: { id: 2, start: Buffer.from(key) } } };
    });
    const c = {
      ids: [1, 2, 3],
      removed: new Set<number>(),
      leader: async () => ({ leader: 1, term: 1, groupId: 1 }),
      network: { nodeAddress: (id: number) => admin.address(id) },
    };
    const r = await preSplit(c, ['jl/r/k1', 'jl/r/k2'], new Random(1), { attempts: 4, backoffMs: 10 });
    expect(tries.get('jl/r/k1')).toBe(3);
    expect(tries.get('jl/r/k2')).toBe(4);
    expect(r.done).toEqual([expect.stringMatching(/^split at jl\/r\/k1 via 1/)]);
    expect(r.failed).toEqual([expect.stringMatching(/UNAVAILABLE.*\(try 4\)$/)]);
  });
});

describe('--shards option', () => {
  it('parses, is bounded, defaults to 1, is in the usage text and the replay command', () => {
    expect(parseRunArgs([]).shards).toBe(1);
    const o = parseRunArgs(['--shards', '8', '--nemesis', 'move,split']);
    expect(o.shards).toBe(8);
    expect(o.nemesis).toEqual(['move', 'split']);
    expect(replayCommand(o)).toContain('--shards 8');
    expect(replayCommand(parseRunArgs([]))).not.toContain('--shards');
    expect(parseRunArgs(['--shards', '64']).shards).toBe(64);
    for (const bad of ['0', '65', 'x', '2.5']) expect(() => parseRunArgs(['--shards', bad])).toThrow(UsageError);
    expect(() => parseRunArgs(['--shards'])).toThrow(/--shards needs a value/);
    expect(RUN_USAGE).toMatch(/--shards N/);
    expect(RUN_USAGE).toMatch(/split,move,restart \| all/);
  });
});
