// The split nemesis: seeded split keys of the workload (pure), and Admin.SplitShard against fake nodes
// (test/fixtures/fake-node.cjs: node 1 leads every shard and records each split, the others answer
// NOT_LEADER naming it; a key under loop/ gets NOT_LEADER from every node): the hint is followed, and a
// refusal (an existing boundary, a NOT_LEADER chain that does not end, the leader down) is an error that
// says why; in the runner it is logged, never fatal.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/base';
import { Cluster } from '../cluster/cluster';
import { freePortBlock } from '../net/free-ports';
import { NemesisLog } from '../nemesis/nemesis-log';
import { describeFault, parseNemesisList, planFaults } from '../nemesis/plan';
import { NemesisRunner } from '../nemesis/runner';
import { splitAt } from '../nemesis/split';
import { splitKeyPicker } from '../nemesis/split-keys';
import { ScriptedAdmin } from './scripted-admin';
import * as grpc from '@grpc/grpc-js';

const fakeNode = [process.execPath, join(__dirname, 'fixtures', 'fake-node.cjs')];

describe('split plan and keys', () => {
  it('is part of all and nameable; its faults are instant, at keys drawn from the seed', () => {
    expect(parseNemesisList('all')).toContain('split');
    expect(parseNemesisList('split')).toEqual(['split']);
    const opts = {
      kinds: ['split'] as const,
      activeMs: 30_000,
      quietMs: [1000, 2000] as const,
      faultMs: [2000, 3000] as const,
    };
    const a = planFaults(new Random(5), opts);
    expect(a.length).toBeGreaterThan(5);
    expect(planFaults(new Random(5), opts)).toEqual(a);
    expect(planFaults(new Random(6), opts)).not.toEqual(a);
    for (const e of a) {
      expect(e.endMs).toBe(e.startMs);
      expect(e.fault).toMatchObject({ kind: 'split', key: expect.stringMatching(/^jl\/r\/k\d+$/) });
      expect(describeFault(e.fault)).toMatch(/^split at jl\/r\/k\d+$/);
    }
  });

  it('cuts at keys of the workload, and never inside the bank accounts (a transfer is one batch)', () => {
    const rng = new Random(7);
    const register = splitKeyPicker({ workload: 'register', keys: 8, writesExpected: 0 });
    const set = splitKeyPicker({ workload: 'set', keys: 8, writesExpected: 3000 });
    const bank = splitKeyPicker({ workload: 'bank', keys: 8, writesExpected: 3000 });
    const keys = (p: (r: Random) => string): string[] => Array.from({ length: 200 }, () => p(rng));
    const numbers = keys(register).map((k) => Number(/^jl\/r\/k(\d+)$/.exec(k)?.[1] ?? NaN));
    expect(numbers.every((n) => n >= 0 && n < 32)).toBe(true);
    expect(new Set(numbers).size).toBeGreaterThan(20);
    expect(keys(set).every((k) => /^jl\/s\/\d{9}$/.test(k) && Number(k.slice(5)) <= 3000)).toBe(true);
    const b = keys(bank);
    expect(b.filter((k) => k.startsWith('jl/b/') && k !== 'jl/b/')).toEqual([]);
    expect(b).toContain('jl/b/');
    expect(b.some((k) => k > 'jl/b0')).toBe(true);
  });
});

describe('split against fake nodes', () => {
  let fake: { cluster: Cluster; dir: string };
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jl-split-'));
    const cluster = new Cluster({
      plan: { nodes: 3, basePort: await freePortBlock(100) },
      outDir: dir,
      command: fakeNode,
      nodeArgs: [],
      cwd: dir,
      now: () => performance.now(),
    });
    fake = { cluster, dir };
    await cluster.start();
    expect(await cluster.waitForLeader(10_000)).not.toBeNull();
    // Every node listening, not only the leader: the tests call each of them (a slow start under CI load
    // left node 3 refusing the connection).
    const end = performance.now() + 10_000;
    while ((await cluster.statuses()).size < 3 && performance.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect((await cluster.statuses()).size).toBe(3);
  }, 30_000);
  afterAll(async () => {
    await fake.cluster.stop();
    rmSync(fake.dir, { recursive: true, force: true });
  });

  const splitsLogged = (dir: string): string[] =>
    readFileSync(join(dir, 'nodes', 'n1', 'node.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"fake split"'))
      .map((l) => (JSON.parse(l) as { key: string }).key);

  it('follows NOT_LEADER from a follower to the leader, which splits; the same key again is refused', async () => {
    const { cluster, dir } = fake;
    const done = await splitAt(cluster, Buffer.from('jl/r/k3'), new Random(1), {
      hopsMax: 3,
      callTimeoutMs: 3000,
      from: 2,
    });
    expect(done.via).toEqual([2, 1]);
    expect(done.left).toMatchObject({ id: 1, start: Buffer.alloc(0), end: Buffer.from('jl/r/k3') });
    expect(done.right).toMatchObject({ id: 2, start: Buffer.from('jl/r/k3'), end: Buffer.alloc(0) });
    await expect(
      splitAt(cluster, Buffer.from('jl/r/k3'), new Random(1), { hopsMax: 3, callTimeoutMs: 3000, from: 3 }),
    ).rejects.toThrow(/^split at jl\/r\/k3 via 3 -> 1: INVALID_ARGUMENT \(INVALID_ARGUMENT\)/);
    expect(splitsLogged(dir)).toEqual(['jl/r/k3']);
  });

  it('in the runner: a split is an instant event naming both shards, a refused one an error, and the run goes on', async () => {
    const { cluster, dir } = fake;
    const log = new NemesisLog(null, () => 0);
    const plan = ['jl/r/k5', 'jl/r/k5', 'jl/r/k1'].map((key, i) => ({
      startMs: i * 10,
      endMs: i * 10,
      fault: { kind: 'split' as const, key },
    }));
    const t0 = performance.now();
    await new NemesisRunner(cluster, plan, new Random(2), log, () => performance.now() - t0).run();
    expect(log.events.map((e) => [e.type, e.kind])).toEqual([
      ['instant', 'split'],
      ['error', 'split'],
      ['instant', 'split'],
    ]);
    expect(log.events[0]!.description).toMatch(
      /^split at jl\/r\/k5 via 1: 2 \[jl\/r\/k3, jl\/r\/k5\) \+ 3 \[jl\/r\/k5, ∞\)$/,
    );
    expect(log.events[1]!.description).toBe('split at jl/r/k5');
    expect(log.events[1]!.error).toMatch(/INVALID_ARGUMENT/);
    expect(log.events[2]!.description).toBe("split at jl/r/k1 via 1: 1 ['', jl/r/k1) + 4 [jl/r/k1, jl/r/k3)");
    expect(splitsLogged(dir)).toEqual(['jl/r/k3', 'jl/r/k5', 'jl/r/k1']);
  });

  it('gives up a NOT_LEADER chain longer than hopsMax, and a leader that is down, with an error saying so', async () => {
    const t0 = Date.now();
    await expect(
      splitAt(fake.cluster, Buffer.from('loop/k9'), new Random(3), { hopsMax: 3, callTimeoutMs: 2000, from: 1 }),
    ).rejects.toThrow('split at loop/k9 via 1 -> 2 -> 3 -> 1: NOT_LEADER chain longer than 3 hops');
    await fake.cluster.kill([1]);
    await expect(
      splitAt(fake.cluster, Buffer.from('jl/r/k9'), new Random(3), { hopsMax: 3, callTimeoutMs: 2000, from: 2 }),
    ).rejects.toThrow(/^split at jl\/r\/k9 via 2 -> 1: (UNAVAILABLE|NO_ANSWER)/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('split where the first node hosts no replica of the owning shard (scripted Admin nodes)', () => {
  const admin = new ScriptedAdmin(() => 'hang');
  const c = {
    ids: [1, 2, 3],
    removed: new Set<number>(),
    leader: async () => ({ leader: 1, term: 1, groupId: 1 }),
    network: { nodeAddress: (id: number) => admin.address(id) },
  };
  const wrongShard = {
    refuse: { code: grpc.status.FAILED_PRECONDITION, reason: 'WRONG_SHARD', details: 'hosts no replica' },
  };
  beforeAll(() => admin.start(c.ids), 10_000);
  afterAll(() => admin.stop());

  it('asks another member after WRONG_SHARD, then follows its NOT_LEADER hint to the leader', async () => {
    admin.setScript((node) =>
      node === 1
        ? wrongShard
        : node === 2
          ? { refuse: { code: grpc.status.FAILED_PRECONDITION, reason: 'NOT_LEADER', details: '-', leaderId: 3 } }
          : { reply: { left: { id: 4 }, right: { id: 9, start: Buffer.from('jl/r/k4') } } },
    );
    for (const seed of [1, 2, 3, 4]) {
      const done = await splitAt(c, Buffer.from('jl/r/k4'), new Random(seed));
      expect(done.via[0]).toBe(1);
      expect(done.via.at(-1)).toBe(3);
      expect(done.right.id).toBe(9);
    }
  });

  it('gives up after hopsMax + 1 calls when no node hosts the shard', async () => {
    admin.calls.length = 0;
    admin.setScript(() => wrongShard);
    await expect(
      splitAt(c, Buffer.from('jl/r/k4'), new Random(1), { hopsMax: 3, callTimeoutMs: 2000 }),
    ).rejects.toThrow(/^split at jl\/r\/k4 via 1 -> \d -> \d: FAILED_PRECONDITION \(WRONG_SHARD\)/);
    expect(admin.calls).toHaveLength(3);
  });
});
