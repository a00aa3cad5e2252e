// The restart nemesis (nemesis/restart.ts): its place in the seeded plan and in `all` (pure); the restart
// order (every member or one, removed members skipped); and the choreography against a fake cluster: one
// node down at a time, each SIGTERMed, started again and caught up before the next, a clean exit and the
// catch-up logged as ok checks, a non-zero exit, a needed SIGKILL or no catch-up as failed checks, an abort
// ending the rolling once the node in hand is back, and a failing stop undone by the returned undo.
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/base';
import type { GroupInfo } from '../cluster/admin-client';
import type { LeaderInfo } from '../cluster/cluster';
import type { StopOutcome } from '../cluster/node-process';
import { NemesisLog } from '../nemesis/nemesis-log';
import { describeFault, parseNemesisList, planFaults } from '../nemesis/plan';
import { exitedCleanly, restartOrder, runRestart, type RestartCluster } from '../nemesis/restart';

describe('restart plan', () => {
  it('is part of all and nameable; its faults are seeded, non-overlapping, rolling or single', () => {
    expect(parseNemesisList('all')).toContain('restart');
    expect(parseNemesisList('restart')).toEqual(['restart']);
    const opts = {
      kinds: ['restart'] as const,
      activeMs: 120_000,
      quietMs: [3000, 6000] as const,
      faultMs: [4000, 8000] as const,
    };
    const a = planFaults(new Random(5), opts);
    expect(a.length).toBeGreaterThan(5);
    expect(planFaults(new Random(5), opts)).toEqual(a);
    expect(planFaults(new Random(6), opts)).not.toEqual(a);
    let prevEnd = 0;
    for (const e of a) {
      expect(e.fault.kind).toBe('restart');
      expect(e.startMs).toBeGreaterThanOrEqual(prevEnd);
      expect(e.endMs).toBeGreaterThan(e.startMs);
      expect(e.endMs).toBeLessThanOrEqual(opts.activeMs);
      prevEnd = e.endMs;
    }
    expect(new Set(a.map((e) => (e.fault.kind === 'restart' ? e.fault.rolling : null)))).toEqual(
      new Set([true, false]),
    );
    expect(describeFault({ kind: 'restart', rolling: true })).toBe('rolling restart of every node (SIGTERM)');
    expect(describeFault({ kind: 'restart', rolling: false })).toBe('graceful restart of one node (SIGTERM)');
  });

  it('restarts every member in a seeded order, or one; removed members never', () => {
    const all = restartOrder([1, 2, 3, 4, 5], new Set([4]), true, new Random(1));
    expect([...all].sort()).toEqual([1, 2, 3, 5]);
    expect(restartOrder([1, 2, 3, 4, 5], new Set([4]), true, new Random(1))).toEqual(all);
    const one = restartOrder([1, 2, 3], new Set([2]), false, new Random(2));
    expect(one).toHaveLength(1);
    expect([1, 3]).toContain(one[0]);
    expect(exitedCleanly({ wasRunning: true, code: 0, signal: null, forced: false })).toBe(true);
    expect(exitedCleanly({ wasRunning: true, code: 1, signal: null, forced: false })).toBe(false);
    expect(exitedCleanly({ wasRunning: true, code: null, signal: 'SIGKILL', forced: true })).toBe(false);
  });
});

/** Three nodes; records every stop and start; a stopped node reports nothing; the leader's commit is 10. */
class FakeCluster implements RestartCluster {
  readonly ids = [1, 2, 3];
  readonly removed = new Set<number>();
  readonly steps: string[] = [];
  readonly down = new Set<number>();
  maxDown = 0;
  exits = new Map<number, Partial<StopOutcome>>();
  /** Nodes that never catch up (they report applied 0). */
  lagging = new Set<number>();
  onTerminate: (id: number) => void = () => undefined;

  async terminate(id: number): Promise<StopOutcome> {
    this.steps.push(`term ${id}`);
    this.onTerminate(id);
    this.down.add(id);
    this.maxDown = Math.max(this.maxDown, this.down.size);
    return { wasRunning: true, code: 0, signal: null, forced: false, ...this.exits.get(id) };
  }
  restart(ids: readonly number[]): void {
    for (const id of ids) {
      this.steps.push(`start ${id}`);
      this.down.delete(id);
    }
  }
  async leader(): Promise<LeaderInfo | null> {
    return { leader: [1, 2, 3].find((i) => !this.down.has(i)) ?? 1, term: 2, groupId: 1 };
  }
  async groupStatus(id: number): Promise<GroupInfo | null> {
    if (this.down.has(id)) return null;
    const applied = this.lagging.has(id) ? 0 : 10;
    return { groupId: 1, leader: 1, term: 2, role: 'follower', commit: 10, applied } as GroupInfo;
  }
  kill = async (): Promise<void> => undefined;
  removeMember = async (): Promise<void> => undefined;
  addMember = async (): Promise<void> => undefined;
  writeBallast = async (): Promise<number> => 0;
}

/**
 * Sharded: group 1 (the workload's, led by node 1, commit 10) on nodes 1 and 2, group 7 (led by node 2,
 * commit 5) on all three. Node 3 hosts no replica of group 1, so its status' first group is group 7, the way
 * the real cluster's groupStatus answers for such a node.
 */
class ShardedFakeCluster extends FakeCluster {
  /** Group 7's applied index on node 3. */
  node3Applied7 = 5;
  private groups(id: number): GroupInfo[] {
    const g = (groupId: number, leader: number, commit: number, applied: number) =>
      ({ groupId, leader, term: 2, role: leader === id ? 'leader' : 'follower', commit, applied }) as GroupInfo;
    if (id === 3) return [g(7, 2, 5, this.node3Applied7)];
    return [g(1, 1, 10, 10), g(7, 2, 5, 5)];
  }
  override async groupStatus(id: number): Promise<GroupInfo | null> {
    return this.down.has(id) ? null : this.groups(id)[0]!;
  }
  async groupsStatus(id: number): Promise<GroupInfo[] | null> {
    return this.down.has(id) ? null : this.groups(id);
  }
}

function context(cluster: FakeCluster, signal = new AbortController().signal) {
  const log = new NemesisLog(null, () => 0);
  return { ctx: { cluster, rng: new Random(9), log, signal }, log };
}

describe('rolling restart choreography', () => {
  it('stops, starts and waits for each node in turn, one down at a time, with ok checks', async () => {
    const c = new FakeCluster();
    const { ctx, log } = context(c);
    const undo = await runRestart(ctx, true);
    expect(c.steps).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) expect(c.steps[i + 1]).toBe(c.steps[i]!.replace('term', 'start'));
    expect(new Set(c.steps.filter((s) => s.startsWith('term')))).toEqual(new Set(['term 1', 'term 2', 'term 3']));
    expect(c.maxDown).toBe(1);
    const checks = log.events.filter((e) => e.check !== undefined);
    expect(checks).toHaveLength(6);
    expect(checks.every((e) => e.check === 'ok')).toBe(true);
    expect(log.events.some((e) => /stopped after SIGTERM .*code 0/.test(e.description))).toBe(true);
    await undo();
    expect(c.steps).toHaveLength(6);
  });

  it('fails the check of a node that exits non-zero, needs SIGKILL, or does not catch up', async () => {
    const c = new FakeCluster();
    c.exits.set(1, { code: 1 });
    c.exits.set(2, { code: null, signal: 'SIGKILL', forced: true });
    c.lagging.add(3);
    const { ctx, log } = context(c);
    await runRestart({ ...ctx, rejoinMs: 300 }, true);
    const failed = log.events.filter((e) => e.check === 'failed').map((e) => e.description);
    expect(failed.some((d) => /node 1 stopped after SIGTERM .*code 1/.test(d))).toBe(true);
    expect(failed.some((d) => /node 2 stopped after SIGTERM .*needed SIGKILL/.test(d))).toBe(true);
    expect(failed.some((d) => /node 3 started again but did not catch up within 300 ms/.test(d))).toBe(true);
    expect(failed).toHaveLength(3);
  });

  it('in a sharded cluster, waits for every shard the node hosts, also on a node without the workload shard', async () => {
    const c = new ShardedFakeCluster();
    const { ctx, log } = context(c);
    await runRestart({ ...ctx, rejoinMs: 300 }, true);
    const checks = log.events.filter((e) => e.check !== undefined);
    expect(checks).toHaveLength(6);
    expect(checks.filter((e) => e.check === 'failed').map((e) => e.description)).toEqual([]);
    // Node 3 behind on the one shard it hosts: failed.
    const lagging = new ShardedFakeCluster();
    lagging.node3Applied7 = 4;
    const second = context(lagging);
    await runRestart({ ...second.ctx, rejoinMs: 300 }, true);
    const failed = second.log.events.filter((e) => e.check === 'failed').map((e) => e.description);
    expect(failed).toEqual(['node 3 started again but did not catch up within 300 ms']);
  });

  it('an abort ends the rolling once the node in hand is back', async () => {
    const c = new FakeCluster();
    const ac = new AbortController();
    c.onTerminate = () => ac.abort();
    const { ctx } = context(c, ac.signal);
    await runRestart(ctx, true);
    expect(c.steps).toHaveLength(2);
    expect(c.down.size).toBe(0);
  });

  it('a stop that throws is logged, and the undo starts the node again', async () => {
    const c = new FakeCluster();
    c.onTerminate = (id) => {
      c.down.add(id);
      throw new Error('boom');
    };
    const { ctx, log } = context(c);
    const undo = await runRestart(ctx, false);
    expect(log.events.some((e) => e.type === 'error' && e.error === 'boom')).toBe(true);
    expect(c.down.size).toBe(1);
    await undo();
    expect(c.down.size).toBe(0);
    expect(log.events.at(-1)?.description).toMatch(/start node \d again \(undo\)/);
  });
});
