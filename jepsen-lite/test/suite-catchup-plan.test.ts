// The catchup and membership-away nemeses without processes: their place in the plan and in `all`, the node
// flags they add, the follower choice, and their choreography against a scripted cluster (what is killed,
// restarted, removed and re-added, in which order, and that nothing stays down).
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/base';
import type { GroupInfo } from '../cluster/admin-client';
import type { LeaderInfo } from '../cluster/cluster';
import { pickFollower, type AwayCluster, type AwayContext } from '../nemesis/away';
import { nemesisNodeArgs, runCatchup } from '../nemesis/catchup';
import { runMembershipAway } from '../nemesis/membership-away';
import { NemesisLog } from '../nemesis/nemesis-log';
import { describeFault, parseNemesisList, planFaults } from '../nemesis/plan';
import { NemesisRunner, type NemesisCluster } from '../nemesis/runner';
import { availabilityVerdict } from '../run/verdicts';

describe('catchup and membership in the plan', () => {
  it('are in all, and a long plan draws every variant', () => {
    expect(parseNemesisList('all')).toEqual(expect.arrayContaining(['catchup', 'membership']));
    const plan = planFaults(new Random(3), {
      kinds: ['catchup', 'membership'],
      activeMs: 600_000,
      quietMs: [1000, 2000],
      faultMs: [3000, 4000],
    });
    const seen = new Set(plan.map((p) => describeFault(p.fault)));
    expect(seen).toEqual(
      new Set([
        'catch-up by snapshot, then kill the follower mid-stream',
        'catch-up by snapshot, then kill the leader mid-stream',
        'stop a node, remove it, compact, bring it back and re-add it',
        'remove and re-add a node',
      ]),
    );
  });

  it('add small compaction thresholds to the nodes, unless --node-args sets them', () => {
    expect(nemesisNodeArgs(['kill', 'partition'], [])).toEqual([]);
    const all = nemesisNodeArgs(parseNemesisList('all'), []);
    expect(all).toEqual(['--snapshot-entries', '200', '--log-retain-entries', '20', '--snapshot-chunk-bytes', '8192']);
    expect(nemesisNodeArgs(['membership'], ['--snapshot-entries', '50', '--snapshot-chunk-bytes=4096'])).toEqual([
      '--log-retain-entries',
      '20',
    ]);
  });

  it('pick a follower that is not the leader, not removed and not excluded', () => {
    const c = { ids: [1, 2, 3, 4, 5], removed: new Set([4]) } as unknown as AwayCluster;
    const r = new Random(9);
    for (let i = 0; i < 50; i++) expect([2, 5]).toContain(pickFollower(c, 1, r, [3]));
    expect(pickFollower({ ids: [1, 2], removed: new Set([2]) } as unknown as AwayCluster, 1, r)).toBeNull();
  });
});

/**
 * A scripted cluster: every ballast round moves the log 16 entries on; running members apply it at once and
 * keep the last 20 entries; a node (re)started hears from the leader at its second status and needs two more
 * to catch up. Membership follows removeMember/addMember (a stopped node cannot be promoted: AddNode fails).
 */
class ScriptedCluster implements AwayCluster {
  readonly ids: number[];
  readonly removed = new Set<number>();
  readonly steps: string[] = [];
  /** The group each removeMember / addMember named. */
  readonly memberGroups: (number | undefined)[] = [];
  private last = 100;
  private readonly state = new Map<number, { up: boolean; applied: number; polls: number }>();
  constructor(
    private leaderId = 1,
    nodes = 3,
  ) {
    this.ids = Array.from({ length: nodes }, (_, i) => i + 1);
    for (const id of this.ids) this.state.set(id, { up: true, applied: 100, polls: 99 });
  }
  isUp(id: number): boolean {
    return this.state.get(id)!.up;
  }
  async leader(): Promise<LeaderInfo | null> {
    return this.isUp(this.leaderId) ? { leader: this.leaderId, term: 1, groupId: 1 } : null;
  }
  async groupStatus(id: number): Promise<GroupInfo | null> {
    const s = this.state.get(id)!;
    if (!s.up) return null;
    s.polls++;
    if (s.polls >= 4) s.applied = this.last;
    const members = this.ids
      .filter((i) => !this.removed.has(i))
      .map((i) => ({ id: i, address: '', voter: true, match: this.state.get(i)!.up ? this.last : 0 }));
    return {
      groupId: 1,
      leader: s.polls >= 2 ? this.leaderId : 0,
      term: 1,
      role: id === this.leaderId ? 'leader' : 'follower',
      commit: this.last,
      applied: s.applied,
      firstIndex: s.polls >= 4 ? this.last - 20 : 1,
      lastIndex: this.last,
      members,
      start: Buffer.alloc(0),
      end: Buffer.alloc(0),
    };
  }
  async kill(ids: readonly number[]): Promise<void> {
    for (const id of ids) this.state.get(id)!.up = false;
    this.steps.push(`kill ${ids.join(',')}`);
    if (ids.includes(this.leaderId)) this.leaderId = this.ids.find((i) => this.isUp(i))!;
  }
  restart(ids: readonly number[]): void {
    for (const id of ids) Object.assign(this.state.get(id)!, { up: true, polls: 0 });
    if (ids.length) this.steps.push(`restart ${ids.join(',')}`);
  }
  async removeMember(_leader: number, id: number, groupId?: number): Promise<void> {
    this.memberGroups.push(groupId);
    this.removed.add(id);
    this.steps.push(`remove ${id}`);
  }
  async addMember(_leader: number, id: number, groupId?: number): Promise<void> {
    this.memberGroups.push(groupId);
    if (!this.isUp(id)) throw new Error(`node ${id} is down`);
    this.removed.delete(id);
    this.steps.push(`add ${id}`);
  }
  async writeBallast(): Promise<number> {
    this.last += 8;
    return 8;
  }
}

function context(c: ScriptedCluster, seed: number): AwayContext & { log: NemesisLog } {
  return {
    cluster: c,
    rng: new Random(seed),
    log: new NemesisLog(null, () => 0),
    signal: new AbortController().signal,
  };
}

describe('the choreographies against a scripted cluster', () => {
  it('catchup: kills a follower, compacts past it, restarts it, kills it again mid catch-up, restarts it', async () => {
    const c = new ScriptedCluster(1);
    const ctx = context(c, 4);
    const undo = await runCatchup(ctx, 'follower');
    await undo();
    const [f] = c.steps[0]!.split(' ').slice(1).map(Number);
    expect(f).not.toBe(1);
    expect(c.steps).toEqual([`kill ${f}`, `restart ${f}`, `kill ${f}`, `restart ${f}`]);
    const text = ctx.log.events.map((e) => e.description).join('\n');
    expect(text).toMatch(/compacted past 100/);
    expect(text).toMatch(new RegExp(`kill the catching-up follower ${f}: mid catch-up`));
    expect(text).toMatch(new RegExp(`node ${f} caught up`));
    expect(ctx.log.events.filter((e) => e.type === 'error')).toEqual([]);
    expect(c.ids.every((i) => c.isUp(i))).toBe(true);
  });

  it("catchup and membership act on the workload shard's replicas, and membership on its group (5 nodes, the shard on 3)", async () => {
    // The workload's shard is group 7, on nodes 1-3.
    class Sharded extends ScriptedCluster {
      override async leader(): Promise<LeaderInfo | null> {
        const l = await super.leader();
        return l && { ...l, groupId: 7 };
      }
      override async groupStatus(id: number): Promise<GroupInfo | null> {
        const g = await super.groupStatus(id);
        // Nodes 4 and 5 host another shard, whose log never compacts here.
        if (g !== null && id > 3) return { ...g, groupId: 9, firstIndex: 1, members: [] };
        return g && { ...g, groupId: 7, members: g.members.filter((m) => m.id <= 3) };
      }
    }
    for (let seed = 1; seed <= 3; seed++) {
      const c = new Sharded(1, 5);
      const ctx = context(c, seed);
      await (
        await runCatchup(ctx, 'follower')
      )();
      expect([2, 3]).toContain(Number(c.steps[0]!.split(' ')[1]));
      // The compaction it waits for is the shard's replicas' (not nodes 4 and 5's other shard).
      expect(ctx.log.events.filter((e) => e.type === 'error').map((e) => e.description)).toEqual([]);
    }
    expect(pickFollower(new ScriptedCluster(1, 5), 1, new Random(3), [2], [1, 2, 3])).toBe(3);
    // Membership away likewise: it stops and removes one of the shard's followers, and no second one (the
    // shard has 3 replicas, not 5: a second removal would leave the leader alone).
    for (let seed = 1; seed <= 4; seed++) {
      const c = new Sharded(1, 5);
      await (
        await runMembershipAway(context(c, seed))
      )();
      const x = Number(c.steps[0]!.split(' ')[1]);
      expect([2, 3]).toContain(x);
      expect(c.steps.slice(0, 4)).toEqual([`kill ${x}`, `remove ${x}`, `restart ${x}`, `add ${x}`]);
      // Both calls name the shard's group (without it, a node changes the first data shard, group 1).
      expect(c.memberGroups).toEqual([7, 7]);
    }
    // The plain membership fault: a member of the shard leaves its group and comes back, by the group's id.
    const removed = new Set<string>();
    for (let seed = 1; seed <= 6; seed++) {
      const c = new Sharded(1, 5);
      const log = new NemesisLog(null, () => 0);
      const plan = [{ startMs: 0, endMs: 0, fault: { kind: 'membership' as const, away: false } }];
      await new NemesisRunner(c as unknown as NemesisCluster, plan, new Random(seed), log, () => 1e9).run();
      expect(log.events.filter((e) => e.type === 'error')).toEqual([]);
      const target = c.steps[0]!;
      expect(c.steps).toEqual([target, target.replace('remove', 'add')]);
      removed.add(target);
      expect(c.memberGroups).toEqual([7, 7]);
    }
    expect([...removed].sort()).toEqual(['remove 1', 'remove 2', 'remove 3']);
  }, 40_000);

  it('catchup with the leader as victim kills the leader during the catch-up and restarts it', async () => {
    const c = new ScriptedCluster(2);
    const undo = await runCatchup(context(c, 5), 'leader');
    await undo();
    expect(c.steps[2]).toBe('kill 2');
    expect(c.steps[3]).toBe('restart 2');
    expect(c.ids.every((i) => c.isUp(i))).toBe(true);
  });

  it('membership away: stops a follower, removes it, compacts, restarts it and re-adds it', async () => {
    const c = new ScriptedCluster(1);
    const ctx = context(c, 6);
    const undo = await runMembershipAway(ctx);
    await undo();
    const x = Number(c.steps[0]!.split(' ')[1]);
    expect(c.steps).toEqual([`kill ${x}`, `remove ${x}`, `restart ${x}`, `add ${x}`]);
    expect(c.removed.size).toBe(0);
    expect(ctx.log.events.map((e) => e.description).join('\n')).toMatch(/compacted past 100/);
    expect(c.ids.every((i) => c.isUp(i))).toBe(true);
  });

  it('membership away with 5 nodes: also removes and re-adds a live follower, then the majority of the two must elect', async () => {
    const c = new ScriptedCluster(1, 5);
    const ctx = context(c, 7);
    await (
      await runMembershipAway(ctx)
    )();
    const x = Number(c.steps[0]!.split(' ')[1]);
    const y = Number(c.steps[2]!.split(' ')[1]);
    expect(c.steps.slice(0, 6)).toEqual([
      `kill ${x}`,
      `remove ${x}`,
      `remove ${y}`,
      `add ${y}`,
      `restart ${x}`,
      `add ${x}`,
    ]);
    expect(c.steps[6]).toMatch(/^kill \d,\d$/);
    expect(c.steps[6]).toContain('1'); // the leader is among the killed
    expect(c.steps[7]).toBe(`restart ${c.steps[6]!.slice(5)}`);
    expect(ctx.log.events.filter((e) => e.check).map((e) => e.check)).toEqual(['ok']);
    expect(availabilityVerdict(ctx.log.events)).toMatchObject({ valid: true, summary: '1 nemesis checks passed' });
    expect(c.ids.every((i) => c.isUp(i))).toBe(true);
  }, 40_000);

  it('membership away with 5 nodes fails the availability verdict when that majority elects no leader', async () => {
    class NoElection extends ScriptedCluster {
      private stuck = false;
      override async kill(ids: readonly number[]): Promise<void> {
        await super.kill(ids);
        if (ids.length > 1) this.stuck = true;
      }
      override restart(ids: readonly number[]): void {
        super.restart(ids);
        this.stuck = false;
      }
      override async leader(): Promise<LeaderInfo | null> {
        return this.stuck ? null : super.leader();
      }
    }
    const c = new NoElection(1, 5);
    const ctx = { ...context(c, 7), electMs: 1000 };
    await (
      await runMembershipAway(ctx)
    )();
    const verdict = availabilityVerdict(ctx.log.events);
    expect(verdict?.valid).toBe(false);
    expect(verdict?.summary).toMatch(/1 of 1 nemesis checks failed: majority [\d,]+ elected no leader within 1 s/);
    expect(c.ids.every((i) => c.isUp(i))).toBe(true);
  }, 20_000);
});
